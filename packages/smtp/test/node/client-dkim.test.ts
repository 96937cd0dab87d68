import { ErrorCode, InvalidArgumentError, utf8 } from '@postwire/core';
import { type DkimSigner, verifyDkim } from '@postwire/mailauth';
import { composeMessage } from '@postwire/mime';
import { afterEach, describe, expect, it } from 'vitest';
import { ed25519Key, keyRecord, rsaKey, zoneResolver } from '../../../mailauth/test/dkim/keys.js';
import { SmtpSigningError } from '../../src/client/errors.js';
import { createSmtpClient, type NodeSmtpClientOptions } from '../../src/node/client.js';
import { createSmtpServer, type SmtpServer, type SmtpServerOptions } from '../../src/node/server.js';
import type { SmtpEnvelope } from '../../src/server/session.js';
import { aiosmtpdAvailable, startAiosmtpd } from '../support/aiosmtpd.js';

/** DKIM signing in the SMTP client: what the server stores must verify, whatever form the message came in. */

const rsa = rsaKey(2048);
const ed = ed25519Key();
const resolver = zoneResolver({
  'rsa._domainkey.postwire.test': [keyRecord(rsa)],
  'ed._domainkey.postwire.test': [keyRecord(ed)],
});
const rsaSigner: DkimSigner = { domain: 'postwire.test', selector: 'rsa', privateKey: rsa.privatePem };
const edSigner: DkimSigner = {
  domain: 'postwire.test',
  selector: 'ed',
  privateKey: ed.privatePem,
  algorithm: 'ed25519-sha256',
};
const badSigner: DkimSigner = { domain: 'postwire.test', selector: 'rsa', privateKey: 'not a key' };

const closers: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const close of closers.splice(0).reverse()) await close();
});

interface Delivery {
  readonly envelope: SmtpEnvelope;
  /** The message as stored, the server's Received field included. */
  readonly message: string;
}

async function readAll(message: unknown): Promise<string> {
  const stream = (message as { stream?: unknown }).stream ?? message;
  const chunks: Uint8Array[] = [];
  for await (const chunk of stream as AsyncIterable<Uint8Array>) chunks.push(chunk);
  return Buffer.concat(chunks).toString('latin1');
}

/** Our server on loopback, recording every delivered message and every MAIL command. */
async function ourServer(options: Partial<SmtpServerOptions> = {}) {
  const deliveries: Delivery[] = [];
  const seen = { connections: 0, mail: 0 };
  const server: SmtpServer = createSmtpServer({
    hostname: 'mx.postwire.test',
    onConnect: () => {
      seen.connections++;
    },
    onMailFrom: () => {
      seen.mail++;
    },
    async onData(message: unknown, second: unknown) {
      const envelope = ((message as { envelope?: SmtpEnvelope }).envelope ?? second) as SmtpEnvelope;
      deliveries.push({ envelope, message: await readAll(message) });
    },
    ...options,
  } as SmtpServerOptions);
  const { port } = await server.listen();
  closers.push(() => server.close());
  return { port, deliveries, seen };
}

function client(port: number, options: Partial<NodeSmtpClientOptions> = {}) {
  const smtp = createSmtpClient({
    host: '127.0.0.1',
    port,
    name: 'client.postwire.test',
    starttls: 'never',
    ...options,
  });
  closers.push(() => smtp.close());
  return smtp;
}

async function results(message: string): Promise<string[]> {
  const verifications = await verifyDkim(Buffer.from(message, 'latin1'), { resolver });
  return verifications.map((each) => `${each.signature?.selector}:${each.result}`);
}

const MESSAGE =
  'From: Ann <ann@postwire.test>\r\nTo: Bob <bob@postwire.test>\r\nSubject: signed\r\n' +
  'Date: Tue, 24 Nov 2026 10:00:00 +0000\r\nMessage-ID: <signed-1@postwire.test>\r\n\r\n' +
  '.a line with a leading dot\r\nand a stray\nline feed\r\n.\r\nthe end\r\n';
