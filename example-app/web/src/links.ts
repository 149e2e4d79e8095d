import type { AuthClient } from 'gatehouse-auth/client';
import { $, describeError, notify, onSubmit, show } from './ui.js';

/**
 * The links gatehouse mails land here (the example server serves this page at their
 * paths): /verify-email?token=… verifies at once, /reset-password?token=… asks for
 * the new password, /accept-invitation?code=… fills the code into the sign-up form.
 * The token leaves the address bar as soon as it is read, so it is not left in the
 * history or sent on as a Referer.
 */
export function handleMailLinks(client: AuthClient): void {
  const { pathname, searchParams } = new URL(location.href);
  const token = searchParams.get('token') ?? '';
  const code = searchParams.get('code') ?? '';
  if (pathname === '/verify-email' || pathname === '/reset-password' || pathname === '/accept-invitation') history.replaceState(null, '', '/');

  if (pathname === '/verify-email') {
    if (!token) return notify('This verification link has no token: copy the whole link from the mail.', 'error');
    client.verifyEmail(token).then(
      ({ email }) => notify(`Your email address ${email} is verified.`, 'success'),
      (err: unknown) => notify(`The verification link did not work: ${describeError(err)}`, 'error'),
    );
  }

  if (pathname === '/reset-password') {
    if (!token) return notify('This reset link has no token: copy the whole link from the mail.', 'error');
    const card = $('reset-card');
    const form = $<HTMLFormElement>('reset-form');
    show(card, true);
    (form.elements.namedItem('password') as HTMLInputElement).focus();
    onSubmit(form, async ({ password = '' }) => {
      await client.resetPassword(token, password);
      form.reset();
      show(card, false);
      notify('Your password is changed and every session of the account ended. Sign in with the new password.', 'success');
      (document.querySelector('#signin-form [name=password]') as HTMLInputElement | null)?.focus();
    });
  }

  if (pathname === '/accept-invitation' && code) {
    // Both forms that take a code: sign-up, and "join another organization" once signed in.
    for (const id of ['setup-org-form', 'signup-form']) {
      const form = $<HTMLFormElement>(id);
      (form.querySelector('input[name=action][value=join]') as HTMLInputElement).checked = true;
      form.dispatchEvent(new Event('change'));
      (form.elements.namedItem('invitationCode') as HTMLInputElement).value = code;
    }
    ($<HTMLFormElement>('signup-form').elements.namedItem('email') as HTMLInputElement).focus();
    notify('You were invited: create an account with the code filled in below, or sign in and join from the Organization card.', 'info');
  }
}
