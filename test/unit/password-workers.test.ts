import { execFile } from 'node:child_process';
import dc from 'node:diagnostics_channel';
import { readdirSync, readFileSync } from 'node:fs';
import os from 'node:os';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import type { Worker } from 'node:worker_threads';
import { expect } from 'chai';
import bcrypt from 'bcryptjs';
import express from 'express';
import request from 'supertest';
import { createAuthRouter, createBcryptHasher, type BcryptHasher } from 'gatehouse-auth';
import { createKnexStorage } from 'gatehouse-auth/adapters/knex';
import { PASSWORD, SECRET, signin, signupWithOrg, startHarness } from '../helpers/harness.js';
import { rejection } from '../helpers/rejection.js';

const run = promisify(execFile);
const root = fileURLToPath(new URL('../..', import.meta.url));

/** Records the worker threads started while `fn` runs (Node's `worker_threads` diagnostics channel), and which of them have exited. */
async function watchWorkers<T>(fn: (seen: { started: number; exited: number }) => Promise<T>): Promise<{ result: T; started: number; exited: number }> {
  const seen = { started: 0, exited: 0 };
  const onWorker = (message: unknown) => {
    seen.started += 1;
    (message as { worker: Worker }).worker.once('exit', () => {
      seen.exited += 1;
    });
  };
  dc.subscribe('worker_threads', onWorker);
  try {
    const result = await fn(seen);
    return { result, ...seen };
  } finally {
    dc.unsubscribe('worker_threads', onWorker);
  }
}

