import { expect } from 'chai';
import { createRealtimeAuthorizer, type RealtimeAuthorizer } from '../../src/realtime/authorizer.js';
import { createJwtTokenIssuer } from '../../src/tokens/jwt-issuer.js';
import { codeOf, grant, makeIssuer, pastIssuer, SECRET } from './fixtures.js';

describe('createRealtimeAuthorizer', () => {
  const issuer = makeIssuer();
  let now: number;
  let authorizer: RealtimeAuthorizer;
  beforeEach(() => {
    now = Date.now();
    authorizer = createRealtimeAuthorizer({ tokens: issuer, clock: { now: () => now } });
  });

  it('turns a valid token into a session', async () => {
    const g = await grant(issuer, 'org1', { userId: 'user-42' });
    for (const password of [undefined, null, '', Buffer.alloc(0)]) {
      const session = authorizer.authenticate(g.clientId, g.token, password);
      expect(session).to.deep.equal({
        userId: 'user-42',
        orgId: 'org1',
        topicPrefix: 'axonpush/org1',
        clientId: g.clientId,
        expiresAt: g.exp * 1000,
        tokenId: g.jti,
      });
    }
  });

  it('refuses a client id other than the one the token is bound to', async () => {
    const g = await grant(issuer, 'org1');
    expect(codeOf(() => authorizer.authenticate(`${g.clientId}x`, g.token, ''))).to.equal('client_id_mismatch');
    expect(codeOf(() => authorizer.authenticate('', g.token, ''))).to.equal('client_id_mismatch');
    expect(codeOf(() => authorizer.authenticate(undefined, g.token, ''))).to.equal('client_id_mismatch');
  });

  it('refuses an expired token with token_expired', async () => {
    const g = await grant(pastIssuer(), 'org1');
    expect(codeOf(() => authorizer.authenticate(g.clientId, g.token, ''))).to.equal('token_expired');
  });

  it('refuses a token of another use (an access token)', async () => {
    const access = await issuer.sign({ usefor: 'access', sub: 'user-1', ttl: 300, claims: { org: 'org1', tp: 'axonpush/org1', cid: 'c1' } });
    expect(codeOf(() => authorizer.authenticate('c1', access.token, ''))).to.equal('bad_credentials');
  });

  it('refuses a token signed with another key', async () => {
    const forger = createJwtTokenIssuer({ secret: `${SECRET}-but-not-ours` });
    const g = await grant(forger, 'org1');
    expect(codeOf(() => authorizer.authenticate(g.clientId, g.token, ''))).to.equal('bad_credentials');
  });

  it('refuses a missing or garbage username', () => {
    for (const username of [undefined, null, '', 'not-a-jwt', 'a.b.c']) {
      expect(codeOf(() => authorizer.authenticate('c1', username, '')), String(username)).to.equal('bad_credentials');
    }
  });

  it('refuses a non-empty password, as a string or as bytes', async () => {
    const g = await grant(issuer, 'org1');
    expect(codeOf(() => authorizer.authenticate(g.clientId, g.token, 'secret'))).to.equal('bad_credentials');
    expect(codeOf(() => authorizer.authenticate(g.clientId, g.token, Buffer.from([0])))).to.equal('bad_credentials');
  });

  it('refuses tokens whose topic prefix is missing or does not match the org', async () => {
    const bad: Array<Record<string, unknown>> = [
      { org: 'org1', cid: 'c1' },
      { org: 'org1', tp: 'axonpush/org2', cid: 'c1' },
      { org: 'org1', tp: 'axonpush/xorg1', cid: 'c1' },
      { org: 'org1', tp: 'org1', cid: 'c1' },
      { org: 'org1', tp: 'axonpush/+/org1', cid: 'c1' },
      { org: 'org1', tp: '$SYS/org1', cid: 'c1' },
      { org: 'a/b', tp: 'axonpush/a/b', cid: 'c1' },
      { tp: 'axonpush/org1', cid: 'c1' },
      { org: 'org1', tp: 'axonpush/org1' },
    ];
    for (const claims of bad) {
      const t = await issuer.sign({ usefor: 'realtime', sub: 'user-1', ttl: 300, claims });
      expect(codeOf(() => authorizer.authenticate('c1', t.token, '')), JSON.stringify(claims)).to.equal('bad_credentials');
    }
  });

  it('never puts the token in error messages', async () => {
    const g = await grant(issuer, 'org1');
    for (const [clientId, password] of [['wrong', ''], [g.clientId, 'pw']] as const) {
      try {
        authorizer.authenticate(clientId, g.token, password);
        expect.fail('should throw');
      } catch (err) {
        expect(String((err as Error).message)).not.to.include(g.token.split('.')[1]);
      }
    }
  });

  it('answers subscribe/publish by the topic rules, and refuses everything once expired', async () => {
    const g = await grant(issuer, 'org1', { ttl: 60 });
    const session = authorizer.authenticate(g.clientId, g.token, '');
    expect(authorizer.canSubscribe(session, 'axonpush/org1/#')).to.equal(true);
    expect(authorizer.canSubscribe(session, 'axonpush/org2/#')).to.equal(false);
    expect(authorizer.canPublish(session, 'axonpush/org1/a')).to.equal(true);
    expect(authorizer.canPublish(session, 'axonpush/org10/a')).to.equal(false);
    now = session.expiresAt;
    expect(authorizer.canSubscribe(session, 'axonpush/org1/#')).to.equal(false);
    expect(authorizer.canPublish(session, 'axonpush/org1/a')).to.equal(false);
  });
});
