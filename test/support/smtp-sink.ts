/** A real SMTP server on loopback that keeps every message it receives, parsed with mailparser. */
import type { AddressInfo } from "node:net";
import { simpleParser, type ParsedMail } from "mailparser";
import { SMTPServer } from "smtp-server";

export interface SmtpSink {
  port: number;
  messages: ParsedMail[];
  /** Recipients refused with 550 at RCPT TO. */
  refuse: Set<string>;
  /** Recipients refused with 451 (try again later) that many more times. */
  deferTimes: Map<string, number>;
  close(): Promise<void>;
}

export async function startSmtpSink(): Promise<SmtpSink> {
  const messages: ParsedMail[] = [];
  const refuse = new Set<string>();
  const deferTimes = new Map<string, number>();
  const server = new SMTPServer({
    authOptional: true,
    disabledCommands: ["STARTTLS", "AUTH"],
    logger: false,
    onRcptTo(address, _session, callback) {
      if (refuse.has(address.address.toLowerCase())) {
        return callback(
          Object.assign(new Error(`5.1.1 <${address.address}>: mailbox unavailable`), { responseCode: 550 }),
        );
      }
      const deferrals = deferTimes.get(address.address.toLowerCase()) ?? 0;
      if (deferrals > 0) {
        deferTimes.set(address.address.toLowerCase(), deferrals - 1);
        return callback(Object.assign(new Error("4.7.1 try again later"), { responseCode: 451 }));
      }
      callback();
    },
    onData(stream, _session, callback) {
      simpleParser(stream)
        .then((mail) => {
          messages.push(mail);
          callback();
        })
        .catch(callback);
    },
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", () => resolve()));
  const port = (server.server.address() as AddressInfo).port;
  return { port, messages, refuse, deferTimes, close: () => new Promise((resolve) => server.close(() => resolve())) };
}
