import type { Connector, Transport } from '@postwire/core';
import { createPop3Client, Pop3ResponseError } from '@postwire/pop3';
import { describe, expect, it } from 'vitest';

const encoder = new TextEncoder();
const decoder = new TextDecoder();

/**
 * An in-memory connection to a scripted server, without sockets: every write the client makes is
 * recorded as it was made, and each answer reaches the client as one chunk.
 */
function memoryServer(answer: (line: string) => string | undefined) {
  const writes: string[] = [];
  let server!: ReadableStreamDefaultController<Uint8Array>;
  const transport: Transport = {
    readable: new ReadableStream<Uint8Array>({
      start(controller) {
        server = controller;
        controller.enqueue(encoder.encode('+OK ready\r\n'));
      },
    }),
    writable: new WritableStream<Uint8Array>({
      write(chunk) {
        const text = decoder.decode(chunk);
        writes.push(text);
        for (const line of text.split('\r\n').slice(0, -1)) {
          const response = answer(line);
          if (response !== undefined) server.enqueue(encoder.encode(response));
        }
      },
    }),
    closed: Promise.resolve(),
    info: { secure: true },
    startTls: () => Promise.reject(new Error('no STLS here')),
    async close() {
      try {
        server.close();
      } catch {
        // Already closed.
      }
    },
  };
  const connector: Connector = async () => transport;
  return { connector, writes, unread: () => 1 - (server.desiredSize ?? 0) };
}

const BIG = `Subject: big\r\n\r\n${'x'.repeat(1024 * 1024)}\r\n`;

function maildrop(line: string): string | undefined {
  if (line === 'CAPA') return '+OK\r\nUSER\r\nPIPELINING\r\n.\r\n';
  if (line === 'RETR 1') return `+OK\r\n${BIG}.\r\n`;
  if (line.startsWith('QUIT')) return '+OK bye\r\n';
  if (line === 'DELE 9') return '-ERR no such message\r\n';
  return '+OK\r\n';
}

describe('POP3 client session over an in-memory connection', () => {
  it('writes the commands asked for in one tick in one write when the server pipelines', async () => {
    const { connector, writes } = memoryServer(maildrop);
    const pop3 = await createPop3Client({
      host: 'pop.example',
      connector,
      auth: { username: 'alice', password: 'secret', mechanisms: [] },
    });
    expect(writes).toEqual(['CAPA\r\n', 'USER alice\r\n', 'PASS secret\r\n', 'CAPA\r\n']);
    writes.length = 0;
    const results = await Promise.allSettled([pop3.dele(1), pop3.dele(9), pop3.noop(), pop3.rset()]);
    expect(writes).toEqual(['DELE 1\r\nDELE 9\r\nNOOP\r\nRSET\r\n']);
    expect(results.map((result) => result.status)).toEqual([
      'fulfilled',
      'rejected',
      'fulfilled',
      'fulfilled',
    ]);
    expect((results[1] as PromiseRejectedResult).reason).toBeInstanceOf(Pop3ResponseError);
    await pop3.quit();
  });

  it('stops reading from the connection while a message reader is behind, and goes on once it reads', async () => {
    const { connector, unread } = memoryServer(maildrop);
    const pop3 = await createPop3Client({
      host: 'pop.example',
      connector,
      auth: { username: 'alice', password: 'secret', mechanisms: [] },
    });
    const message = pop3.retr(1);
    const noop = pop3.noop();
    const stream = await message;
    await new Promise((resolve) => setTimeout(resolve, 0));
    expect(unread()).toBe(1);
    expect(await new Response(stream).text()).toBe(BIG);
    await noop;
    expect(unread()).toBe(0);
    await pop3.quit();
  });
});
