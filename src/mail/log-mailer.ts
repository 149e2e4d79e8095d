import type { Logger, Mailer } from '../ports.js';

/**
 * For development: prints each mail, with the links it carries, through the logger
 * (`info`, else `warn`) instead of sending it. The links hold live tokens, so this
 * mailer must not be used where logs are kept or shared.
 */
export function createLogMailer(logger: Logger): Mailer {
  const print = (logger.info ?? logger.warn).bind(logger);
  return {
    async send(message) {
      const links = [...new Set(message.text.match(/https?:\/\/[^\s<>"']+/g) ?? [])];
      print(`gatehouse mail to ${message.to}: ${message.subject}\n${message.text}`, { to: message.to, subject: message.subject, links });
    },
  };
}
