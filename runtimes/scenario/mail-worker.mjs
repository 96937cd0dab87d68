// A Worker as a user would write one: on each request it reads the newest message's subject over IMAP and
// sends a reply over SMTP submission. The bundling test builds it for the `workerd` condition and checks
// that the bundle imports no `node:` module and stays within the size budget in docs/runtimes.md.
import { connect } from '@postwire/core/workers';
import { createImapClient } from '@postwire/imap';
import { createSmtpClient } from '@postwire/smtp';

export default {
  async fetch(_request, env) {
    const auth = { username: env.MAIL_USER, password: env.MAIL_PASSWORD };
    const imap = await createImapClient({ connector: connect, host: env.IMAP_HOST, secure: true, auth });
    let subject = '';
    try {
      await imap.open('INBOX', { readOnly: true });
      for await (const message of imap.fetch('*', { envelope: true }))
        subject = message.envelope?.subject ?? '';
    } finally {
      await imap.logout();
    }
    const smtp = createSmtpClient({
      connector: connect,
      name: 'worker.example',
      host: env.SMTP_HOST,
      secure: true,
      auth,
    });
    try {
      await smtp.send({
        message: { from: env.MAIL_FROM, to: env.MAIL_FROM, subject: `Re: ${subject}`, text: 'Seen.' },
      });
    } finally {
      await smtp.close();
    }
    return new Response(subject);
  },
};
