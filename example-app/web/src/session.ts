import type { AuthClient, MfaChallenge } from 'gatehouse-auth/client';
import { $, notify, onClick, onSubmit, orgChoice, show, wireChoice, wireSlug } from './ui.js';

/** The signed-out view: sign in (with the MFA step when the account has it) and sign up. */
export function initSession(client: AuthClient): void {
  const signinForm = $<HTMLFormElement>('signin-form');
  const mfaForm = $<HTMLFormElement>('mfa-form');
  const signupForm = $<HTMLFormElement>('signup-form');
  let challenge: MfaChallenge | null = null;

  const showMfaStep = (next: MfaChallenge | null) => {
    challenge = next;
    show(signinForm, next === null);
    show(mfaForm, next !== null);
    mfaForm.reset();
    if (next) (mfaForm.elements.namedItem('code') as HTMLInputElement).focus();
  };

  onSubmit(signinForm, async ({ email = '', password = '' }) => {
    const result = await client.signin(email, password);
    if (result.status === 'mfa-required') return showMfaStep(result);
    signinForm.reset();
  });

  onSubmit(mfaForm, async ({ code = '' }) => {
    if (!challenge) throw new Error('sign in first');
    await challenge.verifyMfa(code);
    showMfaStep(null);
    signinForm.reset();
  });

  onClick($<HTMLButtonElement>('mfa-cancel'), async () => showMfaStep(null));

  const updateChoice = wireChoice(signupForm);
  wireSlug(signupForm);
  onSubmit(signupForm, async (fields) => {
    const user = await client.signup({ email: fields.email ?? '', password: fields.password ?? '', ...orgChoice(fields) });
    signupForm.reset();
    updateChoice();
    (signinForm.elements.namedItem('email') as HTMLInputElement).value = user.email;
    (signinForm.elements.namedItem('password') as HTMLInputElement).focus();
    notify(`Account created for ${user.email}. Sign in to continue.`, 'success');
  });
}
