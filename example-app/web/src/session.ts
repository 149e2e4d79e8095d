import type { AuthClient, MfaChallenge } from 'gatehouse-auth/client';
import { $, notify, onClick, onSubmit, orgChoice, show, wireChoice, wireSlug } from './ui.js';

/** The signed-out view: sign in (with the MFA step when the account has it), forgotten password, and sign up. */
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

  // Forgot password: the answer is the same for every address, so the page says "if".
  const forgotForm = $<HTMLFormElement>('forgot-form');
  const showForgot = (visible: boolean) => {
    show(forgotForm, visible);
    show(signinForm, !visible);
    if (!visible) return;
    const typed = (signinForm.elements.namedItem('email') as HTMLInputElement).value;
    const field = forgotForm.elements.namedItem('email') as HTMLInputElement;
    field.value = typed;
    field.focus();
  };
  onClick($<HTMLButtonElement>('forgot-open'), async () => showForgot(true));
  onClick($<HTMLButtonElement>('forgot-cancel'), async () => showForgot(false));
  onSubmit(forgotForm, async ({ email = '' }) => {
    await client.forgotPassword(email);
    showForgot(false);
    forgotForm.reset();
    notify(`If ${email} has an account, a link to choose a new password is on its way.`, 'success');
  });

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
