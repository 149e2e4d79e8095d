import autocannon from 'autocannon';

/** One autocannon run, reduced to what the report shows. */
export interface LoadSummary {
  /** 2xx responses per second: only successes count. */
  rps: number;
  /** Latency percentiles over all responses, in ms. */
  p50: number;
  p99: number;
  /** Non-2xx responses plus connection errors and timeouts. */
  errors: number;
  non2xx: number;
  /** Connection errors, timeouts included. */
  socketErrors: number;
  timeouts: number;
  ok: number;
  seconds: number;
}

export interface LoadOptions {
  url: string;
  connections: number;
  /** Seconds. */
  duration: number;
  method?: 'GET' | 'POST';
  headers?: Record<string, string>;
  body?: string;
  /** Per-connection setup, for requests that depend on the previous response. */
  setupClient?: (client: autocannon.Client) => void;
}

export interface RunningLoad {
  done: Promise<LoadSummary>;
  stop(): void;
}

export function startLoad(options: LoadOptions): RunningLoad {
  let instance: autocannon.Instance | undefined;
  const done = new Promise<LoadSummary>((resolve, reject) => {
    instance = autocannon(
      {
        url: options.url,
        connections: options.connections,
        duration: options.duration,
        method: options.method ?? 'GET',
        ...(options.headers ? { headers: options.headers } : {}),
        ...(options.body !== undefined ? { body: options.body } : {}),
        ...(options.setupClient ? { setupClient: options.setupClient } : {}),
        timeout: 10,
      },
      (err: unknown, result: autocannon.Result) => {
        if (err) return reject(err instanceof Error ? err : new Error(String(err)));
        resolve(summarize(result));
      },
    );
  });
  return { done, stop: () => instance?.stop() };
}

export function runLoad(options: LoadOptions): Promise<LoadSummary> {
  return startLoad(options).done;
}

function summarize(result: autocannon.Result): LoadSummary {
  const ok = result['2xx'];
  const seconds = result.duration;
  return {
    rps: seconds > 0 ? ok / seconds : 0,
    p50: result.latency.p50,
    p99: result.latency.p99,
    errors: result.non2xx + result.errors,
    non2xx: result.non2xx,
    socketErrors: result.errors,
    timeouts: result.timeouts,
    ok,
    seconds,
  };
}