const ENVELOPE = { from: 'ann@postwire.test', to: ['bob@postwire.test'] };

describe('SMTP client with DKIM, against our server', () => {
  it('signs a message given as bytes (BDAT in one write), and what the server stored verifies', async () => {
    const { port, deliveries } = await ourServer();
    const lines: string[] = [];
    const smtp = client(port, { trace: (event) => lines.push(`${event.direction} ${event.line}`) });
    await smtp.send({ envelope: ENVELOPE, message: utf8(MESSAGE), dkim: rsaSigner });
    const stored = deliveries[0]!.message;
    expect(stored).toMatch(/^Received: [\s\S]*?\r\nDKIM-Signature: v=1; a=rsa-sha256;/);
    expect(await results(stored)).toEqual(['rsa:pass']);
    // The stray LF was made CRLF before signing: the signed bytes are the bytes on the wire.
    expect(stored).toContain('and a stray\r\nline feed');
    expect(lines.filter((line) => line.startsWith('out BDAT'))).toEqual([
      expect.stringMatching(/^out BDAT \d+ LAST$/),
    ]);
  });

  it('signs a composeMessage result with the client-wide signers, over DATA with dot-stuffing', async () => {
    const { port, deliveries } = await ourServer({ chunking: false });
    const composed = composeMessage({
      from: 'Ann <ann@postwire.test>',
      to: 'bob@postwire.test',
      bcc: 'carol@postwire.test',
      subject: 'Report — with attachments',
      text: 'Hello.\n.\n..two dots\n',
      html: '<p>Hello.</p>',
      attachments: [
        { filename: 'report.bin', content: Uint8Array.from({ length: 5000 }, (_, i) => i % 251) },
        {
          filename: 'notes.txt',
          content: new ReadableStream<Uint8Array>({
            start(controller) {
              controller.enqueue(utf8('.first\n'));
              controller.enqueue(utf8('second\n'));
              controller.close();
            },
          }),
        },
      ],
    });
    const smtp = client(port, { dkim: [rsaSigner, edSigner] });
    const result = await smtp.send({ message: composed });
    expect(result.messageId).toBe(composed.messageId);
    expect(result.accepted).toEqual(['bob@postwire.test', 'carol@postwire.test']);
    const stored = deliveries[0]!.message;
    expect(await results(stored)).toEqual(['rsa:pass', 'ed:pass']);
    expect(stored).not.toMatch(/^Bcc:/im);
  });

  it('composes compose options once, 7-bit, signed by their own signers and the send’s', async () => {
    const { port, deliveries } = await ourServer();
    const lines: string[] = [];
    const smtp = client(port, { trace: (event) => lines.push(`${event.direction} ${event.line}`) });
    const result = await smtp.send({
      message: {
        from: 'ann@postwire.test',
        to: 'bob@postwire.test',
        subject: 'Grüße',
        text: 'Schöne Grüße aus Köln.\n',
        dkim: edSigner,
      },
      dkim: rsaSigner,
    });
    const stored = deliveries[0]!.message;
    expect(await results(stored)).toEqual(['ed:pass', 'rsa:pass']);
    expect(stored).toContain(`Message-ID: ${result.messageId}`);
    // Our server offers 8BITMIME, and still the signed text went as quoted-printable (RFC 6376 §5.3).
    expect(stored).toContain('Content-Transfer-Encoding: quoted-printable');
    expect(lines.find((line) => line.startsWith('out MAIL'))).not.toContain('BODY=8BITMIME');
  });

  it('signs a stream once, and sends it to two domains by MX', async () => {
    const { port, deliveries } = await ourServer();
    let reads = 0;
    async function* stream() {
      reads++;
      yield utf8(MESSAGE.slice(0, 50));
      yield utf8(MESSAGE.slice(50));
    }
    const smtp = client(port, { host: undefined, mx: async () => [{ exchange: '127.0.0.1', priority: 0 }] });
    const result = await smtp.send({
      envelope: { from: 'ann@postwire.test', to: ['bob@one.test', 'carol@two.test'] },
      message: stream(),
      dkim: edSigner,
    });
    expect(result.accepted).toEqual(['bob@one.test', 'carol@two.test']);
    expect(reads).toBe(1);
    expect(deliveries).toHaveLength(2);
    for (const delivery of deliveries) expect(await results(delivery.message)).toEqual(['ed:pass']);
    // Both got the same signature.
    const signatures = deliveries.map(
      (each) => /DKIM-Signature:[\s\S]*?\r\n(?=[^\t ])/.exec(each.message)![0],
    );
    expect(signatures[0]).toBe(signatures[1]);
  });

  it('sends unsigned when the send gives no signers, overriding the client’s', async () => {
    const { port, deliveries } = await ourServer();
    await client(port, { dkim: rsaSigner }).send({ envelope: ENVELOPE, message: MESSAGE, dkim: [] });
    expect(deliveries[0]!.message).not.toContain('DKIM-Signature');
  });

  it('refuses an unusable key with SmtpSigningError before anything is sent', async () => {
    const { port, deliveries, seen } = await ourServer();
    const lines: string[] = [];
    const smtp = client(port, { trace: (event) => lines.push(`${event.direction} ${event.line}`) });
    const cases = [
      smtp.send({ envelope: ENVELOPE, message: MESSAGE, dkim: badSigner }),
      smtp.send({
        envelope: ENVELOPE,
        message: MESSAGE,
        dkim: [edSigner, { ...rsaSigner, selector: 'a b' }],
      }),
      smtp.send({
        message: { from: 'ann@postwire.test', to: 'bob@postwire.test', text: 'x', dkim: badSigner },
      }),
      client(port, { dkim: { ...edSigner, algorithm: 'rsa-sha256' } }).send({
        message: composeMessage({ from: 'ann@postwire.test', to: 'bob@postwire.test', text: 'x' }),
      }),
    ];
    for (const sending of cases) {
      const error = await sending.catch((caught: unknown) => caught);
      expect(error).toBeInstanceOf(SmtpSigningError);
      expect(error).toBeInstanceOf(InvalidArgumentError);
      expect((error as SmtpSigningError).code).toBe(ErrorCode.InvalidArgument);
      expect((error as SmtpSigningError).message).toMatch(/^DKIM signing failed: /);
      expect((error as SmtpSigningError).cause).toBeInstanceOf(InvalidArgumentError);
    }
    expect(seen.mail).toBe(0);
    expect(seen.connections).toBe(0);
    expect(lines.some((line) => line.startsWith('out MAIL'))).toBe(false);
    expect(deliveries).toEqual([]);
    // The client is still good for the next message.
    await smtp.send({ envelope: ENVELOPE, message: MESSAGE, dkim: rsaSigner });
    expect(seen.mail).toBe(1);
  });
});

const hasAiosmtpd = aiosmtpdAvailable();

describe.skipIf(!hasAiosmtpd)('SMTP client with DKIM, against aiosmtpd', () => {
  it('sends a signed message with DATA, and the message aiosmtpd stored verifies', async () => {
    const peer = await startAiosmtpd();
    closers.push(() => peer.stop());
    const smtp = client(peer.port, { dkim: [rsaSigner, edSigner] });
    await smtp.send({ envelope: ENVELOPE, message: MESSAGE });
    await smtp.send({
      message: composeMessage({
        from: 'ann@postwire.test',
        to: 'bob@postwire.test',
        subject: 'composed',
        text: '.leading dot\nend\n',
        attachments: [{ filename: 'a.bin', content: Uint8Array.of(0, 1, 2, 255) }],
      }),
    });
    const messages = await peer.messages();
    expect(messages).toHaveLength(2);
    for (const message of messages) {
      expect(await results(message.data.toString('latin1'))).toEqual(['rsa:pass', 'ed:pass']);
    }
  }, 30_000);
});
