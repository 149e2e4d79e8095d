import { expect } from 'chai';
import { createRealtimeAuthorizer } from '../../src/realtime/authorizer.js';
import { createAwsIotAuthorizerHandler, toPrincipalId, type AwsIotAuthorizerEvent } from '../../src/realtime/aws-iot.js';
import { grant, makeIssuer, pastIssuer, type RealtimeGrant } from './fixtures.js';

const REGION = 'us-east-1';
const ACCOUNT = '123456789012';
const ARN = `arn:aws:iot:${REGION}:${ACCOUNT}`;

function eventFor(g: Pick<RealtimeGrant, 'token' | 'clientId'>, mqtt: Partial<NonNullable<NonNullable<AwsIotAuthorizerEvent['protocolData']>['mqtt']>> = {}): AwsIotAuthorizerEvent {
  return {
    signatureVerified: false,
    protocols: ['tls', 'mqtt'],
    protocolData: {
      tls: { serverName: 'abc123-ats.iot.us-east-1.amazonaws.com' },
      mqtt: { username: g.token, clientId: g.clientId, ...mqtt },
    },
    connectionMetadata: { id: 'e56f08c3-c559-490f-aa9f-7e8427d0f57b' },
  };
}

describe('createAwsIotAuthorizerHandler', () => {
  const issuer = makeIssuer();
  const authorizer = createRealtimeAuthorizer({ tokens: issuer });
  const handler = createAwsIotAuthorizerHandler(authorizer, { region: REGION, accountId: ACCOUNT });

  it('allows a valid CONNECT with a policy scoped to the client id and topic prefix', async () => {
    const g = await grant(issuer, 'org_123', { userId: 'user_abc123', ttl: 3600 });
    const res = await handler(eventFor(g));
    if (!res.isAuthenticated) throw new Error('expected an allow');
    expect(res.principalId).to.match(/^userabc123h[0-9a-f]{32}$/);
    expect(res.disconnectAfterInSeconds).to.be.within(3598, 3600);
    expect(res.refreshAfterInSeconds).to.equal(300);
    expect(res.policyDocuments).to.have.length(1);
    expect(JSON.parse(res.policyDocuments[0]!)).to.deep.equal({
      Version: '2012-10-17',
      Statement: [
        { Effect: 'Allow', Action: 'iot:Connect', Resource: `${ARN}:client/${g.clientId}` },
        { Effect: 'Allow', Action: ['iot:Publish', 'iot:Receive'], Resource: `${ARN}:topic/axonpush/org_123/*` },
        { Effect: 'Allow', Action: 'iot:Subscribe', Resource: `${ARN}:topicfilter/axonpush/org_123/*` },
      ],
    });
  });

  it('accepts an empty base64 password and ignores a query appended to the username', async () => {
    const g = await grant(issuer, 'org1');
    const res = await handler(eventFor(g, { password: '', username: `${g.token}?SDK=JavaScript&Version=2.0` }));
    expect(res.isAuthenticated).to.equal(true);
  });

  it('clamps the durations to the [300, 86400] seconds AWS accepts', async () => {
    const short = await handler(eventFor(await grant(issuer, 'org1', { ttl: 60 })));
    const long = await handler(eventFor(await grant(issuer, 'org1', { ttl: 7 * 86_400 })));
    if (!short.isAuthenticated || !long.isAuthenticated) throw new Error('expected allows');
    expect(short.disconnectAfterInSeconds).to.equal(300);
    expect(long.disconnectAfterInSeconds).to.equal(86_400);

    const custom = createAwsIotAuthorizerHandler(authorizer, { region: REGION, accountId: ACCOUNT, refreshAfterSeconds: 10 });
    const res = await custom(eventFor(await grant(issuer, 'org1')));
    expect(res.isAuthenticated && res.refreshAfterInSeconds).to.equal(300);
  });

  it('uses the partition of China and GovCloud regions', async () => {
    for (const [region, partition] of [['cn-north-1', 'aws-cn'], ['us-gov-west-1', 'aws-us-gov']]) {
      const regional = createAwsIotAuthorizerHandler(authorizer, { region: region!, accountId: ACCOUNT });
      const res = await regional(eventFor(await grant(issuer, 'org1')));
      if (!res.isAuthenticated) throw new Error('expected an allow');
      expect(res.policyDocuments[0]).to.include(`arn:${partition}:iot:${region}:${ACCOUNT}:client/`);
    }
  });

  it('denies a bad token, a wrong or missing client id, an expired token, a password and a missing mqtt block', async () => {
    const g = await grant(issuer, 'org1');
    const denied = [
      eventFor({ token: 'nope', clientId: g.clientId }),
      eventFor(g, { clientId: 'someone-else' }),
      eventFor(g, { clientId: undefined }),
      eventFor(await grant(pastIssuer(), 'org1')),
      eventFor(g, { password: Buffer.from('secret').toString('base64') }),
      eventFor(g, { password: '!!!' }),
      eventFor(g, { username: undefined }),
      { ...eventFor(g), protocolData: { tls: { serverName: 'x' } } },
      {} as AwsIotAuthorizerEvent,
    ];
    for (const [i, event] of denied.entries()) {
      expect(await handler(event), `case ${i}`).to.deep.equal({ isAuthenticated: false });
    }
  });

  it('denies a client id that would act as an IAM wildcard', async () => {
    const g = await grant(issuer, 'org1', { clientId: 'c-*' });
    expect(await handler(eventFor(g))).to.deep.equal({ isAuthenticated: false });
  });

  it('refuses bad configuration at creation', () => {
    expect(() => createAwsIotAuthorizerHandler(authorizer, { region: 'us-east-1', accountId: '123' })).to.throw(TypeError);
    expect(() => createAwsIotAuthorizerHandler(authorizer, { region: 'us east 1', accountId: ACCOUNT })).to.throw(TypeError);
  });

  describe('toPrincipalId', () => {
    it('keeps alphanumeric ids and makes others alphanumeric, distinct and at most 128 chars', () => {
      expect(toPrincipalId('abc123')).to.equal('abc123');
      const ids = ['u-1', 'u1x', 'u_1', 'ünï-côdé', 'x'.repeat(300), '---'];
      const principals = ids.map(toPrincipalId);
      for (const p of principals) expect(p).to.match(/^[a-zA-Z0-9]{1,128}$/);
      expect(new Set(principals).size).to.equal(ids.length);
      expect(toPrincipalId('u-1')).not.to.equal(toPrincipalId('u1'));
    });
  });
});
