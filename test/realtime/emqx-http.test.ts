import { expect } from 'chai';
import express from 'express';
import request from 'supertest';
import { createRealtimeAuthorizer } from '../../src/realtime/authorizer.js';
import { createEmqxHttpHandlers } from '../../src/realtime/emqx-http.js';
import { grant, makeIssuer, pastIssuer } from './fixtures.js';

describe('createEmqxHttpHandlers', () => {
  const issuer = makeIssuer();
  const app = express();
  app.use('/mqtt', createEmqxHttpHandlers(createRealtimeAuthorizer({ tokens: issuer })));

  describe('POST /authn', () => {
    it('allows a valid token bound to the client id, with expire_at and no superuser', async () => {
      const g = await grant(issuer, 'org1');
      for (const password of ['', undefined, null]) {
        const res = await request(app).post('/mqtt/authn').send({ clientid: g.clientId, username: g.token, password });
        expect(res.status).to.equal(200);
        expect(res.headers['content-type']).to.match(/^application\/json/);
        expect(res.body).to.deep.equal({ result: 'allow', is_superuser: false, expire_at: g.exp });
      }
    });

    it('denies bad, foreign-client, expired and password-carrying credentials with 200', async () => {
      const g = await grant(issuer, 'org1');
      const expired = await grant(pastIssuer(), 'org1');
      const bodies = [
        { clientid: g.clientId, username: 'not-a-token', password: '' },
        { clientid: 'someone-else', username: g.token, password: '' },
        { clientid: expired.clientId, username: expired.token, password: '' },
        { clientid: g.clientId, username: g.token, password: 'secret' },
        { clientid: g.clientId, username: '', password: '' },
      ];
      for (const body of bodies) {
        const res = await request(app).post('/mqtt/authn').send(body);
        expect(res.status).to.equal(200);
        expect(res.body).to.deep.equal({ result: 'deny', is_superuser: false });
      }
    });

    it('answers 400 to a malformed body', async () => {
      const bad = [{}, { clientid: 'c' }, { clientid: 1, username: 'x' }, { clientid: 'c', username: 'x', password: 5 }];
      for (const body of bad) {
        const res = await request(app).post('/mqtt/authn').send(body);
        expect(res.status, JSON.stringify(body)).to.equal(400);
      }
      const notJson = await request(app).post('/mqtt/authn').set('Content-Type', 'application/json').send('{"clientid":');
      expect(notJson.status).to.equal(400);
      const form = await request(app).post('/mqtt/authn').type('form').send({ clientid: 'c', username: 'x' });
      expect(form.status).to.equal(400);
    });
  });

  describe('POST /authz', () => {
    it('allows publish and subscribe under the prefix only', async () => {
      const g = await grant(issuer, 'org1');
      const cases: Array<[action: string, topic: string, result: 'allow' | 'deny']> = [
        ['subscribe', `${g.prefix}/#`, 'allow'],
        ['subscribe', `$share/g/${g.prefix}/+/x`, 'allow'],
        ['publish', `${g.prefix}/default/x`, 'allow'],
        ['subscribe', 'axonpush/org2/#', 'deny'],
        ['subscribe', 'axonpush/#', 'deny'],
        ['subscribe', '$SYS/#', 'deny'],
        ['publish', 'axonpush/org10/x', 'deny'],
        ['publish', `${g.prefix}/#`, 'deny'],
        ['publish', `${g.prefix}/../org2/x`, 'deny'],
      ];
      for (const [action, topic, result] of cases) {
        const res = await request(app).post('/mqtt/authz').send({ clientid: g.clientId, username: g.token, topic, action });
        expect(res.status).to.equal(200);
        expect(res.body, `${action} ${topic}`).to.deep.equal({ result });
      }
    });

    it('denies when the token is bad, expired or used by another client id', async () => {
      const g = await grant(issuer, 'org1');
      const expired = await grant(pastIssuer(), 'org1');
      const bodies = [
        { clientid: g.clientId, username: 'junk', topic: `${g.prefix}/x`, action: 'publish' },
        { clientid: 'someone-else', username: g.token, topic: `${g.prefix}/x`, action: 'publish' },
        { clientid: expired.clientId, username: expired.token, topic: `${expired.prefix}/x`, action: 'subscribe' },
      ];
      for (const body of bodies) {
        const res = await request(app).post('/mqtt/authz').send(body);
        expect(res.body).to.deep.equal({ result: 'deny' });
      }
    });

    it('answers 400 to a malformed body', async () => {
      const g = await grant(issuer, 'org1');
      const bad = [
        {},
        { clientid: g.clientId, username: g.token, topic: `${g.prefix}/x` },
        { clientid: g.clientId, username: g.token, topic: `${g.prefix}/x`, action: 'all' },
        { clientid: g.clientId, username: g.token, topic: '', action: 'publish' },
        { clientid: g.clientId, username: g.token, topic: ['a'], action: 'publish' },
      ];
      for (const body of bad) {
        const res = await request(app).post('/mqtt/authz').send(body);
        expect(res.status, JSON.stringify(body)).to.equal(400);
        expect(JSON.stringify(res.body)).not.to.include(g.token);
      }
    });
  });
});
