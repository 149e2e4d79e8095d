import { Worker } from 'node:worker_threads';

export type BcryptTask = { op: 'hash'; password: string; cost: number } | { op: 'compare'; password: string; hash: string };

interface Job {
  id: number;
  task: BcryptTask;
  resolve: (value: string | boolean) => void;
  reject: (err: Error) => void;
}

interface Slot {
  worker: Worker;
  job: Job | undefined;
}

/** The worker script: plain JavaScript next to this module, in src/ and (copied by the build) in dist/. */
const WORKER_SCRIPT = new URL('./bcrypt-worker.js', import.meta.url);

/**
 * A small pool of worker threads running bcryptjs, with a FIFO queue in front.
 * Threads start on demand, up to `size`; each runs one task at a time. A thread is
 * ref'd only while it has a task in flight, so an idle pool never keeps the process
 * alive, and a pending hash never lets it exit early. `close()` ends every thread;
 * the pool starts new ones if it is used again.
 */
export class BcryptWorkerPool {
  private readonly slots = new Set<Slot>();
  private readonly idle: Slot[] = [];
  private queue: Job[] = [];
  private head = 0;
  private nextId = 1;

  /**
   * @param size most threads at once
   * @param nice added to each thread's nice value on Linux (0 to 19): under CPU
   *   contention the event loop then wins over hashing. Ignored on other systems,
   *   where a process-wide priority is all there is.
   */
  constructor(
    private readonly size: number,
    private readonly nice = 0,
  ) {}

  /** Threads running now (busy or idle). */
  get threads(): number {
    return this.slots.size;
  }

  run(task: BcryptTask): Promise<string | boolean> {
    return new Promise((resolve, reject) => {
      this.queue.push({ id: this.nextId++, task, resolve, reject });
      this.dispatch();
    });
  }

  /** Ends every thread. Tasks still queued or in flight are rejected. */
  async close(): Promise<void> {
    const closed = new Error('the password hasher was closed');
    const pending = this.queue.slice(this.head);
    this.queue = [];
    this.head = 0;
    for (const job of pending) job.reject(closed);
    const slots = [...this.slots];
    this.slots.clear();
    this.idle.length = 0;
    await Promise.all(
      slots.map((slot) => {
        slot.job?.reject(closed);
        slot.job = undefined;
        return slot.worker.terminate().catch(() => undefined);
      }),
    );
  }

  private dispatch(): void {
    while (this.head < this.queue.length) {
      let slot = this.idle.pop();
      let failure: unknown;
      if (!slot && this.slots.size < this.size) {
        try {
          slot = this.spawn();
        } catch (err) {
          failure = err;
        }
      }
      if (!slot && failure === undefined) return;
      const job = this.queue[this.head] as Job;
      this.queue[this.head] = undefined as never;
      this.head += 1;
      if (this.head === this.queue.length) {
        this.queue = [];
        this.head = 0;
      }
      if (!slot) {
        job.reject(workerFailure((failure as Error)?.message ?? String(failure)));
        continue;
      }
      slot.job = job;
      slot.worker.ref();
      slot.worker.postMessage({ id: job.id, ...job.task });
    }
  }

  private spawn(): Slot {
    // No execArgv: the script needs no loader or flags of the host (tsx, --conditions).
    const worker = new Worker(WORKER_SCRIPT, { execArgv: [], workerData: { nice: process.platform === 'linux' ? this.nice : 0 } });
    const slot: Slot = { worker, job: undefined };
    this.slots.add(slot);
    worker.unref();

    worker.on('message', (message: { id: number; value?: string | boolean; error?: string }) => {
      const job = slot.job;
      if (!job || job.id !== message.id) return;
      slot.job = undefined;
      worker.unref();
      if (message.error !== undefined) job.reject(new Error(message.error));
      else job.resolve(message.value as string | boolean);
      if (this.slots.has(slot)) this.idle.push(slot);
      this.dispatch();
    });

    const lost = (reason: string) => {
      if (!this.slots.delete(slot)) return;
      const at = this.idle.indexOf(slot);
      if (at !== -1) this.idle.splice(at, 1);
      const job = slot.job;
      slot.job = undefined;
      job?.reject(workerFailure(reason));
      // Queued tasks go to a new thread.
      this.dispatch();
    };
    worker.on('error', (err) => lost(err.message));
    worker.on('exit', (code) => lost(`exit code ${code}`));
    return slot;
  }
}

function workerFailure(reason: string): Error {
  return new Error(`gatehouse: the password hashing worker thread failed (${reason}); set passwords: { threads: 0 } to hash on the main thread instead`);
}
