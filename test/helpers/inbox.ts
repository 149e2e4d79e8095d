import { startSmtp } from './smtp.js';

/** A mail as one recipient got it, with the token link the account mails carry. */
export interface InboxMail {
  to: string;
  subject: string;
  text: string;
  html: string;
  /** The `token` query parameter of the first link in the text that has one, if any. */
  token: string | undefined;
  /** The first http(s) link in the text. */
  link: string | undefined;
}

export interface Inbox {
  /** smtp://127.0.0.1:<port>, for createSmtpMailer. */
  url: string;
  mails: InboxMail[];
  /** Resolves with the next mail to `to` (optionally with a subject matching) that has not been taken yet. */
  next(to: string, subject?: RegExp, timeoutMs?: number): Promise<InboxMail>;
  close(): Promise<void>;
}

/** The test SMTP server (smtp.ts), read per recipient: waits for the next mail to an address. */
export async function startInbox(): Promise<Inbox> {
  const smtp = await startSmtp();
  const mails: InboxMail[] = [];
  const taken = new Set<InboxMail>();
  const waiters: Array<() => void> = [];
  smtp.onReceive((mail) => {
    const tokenLink = mail.links.find((l) => /[?&]token=/.test(l));
    const token = tokenLink === undefined ? undefined : (new URL(tokenLink).searchParams.get('token') ?? undefined);
    for (const to of mail.to) mails.push({ to: to.toLowerCase(), subject: mail.subject, text: mail.text, html: mail.html, token, link: mail.links[0] });
    for (const wake of waiters.splice(0)) wake();
  });

  function take(to: string, subject?: RegExp): InboxMail | undefined {
    const found = mails.find((m) => !taken.has(m) && m.to === to.toLowerCase() && (subject === undefined || subject.test(m.subject)));
    if (found) taken.add(found);
    return found;
  }

  return {
    url: smtp.url,
    mails,
    async next(to, subject, timeoutMs = 10_000) {
      const deadline = Date.now() + timeoutMs;
      for (;;) {
        const found = take(to, subject);
        if (found) return found;
        const left = deadline - Date.now();
        if (left <= 0) throw new Error(`no mail to ${to}${subject ? ` matching ${subject}` : ''} within ${timeoutMs} ms (got: ${mails.map((m) => `${m.to}: ${m.subject}`).join('; ')})`);
        await new Promise<void>((resolve) => {
          const timer = setTimeout(resolve, Math.min(left, 250));
          waiters.push(() => {
            clearTimeout(timer);
            resolve();
          });
        });
      }
    },
    close: () => smtp.stop(),
  };
}
