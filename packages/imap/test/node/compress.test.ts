import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { constants, deflateRawSync } from 'node:zlib';
import type { TraceEvent } from '@postwire/core';
import { DeflateTransport } from '@postwire/core/node';
import { createMemoryStore, type MailStore } from '@postwire/store';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { testCertificates } from '../../../core/test/support/certs.js';
import { compressedMebibyte, sendRepeated } from '../../../core/test/support/deflate-peer.js';
import { delay, waitFor } from '../../../core/test/support/net.js';
import { createImapServer, type ImapServer, type ImapServerOptions } from '../../src/node/index.js';
import { runMbsync } from '../support/mbsync.js';
import { commandAvailable } from '../support/peer.js';
import { WireClient } from '../support/wire-client.js';

const hasMbsync = commandAvailable('mbsync', 'the COMPRESS test with mbsync (Debian package isync)');
const certificates = testCertificates();
const PASSWORD = 'secret';
const MESSAGE = 'Subject: Compressed\r\nFrom: Bob <bob@example.com>\r\n\r\nHello through DEFLATE!\r\n';
const servers: ImapServer[] = [];
const clients: WireClient[] = [];
afterEach(async () => {
  for (const client of clients.splice(0)) client.destroy();
  for (const server of servers.splice(0)) await server.close({ timeout: 1000 });
});

/** A server on the memory store, alice's INBOX holding {@link MESSAGE}; LOGIN allowed without TLS unless `startTls`. */
async function start(
  options: Partial<ImapServerOptions> = {},
): Promise<{ port: number; store: MailStore; errors: unknown[] }> {
  const store = createMemoryStore();
  const inbox = await (await store.user('alice')).open('INBOX');
  await inbox.append(new TextEncoder().encode(MESSAGE), { flags: [] });
  await inbox.close();
  const errors: unknown[] = [];
  const server = createImapServer({
    store,
    host: '127.0.0.1',
    port: 0,
    sasl: { verifiers: { lookupPassword: (user: string) => (user === 'alice' ? PASSWORD : undefined) } },
    allowCleartextLogin: options.startTls === undefined,
    onError: (error) => errors.push(error),
    ...options,
  });
  servers.push(server);
  const { port } = await server.listen();
  return { port, store, errors };
}

async function connect(port: number): Promise<WireClient> {
  const client = await WireClient.connect(port);
  clients.push(client);
  return client;
}

