// A local SMTP sink: every mail the server sends lands here, parsed by mailparser.
import { SMTPServer } from 'smtp-server';
import { simpleParser } from 'mailparser';

export async function startSmtpSink() {
  const mails = [];
  const waiters = new Set();

  const server = new SMTPServer({
    authOptional: true,
    disabledCommands: ['AUTH', 'STARTTLS'],
    logger: false,
    onData(stream, _session, done) {
      simpleParser(stream).then(
        (mail) => {
          const parsed = {
            to: (mail.to?.value ?? []).map((a) => a.address.toLowerCase()),
            from: mail.from?.value?.[0]?.address,
            subject: mail.subject ?? '',
            text: mail.text ?? '',
            html: typeof mail.html === 'string' ? mail.html : '',
            claimed: false,
          };
          mails.push(parsed);
          for (const w of waiters) w();
          done();
        },
        (err) => done(err),
      );
    },
  });
  await new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', resolve);
  });
  const { port } = server.server.address();

  function take(to, match) {
    const mail = mails.find((m) => !m.claimed && m.to.includes(to.toLowerCase()) && match(m));
    if (mail) mail.claimed = true;
    return mail;
  }

  return {
    port,
    url: `smtp://127.0.0.1:${port}`,
    mails,
    /** Waits for the next unclaimed mail to `to` that `match` accepts, and claims it. */
    async waitFor(to, match = () => true, timeoutMs = 10_000) {
      const found = take(to, match);
      if (found) return found;
      return new Promise((resolve, reject) => {
        const timer = setTimeout(() => {
          waiters.delete(check);
          const seen = mails.map((m) => `${m.to.join(',')}: ${m.subject}`).join('; ');
          reject(new Error(`no mail to ${to} within ${timeoutMs} ms (mails so far: ${seen || 'none'})`));
        }, timeoutMs);
        const check = () => {
          const mail = take(to, match);
          if (!mail) return;
          clearTimeout(timer);
          waiters.delete(check);
          resolve(mail);
        };
        waiters.add(check);
      });
    },
    /** Mails to `to` that nobody claimed yet. */
    unclaimed(to) {
      return mails.filter((m) => !m.claimed && m.to.includes(to.toLowerCase()));
    },
    close: () => new Promise((resolve) => server.close(resolve)),
  };
}

/** The links in a mail's text part (and html part, as a fallback). */
export function linksIn(mail) {
  const found = new Set();
  for (const part of [mail.text, mail.html]) {
    for (const m of part.matchAll(/https?:\/\/[^\s"'<>]+/g)) found.add(m[0].replace(/&amp;/g, '&'));
  }
  return [...found];
}

/** The one link in a mail whose path starts with `pathPrefix`. */
export function linkIn(mail, pathPrefix) {
  const links = linksIn(mail).filter((l) => new URL(l).pathname.startsWith(pathPrefix));
  if (links.length !== 1) {
    throw new Error(`expected one ${pathPrefix} link in "${mail.subject}", found ${links.length}: ${mail.text}`);
  }
  return new URL(links[0]);
}
