import { isGatehouseError } from 'gatehouse-auth/client';

/** The element with this id; index.html and this code are kept in step, so a missing one is a bug. */
export function $<T extends HTMLElement = HTMLElement>(id: string): T {
  const el = document.getElementById(id);
  if (!el) throw new Error(`#${id} is missing from index.html`);
  return el as T;
}

type Child = Node | string | null | undefined | false;

/** Builds an element. Text goes in as text nodes, never as HTML, so user data cannot inject markup. */
export function h<K extends keyof HTMLElementTagNameMap>(tag: K, props: { class?: string; title?: string; onclick?: () => void } = {}, ...children: Child[]): HTMLElementTagNameMap[K] {
  const el = document.createElement(tag);
  if (props.class) el.className = props.class;
  if (props.title) el.title = props.title;
  if (props.onclick) el.addEventListener('click', props.onclick);
  for (const child of children) if (child !== null && child !== undefined && child !== false) el.append(child);
  return el;
}

export function show(el: HTMLElement, visible: boolean): void {
  el.hidden = !visible;
}

/** The code and message of an error, with per-field problems: what a developer trying the API wants to see. */
export function describeError(err: unknown): string {
  if (isGatehouseError(err)) {
    const fields = err.errors.map((e) => `${e.path || 'body'} ${e.message}`).join('; ');
    return `${err.code}: ${err.message}${fields ? ` (${fields})` : ''}`;
  }
  return err instanceof Error ? err.message : String(err);
}

let noticeTimer: ReturnType<typeof setTimeout> | undefined;

export function notify(text: string, kind: 'info' | 'success' | 'error' = 'info'): void {
  const el = $('notice');
  el.textContent = text;
  el.className = `notice ${kind}`;
  el.hidden = false;
  clearTimeout(noticeTimer);
  if (kind !== 'error') noticeTimer = setTimeout(() => (el.hidden = true), 6_000);
}

export function clearNotice(): void {
  $('notice').hidden = true;
}

/** Trimmed string values of a form's named fields. */
export function values(form: HTMLFormElement): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [key, value] of new FormData(form)) if (typeof value === 'string') out[key] = value.trim();
  return out;
}

/** The form's own error line, or the one right after it. */
function errorLine(form: HTMLFormElement): HTMLElement | null {
  const inside = form.querySelector<HTMLElement>('.form-error');
  if (inside) return inside;
  const next = form.nextElementSibling;
  return next instanceof HTMLElement && next.classList.contains('form-error') ? next : null;
}

/** Runs `handler` on submit with the submit button disabled, and shows a failure next to the form. */
export function onSubmit(form: HTMLFormElement, handler: (fields: Record<string, string>) => Promise<void>): void {
  form.addEventListener('submit', (event) => {
    event.preventDefault();
    const button = form.querySelector<HTMLButtonElement>('button[type="submit"]');
    const line = errorLine(form);
    if (line) line.textContent = '';
    if (button) button.disabled = true;
    handler(values(form))
      .catch((err: unknown) => {
        if (line) line.textContent = describeError(err);
        else notify(describeError(err), 'error');
      })
      .finally(() => {
        if (button) button.disabled = false;
      });
  });
}

/** Runs an async click handler with the button disabled; failures become a notice. */
export function onClick(button: HTMLButtonElement, handler: () => Promise<void>): void {
  button.addEventListener('click', () => {
    button.disabled = true;
    handler()
      .catch((err: unknown) => notify(describeError(err), 'error'))
      .finally(() => (button.disabled = false));
  });
}

/** Shows the fields of the checked `action` radio (`data-when="create"` / `"join"`) and hides the others. */
export function wireChoice(form: HTMLFormElement): () => void {
  const update = () => {
    const action = values(form).action;
    for (const el of form.querySelectorAll<HTMLElement>('[data-when]')) el.hidden = el.dataset.when !== action;
  };
  form.addEventListener('change', update);
  update();
  return update;
}

/** Fills the slug from the name until the user edits the slug. */
export function wireSlug(form: HTMLFormElement): void {
  const name = form.elements.namedItem('orgName') as HTMLInputElement;
  const slug = form.elements.namedItem('orgSlug') as HTMLInputElement;
  let edited = false;
  slug.addEventListener('input', () => (edited = slug.value !== ''));
  name.addEventListener('input', () => {
    if (!edited) slug.value = slugify(name.value);
  });
}

export function slugify(text: string): string {
  return text
    .toLowerCase()
    .normalize('NFKD')
    .replace(/[^a-z0-9]+/g, '-')
    .replace(/^-+|-+$/g, '')
    .slice(0, 64);
}

/** An org choice for signup or setup-org from the form's fields. */
export function orgChoice(fields: Record<string, string>) {
  if (fields.action === 'join') return { action: 'join' as const, invitationCode: fields.invitationCode ?? '' };
  return { action: 'create' as const, orgCreateProps: { name: fields.orgName ?? '', slug: fields.orgSlug || slugify(fields.orgName ?? '') } };
}

export const time = (iso: string | number) => new Date(iso).toLocaleTimeString();
export const date = (iso: string) => new Date(iso).toLocaleDateString();

/** "4:05" for 245 s; negative durations read as 0:00. */
export function countdown(ms: number): string {
  const s = Math.max(0, Math.round(ms / 1000));
  return `${Math.floor(s / 60)}:${String(s % 60).padStart(2, '0')}`;
}
