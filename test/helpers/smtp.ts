import type { AddressInfo } from 'node:net';
import { simpleParser, type ParsedMail } from 'mailparser';
import { SMTPServer } from 'smtp-server';

/** A mail as the SMTP server received it, parsed. */
export interface ReceivedMail {
  from: string;
  to: string[];
  subject: string;
  text: string;
  html: string;
  /** Every http(s) link in the text part. */
  links: string[];
  parsed: ParsedMail;
}

export interface TestSmtp {
  port: number;
  /** smtp://127.0.0.1:port */
  url: string;
  received: ReceivedMail[];
  /** Called with each mail as it is accepted. */
  onReceive(listener: (mail: ReceivedMail) => void): void;
  /** Stops listening (connections refused) until `start()`. */
  stop(): Promise<void>;
  /** Listens again on the same port. */
  start(): Promise<void>;
  /** Most mails being received at one moment so far. */
  readonly mostAtOnce: number;
}

export interface TestSmtpOptions {
  /** Holds each mail this long before accepting it, as a slow server would. Default 0. */
  holdMs?: number;
}

/**
 * A real SMTP server (smtp-server) in the test process, recording every mail it
 * accepts, parsed with mailparser. Plain SMTP without STARTTLS or auth, as a local
 * relay would be.
 */
export async function startSmtp({ holdMs = 0 }: TestSmtpOptions = {}): Promise<TestSmtp> {
  const received: ReceivedMail[] = [];
  const listeners: Array<(mail: ReceivedMail) => void> = [];
  let atOnce = 0;
  let mostAtOnce = 0;
  const create = () =>
    new SMTPServer({
      disabledCommands: ['STARTTLS', 'AUTH'],
      logger: false,
      onData(stream, session, callback) {
        atOnce += 1;
        mostAtOnce = Math.max(mostAtOnce, atOnce);
        const accept = async () => {
          const parsed = await simpleParser(stream);
          if (holdMs > 0) await new Promise((resolve) => setTimeout(resolve, holdMs));
          const text = parsed.text ?? '';
          const mail: ReceivedMail = {
            from: parsed.from?.text ?? '',
            to: session.envelope.rcptTo.map((r) => r.address),
            subject: parsed.subject ?? '',
            text,
            html: typeof parsed.html === 'string' ? parsed.html : '',
            links: text.match(/https?:\/\/[^\s<>"']+/g) ?? [],
            parsed,
          };
          received.push(mail);
          for (const listener of listeners) listener(mail);
        };
        accept().then(
          () => {
            atOnce -= 1;
            callback();
          },
          (err: Error) => {
            atOnce -= 1;
            callback(err);
          },
        );
      },
    });
  let server = create();
  const listen = (port: number) =>
    new Promise<number>((resolve, reject) => {
      server.once('error', reject);
      server.listen(port, '127.0.0.1', () => resolve((server.server.address() as AddressInfo).port));
    });
  const port = await listen(0);
  return {
    port,
    url: `smtp://127.0.0.1:${port}`,
    received,
    onReceive: (listener) => void listeners.push(listener),
    stop: () => new Promise<void>((resolve) => server.close(() => resolve())),
    get mostAtOnce() {
      return mostAtOnce;
    },
    async start() {
      server = create();
      await listen(port);
    },
  };
}
