import type { Logger } from '../ports.js';

/**
 * Runs an outbox pass (mail, webhook deliveries) on a timer: every `intervalMs`, and
 * shortly after something is queued. Never two passes at once in this process; the
 * timer is unref'd so it does not keep the process alive. `label` names the outbox in the log.
 */
export class OutboxWorker {
  private timer: NodeJS.Timeout | undefined;
  private running: Promise<void> | undefined;
  private stopped = true;
  private again = false;

  constructor(
    private readonly pass: () => Promise<number>,
    private readonly intervalMs: number,
    private readonly logger: Logger,
    private readonly label: string,
  ) {}

  start(): void {
    if (!this.stopped) return;
    this.stopped = false;
    this.schedule(0);
  }

  /** A mail (a webhook) was queued: deliver soon rather than at the next interval (its transaction may still be committing). */
  kick(): void {
    if (this.stopped) return;
    if (this.running) {
      this.again = true;
      return;
    }
    this.schedule(100);
  }

  /** Stops the timer and waits for a pass in progress. */
  async stop(): Promise<void> {
    this.stopped = true;
    clearTimeout(this.timer);
    this.timer = undefined;
    await this.running;
  }

  private schedule(delayMs: number): void {
    clearTimeout(this.timer);
    this.timer = setTimeout(() => void this.run(), delayMs);
    this.timer.unref();
  }

  private async run(): Promise<void> {
    if (this.stopped || this.running) return;
    this.again = false;
    this.running = this.pass().then(
      () => undefined,
      (err: unknown) => this.logger.warn(`gatehouse: ${this.label} pass failed`, { error: (err as Error).message }),
    );
    await this.running;
    this.running = undefined;
    if (!this.stopped) this.schedule(this.again ? 100 : this.intervalMs);
  }
}
