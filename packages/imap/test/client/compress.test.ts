import { createServer, type Server, type Socket } from 'node:net';
import { constants, createDeflateRaw, createInflateRaw } from 'node:zlib';
import { ProtocolError } from '@postwire/core';
import { afterEach, describe, expect, it } from 'vitest';
import { createImapClient } from '../../src/node/client.js';
import { verbOf } from './memory-server.js';
import { CAPABILITIES, mailboxScript, scripted } from './scripts.js';

/**
 * COMPRESS=DEFLATE (RFC 4978) on the client: when it is sent and when the transport switches (against a
 * scripted server whose transport pretends to compress), and a compressed stream that inflates to far
 * more than the limits (against a raw server that really compresses). The suite against Postwire's
 * server and Dovecot (peers.test.ts) runs compressed.
 */

const OFFERING = `${CAPABILITIES} COMPRESS=DEFLATE`;

describe('IMAP client: COMPRESS=DEFLATE', () => {
  it('compresses right after login when the server offers it and the transport can', async () => {
    const { server, client } = await scripted(mailboxScript(undefined, OFFERING), {
      server: { compressible: true },
    });
    expect(server.commands.map(verbOf)).toEqual([
      'AUTHENTICATE PLAIN AGFsaWNlAHNlY3JldA==',
      'COMPRESS DEFLATE',
    ]);
    expect(server.compressedAfter).toBe(2);
    expect(client.compressed).toBe(true);
    await client.noop();
  });

  it.each([
    ['compress: false', { compressible: true }, OFFERING, false],
    ['a transport that cannot compress', {}, OFFERING, undefined],
    ['a server that does not offer it', { compressible: true }, CAPABILITIES, undefined],
  ])('stays uncompressed with %s', async (_, serverOptions, capabilities, compress) => {
    const { server, client } = await scripted(mailboxScript(undefined, capabilities), {
      server: serverOptions,
      client: compress === undefined ? {} : { compress },
    });
    await client.noop();
    expect(server.commands.map(verbOf)).toEqual(['AUTHENTICATE PLAIN AGFsaWNlAHNlY3JldA==', 'NOOP']);
    expect(client.compressed).toBe(false);
  });

  it('goes on uncompressed when the server refuses', async () => {
    const { server, client } = await scripted(
      mailboxScript(
        (_, verb, tag) =>
          verb === 'COMPRESS DEFLATE' ? `${tag} NO [COMPRESSIONACTIVE] already\r\n` : undefined,
        OFFERING,
      ),
      { server: { compressible: true } },
    );
    expect(server.compressedAfter).toBeUndefined();
    expect(client.compressed).toBe(false);
    await client.noop();
  });

  it('fails the session when more comes in the same read as the OK, which it cannot inflate', async () => {
    const attempt = scripted(
      mailboxScript(
        (_, verb, tag) =>
          verb === 'COMPRESS DEFLATE' ? `${tag} OK compressing\r\n* 4 EXISTS\r\n` : undefined,
        OFFERING,
      ),
      { server: { compressible: true } },
    );
    await expect(attempt).rejects.toThrow(/sent more in the same read as its COMPRESS response/);
  });
});

/** A raw IMAP server that logs in anyone, compresses, and answers every later command with `flood`. */
class CompressingServer {
  readonly #server: Server;
  readonly #sockets = new Set<Socket>();

  constructor(flood: Buffer) {
    this.#server = createServer((socket) => {
      this.#sockets.add(socket);
      socket.on('error', () => {});
      socket.write(`* OK [CAPABILITY IMAP4rev1 SASL-IR AUTH=PLAIN COMPRESS=DEFLATE] ready\r\n`);
      let text = '';
      const plain = (chunk: Buffer): void => {
        text += chunk.toString('latin1');
        for (let end = text.indexOf('\r\n'); end !== -1; end = text.indexOf('\r\n')) {
          const line = text.slice(0, end);
          text = text.slice(end + 2);
          const tag = line.slice(0, line.indexOf(' '));
          if (!line.includes(' COMPRESS ')) {
            socket.write(`${tag} OK logged in\r\n`);
            continue;
          }
          socket.off('data', plain);
          socket.write(`${tag} OK compressing\r\n`);
          const deflate = createDeflateRaw();
          const inflate = createInflateRaw();
          deflate.pipe(socket);
          socket.pipe(inflate);
          inflate.on('data', () => {
            deflate.write(flood);
            deflate.flush(constants.Z_SYNC_FLUSH);
          });
        }
      };
      socket.on('data', plain);
    });
  }

  async listen(): Promise<number> {
    await new Promise<void>((resolve) => this.#server.listen(0, '127.0.0.1', resolve));
    return (this.#server.address() as { port: number }).port;
  }

  async close(): Promise<void> {
    for (const socket of this.#sockets) socket.destroy();
    await new Promise<void>((resolve) => this.#server.close(() => resolve()));
  }
}

describe('IMAP client: a compressed stream that inflates beyond the limits', () => {
  let server: CompressingServer | undefined;
  afterEach(async () => {
    await server?.close();
  });

  it('refuses a 64 MiB line sent as a few kilobytes, inflating no more than it reads', async () => {
    // 64 MiB without a line end: DEFLATE packs it into about 64 KiB.
    server = new CompressingServer(Buffer.alloc(64 * 2 ** 20, 'x'));
    const port = await server.listen();
    const client = await createImapClient({
      host: '127.0.0.1',
      port,
      starttls: 'never',
      auth: { username: 'alice', password: 'secret', allowCleartext: true },
      limits: { maxLineLength: 1024 * 1024 },
    });
    expect(client.compressed).toBe(true);
    const heap = process.memoryUsage().heapUsed;
    const error = await client.noop().catch((caught: unknown) => caught);
    expect(error).toBeInstanceOf(ProtocolError);
    expect((error as Error).message).toMatch(/too long/i);
    expect(client.usable).toBe(false);
    expect((process.memoryUsage().heapUsed - heap) / 2 ** 20).toBeLessThan(32);
  });
});
