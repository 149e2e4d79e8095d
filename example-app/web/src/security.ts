import type { AuthClient } from 'gatehouse-auth/client';
import type { Panel } from './panel.js';
import { $, notify, onClick, onSubmit, show } from './ui.js';

/** Password and email: the address's verification state, changing the password, moving to a new address. */
export function initSecurity(client: AuthClient): Panel {
  const status = $('email-status');
  const verifyLine = $('verify-line');
  const passwordForm = $<HTMLFormElement>('password-form');
  const emailForm = $<HTMLFormElement>('email-form');

  const render = (verified: boolean) => {
    status.textContent = verified ? 'email verified' : 'email not verified';
    status.className = `pill ${verified ? 'on' : 'off'}`;
    status.dataset.state = verified ? 'verified' : 'unverified';
    show(verifyLine, !verified);
  };

  onClick($<HTMLButtonElement>('send-verification'), async () => {
    await client.requestEmailVerification();
    notify('A new verification link is on its way; earlier links no longer work.', 'success');
  });

  onSubmit(passwordForm, async ({ currentPassword = '', newPassword = '' }) => {
    await client.changePassword(currentPassword, newPassword);
    passwordForm.reset();
    notify('Password changed. Your other sessions were signed out.', 'success');
  });

  onSubmit(emailForm, async ({ newEmail = '', password = '' }) => {
    await client.changeEmail(newEmail, password);
    emailForm.reset();
    notify(`A confirmation link went to ${newEmail}: the address changes when you open it.`, 'success');
  });

  return {
    async load() {
      render((await client.me()).emailVerified);
    },
    reset() {
      passwordForm.reset();
      emailForm.reset();
      status.textContent = '…';
      show(verifyLine, false);
    },
  };
}
