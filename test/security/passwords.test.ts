import { expect } from 'chai';
import request from 'supertest';
import { expectProblem, PASSWORD, startHarness, unique, type Harness } from '../helpers/harness.js';

const signup = (h: Harness, password: string) => {
  const id = unique();
  return request(h.app)
    .post('/auth/signup')
    .send({ email: `pw-${id}@example.com`, password, action: 'create', orgCreateProps: { name: `Org ${id}`, slug: `pw-${id}` } });
};

/** Issue 11 item 15: new passwords are checked against common passwords, and an optional breach hook. */
describe('security: common and breached passwords (issue 11 item 15)', () => {
  it('item 15: sign-up refuses common passwords (any case, digits and symbols around a common word) with 400 weak_password', async () => {
    const h = await startHarness();
    try {
      for (const password of ['password1', 'Password1!', 'qwertyuiop', 'QWERTYUIOP', 'iloveyou', '2024dragon!', 'Summer2024!', 'P@ssw0rd']) {
        const res = await signup(h, password);
        expectProblem(res, 400, 'weak_password');
        expect(res.body.errors, password).to.deep.equal([{ path: 'password', message: 'is too common: it is on a list of passwords attackers try first' }]);
      }
      for (const password of [PASSWORD, 'tangerine-otter-47', 'x7#k9!2p0qz']) expect((await signup(h, password)).status, password).to.equal(201);
    } finally {
      await h.close();
    }
  });

  it('item 15: passwordPolicy.isBreached refuses what it reports, is asked only after the list, and fails open when it throws', async () => {
    const asked: string[] = [];
    let down = false;
    const warnings: string[] = [];
    const h = await startHarness({
      logger: { warn: (message) => void warnings.push(message), error: () => {} },
      passwordPolicy: {
        isBreached: async (password) => {
          asked.push(password);
          if (down) throw new Error('breach service unreachable');
          return password === 'tangerine-otter-47';
        },
      },
    });
    try {
      const res = await signup(h, 'tangerine-otter-47');
      expectProblem(res, 400, 'weak_password');
      expect(res.body.errors).to.deep.equal([{ path: 'password', message: 'appears in a known data breach: choose another' }]);
      expect((await signup(h, 'tangerine-otter-48')).status).to.equal(201);
      expectProblem(await signup(h, 'Password1!'), 400, 'weak_password');
      expect(asked).to.deep.equal(['tangerine-otter-47', 'tangerine-otter-48']);

      down = true;
      expect((await signup(h, 'tangerine-otter-47')).status).to.equal(201);
      expect(warnings.join('\n')).to.contain('isBreached failed');
      expect(warnings.join('\n')).not.to.contain('tangerine');
    } finally {
      await h.close();
    }
  });

  it('item 15: the list can be turned off, and a bad hook is refused at startup', async () => {
    const h = await startHarness({ passwordPolicy: { commonPasswords: false } });
    try {
      expect((await signup(h, 'Password1!')).status).to.equal(201);
    } finally {
      await h.close();
    }
    let refused: unknown;
    try {
      await startHarness({ passwordPolicy: { isBreached: 'yes' as never } });
    } catch (err) {
      refused = err;
    }
    expect(String(refused)).to.match(/passwordPolicy\.isBreached must be a function/);
  });
});
