import { execFile } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { expect } from 'chai';
import bcrypt from 'bcryptjs';
import { hash as nativeHash, verify as nativeVerify } from '@node-rs/bcrypt';
import { hash as argon2Hash } from '@node-rs/argon2';
import {
  ARGON2_DEFAULTS,
  ARGON2_MAX_BYTES,
  AuthError,
  createArgon2Hasher,
  createAuthRouter,
  createBcryptHasher,
  createPasswordHasher,
  type AuthRouterOptions,
  type ManagedPasswordHasher,
  type PasswordOptions,
} from 'gatehouse-auth';
import { createKnexStorage } from 'gatehouse-auth/adapters/knex';
import { SECRET } from '../helpers/harness.js';
import { rejection } from '../helpers/rejection.js';

const run = promisify(execFile);
const root = fileURLToPath(new URL('../..', import.meta.url));

/** Small argon2id parameters, so the suite stays fast; the defaults are checked separately. */
const FAST_ARGON2 = { memoryCost: 1024, timeCost: 1, parallelism: 1 } as const;

describe('password hashers: bcrypt (native and bcryptjs) and argon2id', () => {
  const made: ManagedPasswordHasher[] = [];
  const make = (options: PasswordOptions, logger = { warn: () => {}, error: () => {} }) => {
    const hasher = createPasswordHasher(options, logger);
    made.push(hasher);
    return hasher;
  };
  after(async () => {
    await Promise.all(made.map((h) => h.close()));
  });

  describe('choosing the implementation', () => {
    it("'auto' (the default) takes @node-rs/bcrypt when it is installed, as here; 'js' takes bcryptjs on worker threads", async () => {
      const auto = make({ cost: 4 });
      expect(auto.algorithm).to.equal('bcrypt');
      expect(auto.implementation).to.equal('native');
      const js = make({ cost: 4, implementation: 'js', threads: 1 });
      expect(js.implementation).to.equal('js');
      await js.hash('starts a thread');
      expect((js as unknown as { threads: number }).threads).to.equal(1);
      expect(make({ cost: 4, implementation: 'native' }).implementation).to.equal('native');
      expect(createBcryptHasher({ cost: 4, threads: 0 }).implementation).to.equal('js');
    });

    it('native and bcryptjs verify each other’s hashes, at 72 bytes and in multi-byte UTF-8 too', async () => {
      const native = make({ cost: 4, implementation: 'native' });
      const js = make({ cost: 4, implementation: 'js', threads: 1 });
      for (const password of ['correct horse battery', 'a'.repeat(72), '€'.repeat(24), 'pässwörd ✓ 密码']) {
        const fromNative = await native.hash(password);
        const fromJs = await js.hash(password);
        expect(fromNative).to.match(/^\$2b\$04\$/);
        expect(fromJs).to.match(/^\$2b\$04\$/);
        expect(await js.verify(password, fromNative), `js verifies native: ${password}`).to.equal(true);
        expect(await native.verify(password, fromJs), `native verifies js: ${password}`).to.equal(true);
        expect(bcrypt.compareSync(password, fromNative)).to.equal(true);
        expect(await nativeVerify(password, fromJs)).to.equal(true);
        expect(await js.verify(`${password.slice(0, -1)}x`, fromNative)).to.equal(false);
        expect(await native.verify(`${password.slice(0, -1)}x`, fromJs)).to.equal(false);
      }
      // A $2a$ hash (older libraries) verifies with both.
      const twoA = bcrypt.hashSync('legacy password', bcrypt.genSaltSync(4)).replace(/^\$2b\$/, '$2a$');
      expect(await native.verify('legacy password', twoA)).to.equal(true);
      expect(await js.verify('legacy password', twoA)).to.equal(true);
    });

    it('the native bcrypt keeps the 72-byte rule: 73 bytes is password_too_long at hash, false at verify', async () => {
      const native = make({ cost: 4, implementation: 'native' });
      const err = await rejection(native.hash('a'.repeat(73)));
      expect(err).to.be.instanceOf(AuthError);
      expect((err as AuthError).code).to.equal('password_too_long');
      // The native library would read only the first 72 bytes; we refuse instead.
      const hash72 = await nativeHash('a'.repeat(72), 4);
      expect(await native.verify('a'.repeat(73), hash72)).to.equal(false);
    });

    it('the native bcrypt runs off the event loop: timers fire while hashes at cost 12 run', async () => {
      const native = make({ cost: 12, implementation: 'native' });
      let ticks = 0;
      const timer = setInterval(() => (ticks += 1), 1);
      try {
        await Promise.all([native.hash('one'), native.hash('two')]);
      } finally {
        clearInterval(timer);
      }
      expect(ticks).to.be.greaterThan(5);
    });
  });

  describe('argon2id', () => {
    it('hashes in PHC form with the configured parameters and verifies', async () => {
      const argon2 = make({ algorithm: 'argon2id', ...FAST_ARGON2 });
      expect(argon2.algorithm).to.equal('argon2id');
      const hash = await argon2.hash('correct horse battery');
      expect(hash).to.match(/^\$argon2id\$v=19\$m=1024,t=1,p=1\$/);
      expect(await argon2.verify('correct horse battery', hash)).to.equal(true);
      expect(await argon2.verify('correct horse batterY', hash)).to.equal(false);
      expect(await argon2.hash('correct horse battery')).not.to.equal(hash);
      expect(argon2.needsRehash(hash)).to.equal(false);
    });

    it("defaults to OWASP's m = 19 MiB, t = 2, p = 1", async () => {
      expect(ARGON2_DEFAULTS).to.deep.equal({ memoryCost: 19456, timeCost: 2, parallelism: 1 });
      const hash = await make({ algorithm: 'argon2id' }).hash('x'.repeat(10));
      expect(hash).to.match(/^\$argon2id\$v=19\$m=19456,t=2,p=1\$/);
    });

    it('needsRehash: true for another algorithm or other parameters, false for its own', async () => {
      const argon2 = make({ algorithm: 'argon2id', ...FAST_ARGON2 });
      const bcryptHasher = make({ cost: 4 });
      const argonHash = await argon2.hash('pw');
      const bcryptHash = await bcryptHasher.hash('pw');
      expect(argon2.needsRehash(bcryptHash)).to.equal(true);
      expect(bcryptHasher.needsRehash(argonHash)).to.equal(true);
      expect(make({ algorithm: 'argon2id', ...FAST_ARGON2, memoryCost: 2048 }).needsRehash(argonHash)).to.equal(true);
      expect(make({ algorithm: 'argon2id', ...FAST_ARGON2, timeCost: 2 }).needsRehash(argonHash)).to.equal(true);
      expect(make({ algorithm: 'argon2id', ...FAST_ARGON2, parallelism: 2 }).needsRehash(argonHash)).to.equal(true);
      // argon2i is not argon2id, even with the same parameters.
      const argon2i = await argon2Hash('pw', { algorithm: 1, ...FAST_ARGON2 });
      expect(argon2i).to.match(/^\$argon2i\$/);
      expect(argon2.needsRehash(argon2i)).to.equal(true);
      expect(argon2.needsRehash('not a hash')).to.equal(true);
    });

    it('every hasher verifies both formats: argon2id verifies bcrypt hashes (native and js), bcrypt verifies argon2id hashes', async () => {
      const argon2 = make({ algorithm: 'argon2id', ...FAST_ARGON2 });
      const argonHash = await argon2.hash('shared password');
      for (const other of [make({ cost: 4, implementation: 'native' }), make({ cost: 4, implementation: 'js', threads: 1 }), createBcryptHasher({ cost: 4, threads: 0 })]) {
        const bcryptHash = await other.hash('shared password');
        expect(await argon2.verify('shared password', bcryptHash)).to.equal(true);
        expect(await argon2.verify('shared passworD', bcryptHash)).to.equal(false);
        expect(await other.verify('shared password', argonHash)).to.equal(true);
        expect(await other.verify('shared passworD', argonHash)).to.equal(false);
      }
      const a = createArgon2Hasher(FAST_ARGON2);
      expect(await a.verify('shared password', argonHash)).to.equal(true);
      await a.close();
    });

    it(`keeps a maximum of ${ARGON2_MAX_BYTES} UTF-8 bytes; a bcrypt hash met under argon2id keeps the 72-byte rule`, async () => {
      const argon2 = make({ algorithm: 'argon2id', ...FAST_ARGON2 });
      const long = 'a'.repeat(ARGON2_MAX_BYTES);
      const hash = await argon2.hash(long);
      expect(await argon2.verify(long, hash)).to.equal(true);
      const err = await rejection(argon2.hash(`${long}a`));
      expect((err as AuthError).code).to.equal('password_too_long');
      expect((err as AuthError).message).to.contain(String(ARGON2_MAX_BYTES));
      expect(await argon2.verify(`${long}a`, hash)).to.equal(false);
      // 100 bytes is fine for argon2id, but never matches a bcrypt hash of its first 72.
      const hundred = 'b'.repeat(100);
      expect(await argon2.verify(hundred, await argon2.hash(hundred))).to.equal(true);
      expect(await argon2.verify(hundred, bcrypt.hashSync('b'.repeat(72), 4))).to.equal(false);
    });

    it('dummyHash uses the configured algorithm and parameters, so unknown users cost what known ones do', async () => {
      const argon2 = make({ algorithm: 'argon2id', ...FAST_ARGON2 });
      const dummy = await argon2.dummyHash();
      expect(dummy).to.match(/^\$argon2id\$v=19\$m=1024,t=1,p=1\$/);
      expect(argon2.needsRehash(dummy)).to.equal(false);
      expect(await argon2.dummyHash()).to.equal(dummy);
      expect(await make({ cost: 5 }).dummyHash()).to.match(/^\$2b\$05\$/);
    });
  });

  describe('options', () => {
    const typeErrors: Array<[PasswordOptions, RegExp]> = [
      [{ algorithm: 'scrypt' } as unknown as PasswordOptions, /passwords\.algorithm must be 'bcrypt' or 'argon2id'/],
      [{ implementation: 'fast' } as unknown as PasswordOptions, /passwords\.implementation must be 'auto', 'native' or 'js'/],
      [{ algorithm: 'argon2id', cost: 10 } as unknown as PasswordOptions, /passwords\.cost does not apply to algorithm 'argon2id'/],
      [{ algorithm: 'argon2id', implementation: 'native' } as unknown as PasswordOptions, /passwords\.implementation does not apply/],
      [{ memoryCost: 19456 } as unknown as PasswordOptions, /passwords\.memoryCost does not apply to algorithm 'bcrypt'/],
      [{ algorithm: 'argon2id', memoryCost: 7 }, /passwords\.memoryCost must be an integer from 8 to 1048576/],
      [{ algorithm: 'argon2id', memoryCost: 1_048_577 }, /passwords\.memoryCost/],
      [{ algorithm: 'argon2id', parallelism: 4, memoryCost: 31 }, /passwords\.memoryCost must be an integer from 32/],
      [{ algorithm: 'argon2id', timeCost: 0 }, /passwords\.timeCost must be an integer from 1 to 100/],
      [{ algorithm: 'argon2id', timeCost: 1.5 }, /passwords\.timeCost/],
      [{ algorithm: 'argon2id', parallelism: 256 }, /passwords\.parallelism must be an integer from 1 to 255/],
      [{ algorithm: 'argon2id', memoryCost: '19456' } as unknown as PasswordOptions, /passwords\.memoryCost/],
      [{ cost: 3, implementation: 'native' }, /passwords\.cost/],
    ];
    for (const [options, message] of typeErrors) {
      it(`createAuthRouter refuses passwords: ${JSON.stringify(options)} with a TypeError`, async () => {
        const storage = createKnexStorage({ filename: ':memory:' });
        try {
          expect(() => createAuthRouter({ storage, tokens: { secret: SECRET }, passwords: options } as AuthRouterOptions)).to.throw(TypeError, message);
        } finally {
          await storage.close();
        }
      });
    }
  });

  describe('without the optional packages installed (module resolution hides them in a child process)', () => {
    /** Runs an ESM script with @node-rs/bcrypt and @node-rs/argon2 unresolvable, as in a host that has not installed them. */
    async function withoutNative(lines: string[]): Promise<string> {
      const { stdout } = await run(
        process.execPath,
        ['--import', 'tsx', '--import', './test/helpers/hide-packages.mjs', '--conditions=gatehouse-source', '--input-type=module', '-e', lines.join('\n')],
        { cwd: root, timeout: 20_000, env: { ...process.env, GATEHOUSE_HIDE_PACKAGES: '@node-rs/bcrypt,@node-rs/argon2' } },
      );
      return stdout.trim();
    }

    it("'auto' falls back to bcryptjs; 'native' and argon2id are TypeErrors naming the package to install", async () => {
      const out = await withoutNative([
        "import { createAuthRouter, createPasswordHasher } from 'gatehouse-auth';",
        "import { createKnexStorage } from 'gatehouse-auth/adapters/knex';",
        "const storage = createKnexStorage({ filename: ':memory:' });",
        'const secret = "x".repeat(40);',
        "const auto = createPasswordHasher({ cost: 4, threads: 1 });",
        "const hash = await auto.hash('pw');",
        "console.log('auto', auto.implementation, hash.slice(0, 7), await auto.verify('pw', hash), auto.threads);",
        'await auto.close();',
        "for (const passwords of [{ implementation: 'native' }, { algorithm: 'argon2id' }]) {",
        '  try { createAuthRouter({ storage, tokens: { secret }, passwords }); console.log("no error"); }',
        "  catch (err) { console.log(err.name + ': ' + err.message); }",
        '}',
        'await storage.close();',
      ]);
      const lines = out.split('\n');
      expect(lines[0]).to.equal('auto js $2b$04$ true 1');
      expect(lines[1]).to.match(/^TypeError: passwords\.implementation is 'native' but @node-rs\/bcrypt is not installed: run `npm install @node-rs\/bcrypt`/);
      expect(lines[2]).to.match(/^TypeError: passwords\.algorithm is 'argon2id' but @node-rs\/argon2 is not installed: run `npm install @node-rs\/argon2`/);
    });

    it('a stored argon2id hash met without @node-rs/argon2 fails that verify with a logged error; the process goes on', async () => {
      const argonHash = await createArgon2Hasher(FAST_ARGON2).hash('pw');
      const out = await withoutNative([
        "import { createPasswordHasher } from 'gatehouse-auth';",
        'const logged = [];',
        'const logger = { warn: (m) => logged.push(m), error: (m, f) => logged.push(m + " " + f.error) };',
        "const hasher = createPasswordHasher({ cost: 4, threads: 0 }, logger);",
        `console.log('verify', await hasher.verify('pw', ${JSON.stringify(argonHash)}), hasher.needsRehash(${JSON.stringify(argonHash)}));`,
        "console.log('bcrypt still works', await hasher.verify('pw', await hasher.hash('pw')));",
        'console.log(JSON.stringify(logged));',
      ]);
      const [verify, still, logged] = out.split('\n');
      expect(verify).to.equal('verify false true');
      expect(still).to.equal('bcrypt still works true');
      const messages = JSON.parse(logged as string) as string[];
      expect(messages).to.have.length(1);
      expect(messages[0]).to.contain('argon2').and.to.contain('npm install @node-rs/argon2');
    });
  });
});
