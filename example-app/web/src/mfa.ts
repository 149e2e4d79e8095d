import type { AuthClient, MfaStatus } from 'gatehouse-auth/client';
import type { Panel } from './panel.js';
import { $, h, notify, onClick, onSubmit, show } from './ui.js';

/** TOTP: enrol with the QR code, confirm with a code (recovery codes shown once), turn off. */
export function initMfa(client: AuthClient): Panel {
  const status = $('mfa-status');
  const off = $('mfa-off');
  const enrol = $('mfa-enrol');
  const recovery = $('recovery');
  const enableForm = $<HTMLFormElement>('mfa-enable-form');
  const disableForm = $<HTMLFormElement>('mfa-disable-form');

  const render = (state: MfaStatus) => {
    status.textContent = state.totp === 'on' ? `on · ${state.recoveryCodesLeft} recovery codes left` : state.totp;
    status.className = `pill ${state.totp === 'on' ? 'on' : 'off'}`;
    status.dataset.state = state.totp;
    show(off, state.totp !== 'on' && enrol.hidden);
    show(disableForm, state.totp === 'on');
  };

  onClick($<HTMLButtonElement>('mfa-setup'), async () => {
    const enrolment = await client.setupTotp();
    $<HTMLImageElement>('totp-qr').src = enrolment.qrCodeDataUrl;
    $('totp-secret').textContent = enrolment.secret;
    show(off, false);
    show(enrol, true);
    (enableForm.elements.namedItem('code') as HTMLInputElement).focus();
  });

  onSubmit(enableForm, async ({ code = '' }) => {
    const codes = await client.enableTotp(code);
    $('recovery-codes').replaceChildren(...codes.map((c) => h('li', {}, c)));
    show(enrol, false);
    show(recovery, true);
    enableForm.reset();
    notify('Two-factor authentication is on. Your other sessions were signed out.', 'success');
    render(await client.mfaStatus());
  });

  onSubmit(disableForm, async ({ code = '' }) => {
    await client.disableTotp(/^\d{6}$/.test(code) ? { code } : { recoveryCode: code });
    disableForm.reset();
    show(recovery, false);
    notify('Two-factor authentication is off.', 'success');
    render(await client.mfaStatus());
  });

  return {
    async load() {
      render(await client.mfaStatus());
    },
    reset() {
      show(enrol, false);
      show(recovery, false);
      $('recovery-codes').replaceChildren();
      $('totp-secret').textContent = '';
      $<HTMLImageElement>('totp-qr').removeAttribute('src');
    },
  };
}
