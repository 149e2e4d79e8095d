import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { resolve } from 'node:path';

const root = resolve(import.meta.dirname, '../..');

/** A real example-app server process. */
export interface Instance {
  /** http://127.0.0.1:<port> */
  url: string;
  /** Everything it printed, for failure messages. */
  output(): string;
  stop(): Promise<void>;
}

/**
 * Starts `example-app/server.ts` in its own Node process, as `npm run example` does,
 * on 127.0.0.1 and a port the OS picks, and resolves with its URL once it logs that
 * it listens. `env` is added to this process's environment.
 */
export async function startInstance(env: Record<string, string>, timeoutMs = 30_000): Promise<Instance> {
  const child = spawn(process.execPath, ['--import', 'tsx', '--conditions=gatehouse-source', 'example-app/server.ts'], {
    cwd: root,
    env: { ...process.env, HOST: '127.0.0.1', PORT: '0', MQTT_WS_PORT: 'off', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  // Should this test process end without stopping it (a crash, a failed hook), do not leave it running.
  const killOnExit = () => child.kill('SIGKILL');
  process.once('exit', killOnExit);
  child.once('exit', () => process.off('exit', killOnExit));
  let output = '';
  child.stdout.setEncoding('utf8').on('data', (chunk: string) => (output += chunk));
  child.stderr.setEncoding('utf8').on('data', (chunk: string) => (output += chunk));

  const url = await new Promise<string>((resolveUrl, reject) => {
    const timer = setTimeout(() => fail(new Error(`no "listening on" within ${timeoutMs} ms`)), timeoutMs);
    const onData = () => {
      const match = /listening on (http:\/\/127\.0\.0\.1:\d+)/.exec(output);
      if (!match?.[1]) return;
      cleanup();
      resolveUrl(match[1]);
    };
    const onExit = (code: number | null, signal: string | null) => fail(new Error(`exited early (code ${code}, signal ${signal})`));
    const cleanup = () => {
      clearTimeout(timer);
      child.stdout.off('data', onData);
      child.off('exit', onExit);
    };
    const fail = (err: Error) => {
      cleanup();
      child.kill('SIGKILL');
      reject(new Error(`example server: ${err.message}\n${output}`));
    };
    child.stdout.on('data', onData);
    child.on('exit', onExit);
  });

  return {
    url,
    output: () => output,
    stop: () => stopChild(child),
  };
}

/** SIGTERM (the server shuts down gracefully), then SIGKILL if it has not exited within 5 s. */
async function stopChild(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = once(child, 'exit');
  child.kill('SIGTERM');
  const timer = setTimeout(() => child.kill('SIGKILL'), 5_000);
  await exited;
  clearTimeout(timer);
}
