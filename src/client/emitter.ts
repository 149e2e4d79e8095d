type Listener = (...args: never[]) => void;

/** A minimal typed event emitter: typed arguments, no Event objects, same code in browsers and Node. */
export class Emitter<Events extends Record<string, unknown[]>> {
  readonly #listeners = new Map<keyof Events, Set<Listener>>();

  /** Adds a listener; returns a function that removes it. */
  on<E extends keyof Events>(event: E, listener: (...args: Events[E]) => void): () => void {
    let set = this.#listeners.get(event);
    if (!set) this.#listeners.set(event, (set = new Set()));
    const stored = listener as unknown as Listener;
    set.add(stored);
    return () => void set.delete(stored);
  }

  protected emit<E extends keyof Events>(event: E, ...args: Events[E]): void {
    for (const listener of [...(this.#listeners.get(event) ?? [])]) {
      try {
        (listener as unknown as (...a: Events[E]) => void)(...args);
      } catch (err) {
        // A failing listener must not break the client's own state handling; report it as an uncaught error instead.
        queueMicrotask(() => {
          throw err;
        });
      }
    }
  }
}

/** Runs a timer that does not keep a Node process alive (browsers have no unref). */
export function backgroundTimeout(fn: () => void, ms: number): ReturnType<typeof setTimeout> {
  const timer = setTimeout(fn, Math.max(0, Math.min(ms, 2_147_483_647)));
  (timer as { unref?: () => void }).unref?.();
  return timer;
}
