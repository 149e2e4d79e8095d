import { isGatehouseError, type AuthClient } from 'gatehouse-auth/client';

/**
 * Runs `action`; when the server asks for a recent sign-in (403 `reauthentication_required`),
 * confirms the password and runs it once more. Without a password the refusal says what to do.
 */
export async function withRecentSignIn<R>(client: AuthClient, password: string, action: () => Promise<R>): Promise<R> {
  try {
    return await action();
  } catch (err) {
    if (!isGatehouseError(err, 'reauthentication_required')) throw err;
    if (password === '') throw new Error('403 reauthentication_required: this needs a recent sign-in. Enter your password and try again.');
    await client.reauthenticate({ password });
    return action();
  }
}
