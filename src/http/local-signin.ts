import type { Request } from 'express';
import passport from 'passport';
import { Strategy as LocalStrategy } from 'passport-local';
import { AuthError } from '../errors.js';
import type { Accounts, SignInResult } from '../core/accounts.js';
import { RequestClient } from './request-client.js';

const STRATEGY = 'gatehouse-local';

/**
 * Email + password through passport-local. The strategy only reads the request;
 * the rules (throttling, dummy hash, rehash) stay in the accounts service.
 */
export function createLocalSignin(accounts: Accounts) {
  const instance = new passport.Passport();
  instance.use(
    STRATEGY,
    new LocalStrategy({ usernameField: 'email', passwordField: 'password', passReqToCallback: true, session: false }, (req, email, password, done) => {
      accounts.signin(email, password, new RequestClient(req)).then(
        (result) => done(null, result),
        (err: unknown) => done(err),
      );
    }),
  );

  /** Resolves with the sign-in result for a request whose body holds validated `email` and `password`. */
  return function signin(req: Request): Promise<SignInResult> {
    return new Promise((resolve, reject) => {
      const callback = (err: unknown, result: SignInResult | false) => {
        if (err) reject(err);
        else if (!result) reject(new AuthError('invalid_request', 'email and password are required'));
        else resolve(result);
      };
      instance.authenticate(STRATEGY, { session: false }, callback)(req, req.res, reject);
    });
  };
}
