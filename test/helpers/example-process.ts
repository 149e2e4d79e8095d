import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { once } from 'node:events';
import { resolve } from 'node:path';

const ROOT = resolve(import.meta.dirname, '../..');

export interface ExampleProcess {
  child: ChildProcess;
  /** http://127.0.0.1:<port>, as the example logs it. */
  url: string;
  port: number;
  /** Everything the process printed so far. */
  log(): string;
  /** SIGTERM, then SIGKILL after 10 s; resolves once it has exited. */
  stop(): Promise<void>;
}

/**
 * The example app as `npm run example` starts it (or `script`, a launcher around it), in a
 * child process on 127.0.0.1 with a free port, bcrypt cost 4 and a fresh secret; the
 * host's DATABASE_URL, APP_URL, SMTP_URL and PRESET are left out unless `env` sets them.
 * Resolves once it logs "listening on".
 */
export async function startExampleProcess(env: Record<string, string>, script = 'example-app/server.ts'): Promise<ExampleProcess> {
  const full: NodeJS.ProcessEnv = { ...process.env, HOST: '127.0.0.1', PORT: '0', AUTH_SECRET: randomBytes(48).toString('base64'), BCRYPT_COST: '4' };
  for (const name of ['DATABASE_URL', 'APP_URL', 'SMTP_URL', 'PRESET']) delete full[name];
  Object.assign(full, env);
  const child = spawn(process.execPath, ['--import', 'tsx', '--conditions=gatehouse-source', script], { cwd: ROOT, env: full, stdio: ['ignore', 'pipe', 'pipe'] });
  let output = '';
  const url = await new Promise<string>((resolveUrl, reject) => {
    const timer = setTimeout(() => reject(new Error(`the example did not start within 60 s:\n${output}`)), 60_000);
    const onData = (chunk: Buffer) => {
      output += chunk.toString();
      const match = /listening on (http:\/\/[^\s]+)/.exec(output);
      if (match?.[1]) {
        clearTimeout(timer);
        resolveUrl(match[1]);
      }
    };
    child.stdout?.on('data', onData);
    child.stderr?.on('data', onData);
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`the example exited with ${code}:\n${output}`));
    });
  });
  return {
    child,
    url,
    port: Number(new URL(url).port),
    log: () => output,
    async stop() {
      if (child.exitCode !== null || child.signalCode !== null) return;
      const exited = once(child, 'exit');
      child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), 10_000);
      await exited;
      clearTimeout(timer);
    },
  };
}
