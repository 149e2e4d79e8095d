import { expect } from 'chai';
import { createAuthClient, GatehouseError, type AuthClient, type AuthState } from 'gatehouse-auth/client';
import { PASSWORD, unique } from '../helpers/harness.js';
import { startExample, type RunningExample } from '../helpers/example.js';
import { startInbox, type Inbox } from '../helpers/inbox.js';

const NEW_PASSWORD = 'another good passphrase';

async function rejection(promise: Promise<unknown>): Promise<GatehouseError> {
  const err = await promise.then(
    () => null,
    (e: unknown) => e,
  );
  expect(err).to.be.instanceOf(GatehouseError);
  return err as GatehouseError;
}

/**
 * The account lifecycle methods of gatehouse-auth/client against the example server,
 * whose mail goes through SMTP (SMTP_URL's in-process equivalent) to a real SMTP server.
 */
describe('gatehouse-auth/client: account lifecycle by mail, sessions, deletion', function () {
  this.timeout(30_000);
  let inbox: Inbox;
  let example: RunningExample;
  let baseUrl: string;

  before(async () => {
    inbox = await startInbox();
    example = await startExample({ smtpUrl: inbox.url });
    baseUrl = `${example.url}/auth`;
  });
  after(async () => {
    await example?.close();
    await inbox?.close();
  });

  const client = () => createAuthClient({ baseUrl });

  async function signedIn(c: AuthClient, email: string, password = PASSWORD): Promise<AuthClient> {
    const result = await c.signin(email, password);
    if (result.status !== 'signed-in') throw new Error('expected a session');
    return c;
  }

  /** A new account owning a new organization, signed in; its verification mail is taken from the inbox. */
  async function account(): Promise<{ email: string; userId: string; orgId: string; c: AuthClient; signupToken: string }> {
    const id = unique();
    const email = `life-${id}@example.com`;
    const c = client();
    const user = await c.signup({ email, password: PASSWORD, action: 'create', orgCreateProps: { name: `Life ${id}`, slug: `life-${id}` } });
    const { token } = await inbox.next(email, /Verify your email/);
    await signedIn(c, email);
    return { email, userId: user.id, orgId: user.organizationId!, c, signupToken: token! };
  }

  function signedOut(c: AuthClient): Promise<AuthState> {
    return new Promise((resolve) => {
      const off = c.on('state', (state) => {
        if (state.status !== 'signed-out') return;
        off();
        resolve(state);
      });
    });
  }

  it('requestEmailVerification mails a new link; verifyEmail takes its token once, and an earlier link is dead', async () => {
    const { email, c, signupToken } = await account();
    expect((await c.me()).emailVerified).to.equal(false);
    await c.requestEmailVerification();
    const mail = await inbox.next(email, /Verify your email/);
    expect(mail.link).to.match(/\/verify-email\?token=/);

    expect((await rejection(client().verifyEmail('not-a-token'))).code).to.equal('invalid_token');
    expect((await rejection(client().verifyEmail(signupToken))).code, 'the sign-up link was superseded').to.equal('invalid_token');
    // verifyEmail needs no session: a fresh client, as a page opened from the mail is.
    expect(await client().verifyEmail(mail.token!)).to.deep.equal({ email, emailVerified: true });
    expect((await c.me()).emailVerified).to.equal(true);
    const again = await rejection(client().verifyEmail(mail.token!));
    expect(again).to.include({ status: 401, code: 'token_used' });
  });

  it('forgotPassword answers alike for unknown addresses; resetPassword sets the password and ends every session', async () => {
    const { email, c } = await account();
    await client().forgotPassword(`nobody-${unique()}@example.com`);
    await client().forgotPassword(email);
    const mail = await inbox.next(email, /Reset your/);
    expect(mail.link).to.match(/\/reset-password\?token=/);

    const bad = await rejection(client().resetPassword('x'.repeat(43), NEW_PASSWORD));
    expect(bad).to.include({ status: 401, code: 'invalid_token' });
    const weak = await rejection(client().resetPassword(mail.token!, 'short'));
    expect(weak.status).to.equal(400);

    await client().resetPassword(mail.token!, NEW_PASSWORD);
    // The session that was signed in before the reset is over: its next call signs it out.
    const ended = signedOut(c);
    await rejection(c.me());
    expect(await ended).to.deep.equal({ status: 'signed-out', reason: 'revoked' });
    expect((await rejection(client().signin(email, PASSWORD))).code).to.equal('invalid_credentials');
    await signedIn(client(), email, NEW_PASSWORD);
  });

  it('changePassword: a wrong current password is a 401 that keeps the session; the right one ends the other sessions only', async () => {
    const { email, c } = await account();
    const other = await signedIn(client(), email);
    const wrong = await rejection(c.changePassword('not the password', NEW_PASSWORD));
    expect(wrong).to.include({ status: 401, code: 'invalid_credentials' });
    expect(c.state.status).to.equal('signed-in');

    await c.changePassword(PASSWORD, NEW_PASSWORD);
    expect((await c.me()).email).to.equal(email);
    expect((await rejection(other.me())).status).to.equal(401);
    expect(other.state).to.deep.equal({ status: 'signed-out', reason: 'revoked' });
    expect((await inbox.next(email, /password was changed/)).to).to.equal(email);
  });

  it('changeEmail mails the new address; verifyEmail with that token moves the account', async () => {
    const { email, c } = await account();
    const newEmail = `moved-${unique()}@example.com`;
    expect((await rejection(c.changeEmail(newEmail, 'not the password'))).code).to.equal('invalid_credentials');
    await c.changeEmail(newEmail, PASSWORD);
    const mail = await inbox.next(newEmail, /Confirm your new email/);
    expect(mail.link).to.match(/\/verify-email\?token=/);
    expect((await c.me()).email, 'nothing changes before the link is used').to.equal(email);

    expect(await client().verifyEmail(mail.token!)).to.deep.equal({ email: newEmail, emailVerified: true });
    expect(await c.me()).to.include({ email: newEmail, emailVerified: true });
    await inbox.next(email, /is changing/);
  });

  it('sessions lists the sessions; endSession ends another one at once, or this one (signed out); 404 for an unknown id', async () => {
    const { email, c } = await account();
    const other = await signedIn(client(), email);
    const sessions = await c.sessions();
    expect(sessions).to.have.length(2);
    const mine = sessions.find((s) => s.current);
    const theirs = sessions.find((s) => !s.current);
    expect(mine?.id).to.equal(c.claims?.sid);
    expect(theirs?.id).to.equal(other.claims?.sid);
    expect(theirs).to.include({ ip: '127.0.0.1' });

    const unknown = await rejection(c.endSession('00000000-0000-4000-8000-000000000000'));
    expect(unknown).to.include({ status: 404, code: 'session_not_found' });

    await c.endSession(theirs!.id);
    await rejection(other.me());
    expect(other.state).to.deep.equal({ status: 'signed-out', reason: 'revoked' });
    expect((await c.sessions()).map((s) => s.id)).to.deep.equal([mine!.id]);

    const token = c.tokens!.accessToken;
    await c.endSession(mine!.id);
    expect(c.state).to.deep.equal({ status: 'signed-out', reason: 'logout' });
    const res = await fetch(`${baseUrl}/me`, { headers: { authorization: `Bearer ${token}` } });
    expect(res.status).to.equal(401);
  });

  it('endOtherSessions ends every session but this one', async () => {
    const { email, c } = await account();
    const others = [await signedIn(client(), email), await signedIn(client(), email)];
    await c.endOtherSessions();
    for (const other of others) expect((await rejection(other.me())).status).to.equal(401);
    expect((await c.sessions()).map((s) => s.current)).to.deep.equal([true]);
    expect(c.state.status).to.equal('signed-in');
  });

  it('transferOrg makes a member owner and refreshes into the new role; deleteOrg signs out the sessions in it', async () => {
    const { orgId, c: owner } = await account();
    const invitation = await owner.invite(orgId);
    const memberEmail = `member-${unique()}@example.com`;
    const member = client();
    const joined = await member.signup({ email: memberEmail, password: PASSWORD, action: 'join', invitationCode: invitation.code });
    await signedIn(member, memberEmail);

    // The owner may not delete the account while others depend on the org.
    const lastOwner = await rejection(owner.deleteAccount({ password: PASSWORD }));
    expect(lastOwner).to.include({ status: 409, code: 'last_owner' });
    expect(owner.state.status).to.equal('signed-in');

    const notMember = await rejection(owner.transferOrg(orgId, '00000000-0000-4000-8000-000000000000'));
    expect(notMember.status).to.equal(404);
    const result = await owner.transferOrg(orgId, joined.id);
    expect(result).to.deep.equal({ orgId, userId: joined.id, role: 'owner', previousOwner: { userId: owner.claims!.sub, role: 'admin' } });
    expect(owner.claims?.role).to.equal('admin');
    expect((await rejection(owner.transferOrg(orgId, joined.id))).status).to.equal(403);

    await member.refresh();
    expect(member.claims?.role).to.equal('owner');
    const wrong = await rejection(member.deleteOrg(orgId, { password: 'not the password' }));
    expect(wrong).to.include({ status: 401, code: 'invalid_credentials' });
    expect(member.state.status).to.equal('signed-in');

    await member.deleteOrg(orgId, { password: PASSWORD });
    expect(member.state).to.deep.equal({ status: 'signed-out', reason: 'logout' });
    await rejection(owner.me());
    expect(owner.state).to.deep.equal({ status: 'signed-out', reason: 'revoked' });
  });

  it('deleteAccount: a wrong password keeps the account; the right one deletes it and signs out', async () => {
    const { email, c } = await account();
    const wrong = await rejection(c.deleteAccount({ password: 'not the password' }));
    expect(wrong).to.include({ status: 401, code: 'invalid_credentials' });
    expect(c.state.status).to.equal('signed-in');

    await c.deleteAccount({ password: PASSWORD });
    expect(c.state).to.deep.equal({ status: 'signed-out', reason: 'logout' });
    expect((await rejection(client().signin(email, PASSWORD))).code).to.equal('invalid_credentials');
  });
});