describe('password hashing on worker threads', () => {
  const hashers: BcryptHasher[] = [];
  const make = (options: Parameters<typeof createBcryptHasher>[0]) => {
    const hasher = createBcryptHasher(options);
    hashers.push(hasher);
    return hasher;
  };
  after(async () => {
    await Promise.all(hashers.map((h) => h.close()));
  });

  it('hashes made on a worker verify on the main thread, and the other way round', async () => {
    const threaded = make({ cost: 4, threads: 2 });
    const inline = make({ cost: 4, threads: 0 });

    const fromWorker = await threaded.hash('worker-made password');
    expect(fromWorker).to.match(/^\$2[aby]\$04\$/);
    expect(bcrypt.compareSync('worker-made password', fromWorker)).to.equal(true);
    expect(await inline.verify('worker-made password', fromWorker)).to.equal(true);
    expect(await inline.verify('worker-made passworD', fromWorker)).to.equal(false);

    const fromMain = bcrypt.hashSync('main-made password', 4);
    expect(await threaded.verify('main-made password', fromMain)).to.equal(true);
    expect(await threaded.verify('main-made passworD', fromMain)).to.equal(false);
    const fromInline = await inline.hash('inline password');
    expect(await threaded.verify('inline password', fromInline)).to.equal(true);
    // Not a bcrypt hash: false, as bcryptjs says on the main thread.
    expect(await threaded.verify('x', 'not-a-hash')).to.equal(false);
  });

  it('concurrent hashes and verifies all come back right and to the right caller', async () => {
    const hasher = make({ cost: 4, threads: 2 });
    const passwords = Array.from({ length: 24 }, (_, i) => `password number ${i} ${'x'.repeat(i)}`);
    const hashes = await Promise.all(passwords.map((p) => hasher.hash(p)));
    expect(new Set(hashes).size).to.equal(passwords.length);
    expect(hasher.threads).to.be.within(1, 2);
    const own = await Promise.all(passwords.map((p, i) => hasher.verify(p, hashes[i] as string)));
    const crossed = await Promise.all(passwords.map((p, i) => hasher.verify(p, hashes[(i + 1) % hashes.length] as string)));
    expect(own.every((ok) => ok === true)).to.equal(true);
    expect(crossed.every((ok) => ok === false)).to.equal(true);
    passwords.forEach((p, i) => expect(bcrypt.compareSync(p, hashes[i] as string), p).to.equal(true));
  });

  it('the 72-byte rule still applies in front of the workers', async () => {
    const hasher = make({ cost: 4, threads: 1 });
    const prefix = 'p'.repeat(72);
    const hash = await hasher.hash(prefix);
    expect(await hasher.verify(`${prefix}x`, hash)).to.equal(false);
    expect((await rejection(hasher.hash(`${prefix}x`))).message).to.match(/72 bytes/);
    expect(hasher.needsRehash(hash)).to.equal(false);
  });

  it('the pool starts no more threads than asked, and none until the first hash', async () => {
    const { started } = await watchWorkers(async () => {
      const hasher = make({ cost: 4, threads: 3 });
      expect(hasher.threads).to.equal(0);
      await Promise.all(Array.from({ length: 12 }, (_, i) => hasher.hash(`p${i}`)));
      expect(hasher.threads).to.be.within(1, 3);
    });
    expect(started).to.be.within(1, 3);
  });

  it('the event loop keeps turning during a burst: a setImmediate and a timer fire before any hash of the burst resolves', async () => {
    const hasher = make({ cost: 10, threads: 2 });
    const order: string[] = [];
    const { started } = await watchWorkers(async () => {
      const burst = Array.from({ length: 4 }, (_, i) => hasher.hash(`burst ${i}`).then(() => void order.push(`hash ${i}`)));
      setImmediate(() => order.push('immediate'));
      setTimeout(() => order.push('timer'), 0);
      await Promise.all(burst);
    });
    expect(started).to.equal(2);
    expect(order.slice(0, 2).sort()).to.deep.equal(['immediate', 'timer']);
    expect(order.filter((e) => e.startsWith('hash'))).to.have.length(4);
  });

  it('close() ends the threads and rejects what was still queued; the hasher starts new threads if used again', async () => {
    const hasher = make({ cost: 4, threads: 2 });
    const { started, exited } = await watchWorkers(async () => {
      await Promise.all([hasher.hash('a'), hasher.hash('b')]);
      expect(hasher.threads).to.equal(2);
      const pending = Array.from({ length: 6 }, (_, i) => hasher.hash(`queued ${i}`).then(() => 'done', (err: Error) => err.message));
      await hasher.close();
      expect(hasher.threads).to.equal(0);
      const outcomes = await Promise.all(pending);
      expect(outcomes.filter((o) => o !== 'done')).to.not.be.empty;
      outcomes.filter((o) => o !== 'done').forEach((o) => expect(o).to.match(/closed/));
    });
    expect(started).to.equal(2);
    expect(exited).to.equal(2);

    const again = await hasher.hash('after close');
    expect(await hasher.verify('after close', again)).to.equal(true);
    expect(hasher.threads).to.equal(1);
  });

  it('threads: 0 hashes on the main thread, with no worker started', async () => {
    const { started } = await watchWorkers(async () => {
      const hasher = make({ cost: 4, threads: 0 });
      const hash = await hasher.hash('inline only');
      expect(await hasher.verify('inline only', hash)).to.equal(true);
      expect(hasher.threads).to.equal(0);
      await hasher.close();
    });
    expect(started).to.equal(0);
  });

  it("on Linux the hashing threads run at nice +10 by default ('low'), and at the process's priority with 'normal'", async function () {
    if (process.platform !== 'linux') this.skip();
    /** The nice value of every thread of this process. */
    const niceValues = () =>
      readdirSync('/proc/self/task').map((task) => {
        const stat = readFileSync(`/proc/self/task/${task}/stat`, 'utf8');
        return Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[16]);
      });
    const base = os.getPriority();
    const lowered = () => niceValues().filter((n) => n === Math.min(base + 10, 19)).length;
    const before = lowered();

    const low = make({ cost: 4, threads: 1 });
    await low.hash('low priority');
    expect(lowered()).to.equal(before + 1);
    expect(os.getPriority()).to.equal(base);
    await low.close();
    expect(lowered()).to.equal(before);

    const normal = make({ cost: 4, threads: 1, threadPriority: 'normal' });
    await normal.hash('normal priority');
    expect(lowered()).to.equal(before);
    expect(() => createBcryptHasher({ threadPriority: 'high' as never })).to.throw(TypeError, /passwords\.threadPriority/);
  });

  it('refuses an invalid threads option', () => {
    for (const threads of [-1, 1.5, Number.NaN, 257, '2' as unknown as number]) {
      expect(() => createBcryptHasher({ threads }), String(threads)).to.throw(TypeError, /passwords\.threads/);
    }
    expect(() => createBcryptHasher({ threads: 0 })).not.to.throw();
  });

  it('an idle pool does not keep a process alive, and a pending hash keeps it alive until it is done', async () => {
    const script = [
      "import { createBcryptHasher } from 'gatehouse-auth';",
      'const hasher = createBcryptHasher({ cost: 4, threads: 2 });',
      "await hasher.hash('warm up');",
      // Not awaited: only the worker's own ref keeps the process running until the reply.
      "hasher.hash('pending').then((h) => hasher.verify('pending', h)).then((ok) => console.log('verified', ok));",
    ].join('\n');
    const { stdout } = await run(process.execPath, ['--import', 'tsx', '--conditions=gatehouse-source', '--input-type=module', '-e', script], {
      cwd: root,
      timeout: 15_000,
    });
    expect(stdout.trim()).to.equal('verified true');
  });

  describe('through the router', () => {
    it('passwords: { cost, threads: 0 } signs up and in without worker threads', async () => {
      const { started } = await watchWorkers(async () => {
        const h = await startHarness({ passwords: { cost: 4, threads: 0, implementation: 'js' } });
        try {
          const u = await signupWithOrg(h.app);
          expect((await request(h.app).post('/auth/signin').send({ email: u.email, password: `${PASSWORD}?` })).status).to.equal(401);
        } finally {
          await h.close();
        }
      });
      expect(started).to.equal(0);
    });

    it('auth.close() ends the worker threads of the hasher the router made', async () => {
      const storage = createKnexStorage({ filename: ':memory:' });
      const { started, exited } = await watchWorkers(async (seen) => {
        const auth = createAuthRouter({ storage, tokens: { secret: SECRET }, passwords: { cost: 4, threads: 2, implementation: 'js' }, logger: { warn: () => {}, error: () => {} } });
        const app = express();
        app.use('/auth', auth);
        await auth.ready();
        const u = await signupWithOrg(app);
        await signin(app, u.email);
        expect(seen.started).to.be.within(1, 2);
        expect(seen.exited).to.equal(0);
        await auth.close();
      });
      await storage.close();
      expect(started).to.be.within(1, 2);
      expect(exited).to.equal(started);
    });

    it('auth.close() leaves a hasher passed in alone', async () => {
      const storage = createKnexStorage({ filename: ':memory:' });
      const hasher = make({ cost: 4, threads: 1 });
      const auth = createAuthRouter({ storage, tokens: { secret: SECRET }, passwords: hasher, logger: { warn: () => {}, error: () => {} } });
      try {
        const app = express();
        app.use('/auth', auth);
        await auth.ready();
        await signupWithOrg(app);
        expect(hasher.threads).to.equal(1);
        await auth.close();
        expect(hasher.threads).to.equal(1);
      } finally {
        await storage.close();
      }
    });
  });
});
