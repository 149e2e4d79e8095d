import { AuthError, StorageConflictError } from '../errors.js';

const byField: Record<string, () => AuthError> = {
  email: () => new AuthError('email_taken', 'an account with this email already exists', { errors: [{ path: 'email', message: 'is already registered' }] }),
  username: () => new AuthError('username_taken', 'this username is taken', { errors: [{ path: 'username', message: 'is taken' }] }),
  slug: () => new AuthError('slug_taken', 'an organization with this slug already exists', { errors: [{ path: 'orgCreateProps.slug', message: 'is taken' }] }),
  url_key: () => new AuthError('url_taken', 'an application is registered under this URL already', { errors: [{ path: 'url', message: 'is taken' }] }),
  membership: () => new AuthError('already_member', 'the user is already a member of this organization'),
};

/** Runs a write and turns a storage uniqueness conflict into the matching AuthError. */
export async function mapConflicts<T>(write: () => Promise<T>): Promise<T> {
  try {
    return await write();
  } catch (err) {
    if (err instanceof StorageConflictError) {
      const make = byField[err.field];
      if (make) throw make();
    }
    throw err;
  }
}
