import { isGatehouseError, type AuthClient, type OrgPolicy, type OrgPolicyChanges } from 'gatehouse-auth/client';
import type { Panel } from './panel.js';
import { withRecentSignIn } from './step-up.js';
import { $, notify, onSubmit, show } from './ui.js';

/** The methods this page offers as checkboxes; external issuers' names in a policy are kept as they are. */
const METHODS = ['password', 'passkey', 'google', 'api_key'];

/**
 * The active organization's security policy (owners): require MFA, the sign-in methods
 * allowed, the longest session and API key lifetime. Saving shows what enforcing it
 * ended at once; a policy that would shut the owner out is refused (409).
 */
export function initPolicy(client: AuthClient): Panel {
  const form = $<HTMLFormElement>('policy-form');
  const hint = $('policy-hint');
  const result = $('policy-result');
  const field = <E extends HTMLElement = HTMLInputElement>(name: string) => form.elements.namedItem(name) as unknown as E;
  const methodBoxes = () => [...form.querySelectorAll<HTMLInputElement>('input[name="method"]')];
  // Methods of the policy this page has no checkbox for (external issuers): sent back unchanged.
  let others: string[] = [];

  const seconds = (value: number | null) => (value === null ? '' : String(value));

  function fill(policy: OrgPolicy): void {
    field('requireMfa').checked = policy.requireMfa;
    const allowed = policy.allowedSignInMethods;
    field('restrictMethods').checked = allowed !== null;
    for (const box of methodBoxes()) {
      box.checked = allowed === null || allowed.includes(box.value);
      box.disabled = allowed === null;
    }
    others = (allowed ?? []).filter((m) => !METHODS.includes(m));
    field('maxSessionAge').value = seconds(policy.maxSessionAge);
    field('apiKeyMaxLifetime').value = seconds(policy.apiKeyMaxLifetime);
    const updated = $('policy-updated');
    updated.textContent = policy.updatedAt ? `changed ${new Date(policy.updatedAt).toLocaleString()}` : 'defaults';
  }

  function changes(): OrgPolicyChanges {
    const number = (name: string) => {
      const text = field(name).value.trim();
      return text === '' ? null : Number(text);
    };
    const restricted = field('restrictMethods').checked;
    return {
      requireMfa: field('requireMfa').checked,
      allowedSignInMethods: restricted ? [...methodBoxes().filter((b) => b.checked).map((b) => b.value), ...others] : null,
      maxSessionAge: number('maxSessionAge'),
      apiKeyMaxLifetime: number('apiKeyMaxLifetime'),
    };
  }

  field('restrictMethods').addEventListener('change', () => {
    for (const box of methodBoxes()) box.disabled = !field('restrictMethods').checked;
  });

  onSubmit(form, async ({ password = '' }) => {
    show(result, false);
    const orgId = client.claims?.org ?? '';
    try {
      const updated = await withRecentSignIn(client, password, () => client.updateOrgPolicy(orgId, changes()));
      fill(updated);
      field('password').value = '';
      result.textContent = `Saved. Enforced at once: ${updated.enforced.sessionsEnded} session(s) ended, ${updated.enforced.apiKeysRevoked} API key(s) revoked.`;
      result.dataset.sessionsEnded = String(updated.enforced.sessionsEnded);
      result.dataset.apiKeysRevoked = String(updated.enforced.apiKeysRevoked);
      show(result, true);
      notify('Policy saved.', 'success');
    } catch (err) {
      // Said plainly, with the code a developer looks for (step-up refusals are worded in step-up.ts).
      if (isGatehouseError(err, 'policy_excludes_you')) throw new Error(`409 policy_excludes_you: this policy would shut you out. ${err.message}`);
      throw err;
    }
  });

  return {
    async load() {
      show(result, false);
      const owner = client.claims?.role === 'owner';
      for (const el of form.elements) (el as HTMLInputElement).disabled = !owner;
      show(hint, !owner);
      hint.textContent = 'Only owners read and change the policy.';
      if (!owner) return;
      try {
        fill(await client.orgPolicy(client.claims?.org ?? ''));
      } catch (err) {
        // A router without the policy routes (an older gatehouse): say so instead of failing the page.
        if (!isGatehouseError(err) || err.status !== 404) throw err;
        for (const el of form.elements) (el as HTMLInputElement).disabled = true;
        show(hint, true);
        hint.textContent = 'This router has no policy routes.';
      }
    },
    reset() {
      form.reset();
      show(result, false);
      others = [];
    },
  };
}