describe('COMPRESS=DEFLATE (RFC 4978) through the Node server', () => {
  it('offers COMPRESS=DEFLATE after login, then SELECT and FETCH run compressed both ways', async () => {
    const { port } = await start();
    const client = await connect(port);
    expect(client.text).not.toContain('COMPRESS=DEFLATE');
    expect(await client.command('a', `LOGIN alice ${PASSWORD}`)).toMatch(
      /^a OK \[CAPABILITY [^\]]* COMPRESS=DEFLATE[ \]]/,
    );
    expect(await client.compress('b')).toBe('b OK Begin compression\r\n');
    const raw: Buffer[] = [];
    client.socket.on('data', (chunk: Buffer) => raw.push(chunk));

    expect(await client.command('c', 'SELECT INBOX')).toMatch(/\* 1 EXISTS\r\n[\s\S]*c OK \[READ-WRITE\] /);
    const fetched = await client.command('d', 'FETCH 1 (UID BODY[])');
    expect(fetched).toContain(`* 1 FETCH (UID 1 BODY[] {${MESSAGE.length}}\r\n${MESSAGE} FLAGS (\\Seen`);
    expect(fetched).toMatch(/\)\r\nd OK Fetch completed\r\n$/);
    expect(await client.command('e', 'CAPABILITY')).not.toContain('COMPRESS=DEFLATE');
    expect(await client.command('f', 'COMPRESS DEFLATE')).toBe(
      'f NO [COMPRESSIONACTIVE] Compression already active\r\n',
    );
    expect(await client.command('g', 'LOGOUT')).toMatch(/^\* BYE .*\r\ng OK /);
    await client.closed;
    // What travelled was compressed: no response text in the clear.
    expect(Buffer.concat(raw).toString('latin1')).not.toMatch(/Fetch completed|Hello through/);
  });

  it('compresses inside TLS after STARTTLS', async () => {
    const { port } = await start({ startTls: { cert: certificates.cert, key: certificates.key } });
    const client = await connect(port);
    await client.startTls(certificates.ca);
    expect(await client.command('a', `LOGIN alice ${PASSWORD}`)).toMatch(/^a OK .*COMPRESS=DEFLATE/);
    expect(await client.compress('b')).toBe('b OK Begin compression\r\n');
    expect(await client.command('c', 'EXAMINE INBOX')).toMatch(/c OK \[READ-ONLY\] /);
    expect(await client.command('d', 'FETCH 1 BODY.PEEK[TEXT]')).toBe(
      '* 1 FETCH (BODY[TEXT] {24}\r\nHello through DEFLATE!\r\n)\r\nd OK Fetch completed\r\n',
    );
  });

  it('with `compress: false` does not offer it, and COMPRESS is BAD', async () => {
    const { port } = await start({ compress: false });
    const client = await connect(port);
    expect(await client.command('a', `LOGIN alice ${PASSWORD}`)).not.toContain('COMPRESS=DEFLATE');
    expect(await client.command('b', 'COMPRESS DEFLATE')).toMatch(/^b BAD /);
    expect(await client.command('c', 'NOOP')).toBe('c OK NOOP completed\r\n');
  });

  it('case 18: a 1 MB stream that inflates to a 1 GiB line meets the line limit, inflated only as read', async () => {
    // Opening a mailbox takes 50 ms: the session is busy while the rest of the bomb waits to be inflated.
    const store = createMemoryStore();
    const slow: MailStore = {
      async user(name) {
        const mail = await store.user(name);
        return new Proxy(mail, {
          get(target, property, receiver) {
            if (property === 'open')
              return async (mailbox: string) => {
                await delay(50);
                return target.open(mailbox);
              };
            const value = Reflect.get(target, property, receiver);
            return typeof value === 'function' ? value.bind(target) : value;
          },
        });
      },
      close: () => store.close(),
    };
    const { port } = await start({ store: slow });
    const client = await connect(port);
    await client.command('a', `LOGIN alice ${PASSWORD}`);
    await client.compress('b');
    // The most the server's compressed transport had inflated, read or not, after each of its reads.
    let inflated = 0;
    const read = DeflateTransport.prototype.read;
    const spy = vi.spyOn(DeflateTransport.prototype, 'read').mockImplementation(async function (
      this: DeflateTransport,
    ) {
      const chunk = await read.call(this);
      inflated = Math.max(inflated, this.bytesInflated);
      return chunk;
    });
    try {
      // A SELECT, then a NOOP whose line goes on for a gigabyte, starting in the same segment.
      const head = deflateRawSync('c SELECT INBOX\r\nd NOOP ', { finishFlush: constants.Z_FULL_FLUSH });
      const piece = compressedMebibyte();
      client.socket.write(Buffer.concat([head, ...Array(32).fill(piece)]));
      const sending = sendRepeated(client.socket, piece, 1024 - 32);
      await client.until('c OK [READ-WRITE] ', 5_000);
      await client.until('\r\n');
      expect(await client.until('\r\n')).toMatch(/^\* BAD \[TOOBIG\] /);
      expect(await client.until('\r\n')).toMatch(/^\* BYE /);
      await client.closed;
      await sending;
    } finally {
      spy.mockRestore();
    }
    // The 64 KiB line limit, and a small margin: the gigabyte was never inflated ahead of the session.
    expect(inflated).toBeGreaterThan(64 * 1024);
    expect(inflated).toBeLessThan(256 * 1024);
  });

  it('a corrupt compressed stream ends the connection with a ProtocolError', async () => {
    const { port, errors } = await start();
    const client = await connect(port);
    await client.command('a', `LOGIN alice ${PASSWORD}`);
    await client.compress('b');
    client.socket.write(Buffer.from([0xff, 0xff, 0xff, 0xff]));
    await client.closed;
    await waitFor(() => errors.length > 0, 'the error report');
    expect(errors).toEqual([expect.objectContaining({ code: 'PROTOCOL_ERROR' })]);
  });
});

describe.skipIf(!hasMbsync)('COMPRESS=DEFLATE with mbsync (isync)', () => {
  it('mbsync compresses its session over STARTTLS and pulls the mailbox', async () => {
    const trace: TraceEvent[] = [];
    const { port } = await start({
      startTls: { cert: certificates.cert, key: certificates.key },
      trace: (event) => trace.push(event),
    });
    const dir = await mkdtemp(join(tmpdir(), 'pw-imap-compress-'));
    try {
      // isync checks the certificate's DNS names only: TLS needs a host name, not 127.0.0.1.
      const run = await runMbsync(
        { host: 'localhost', port, tls: 'starttls', user: 'alice', password: PASSWORD, ca: certificates.ca },
        { dir },
      );
      expect(run.code, run.stderr).toBe(0);
      expect(run.messages.map((m) => m.text.replace(/^X-TUID: .*\n/m, ''))).toEqual([
        MESSAGE.replaceAll('\r\n', '\n'),
      ]);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
    const lines = trace.map((event) => `${event.direction} ${event.line}`);
    const compress = lines.findIndex((line) => / COMPRESS DEFLATE$/i.test(line));
    expect(compress, lines.join('\n')).toBeGreaterThan(0);
    expect(lines[compress + 1]).toMatch(/ OK Begin compression$/);
    // The session went on after it: the mailbox was selected and fetched inside the compressed stream.
    expect(lines.slice(compress).some((line) => / SELECT /i.test(line))).toBe(true);
  });
});
