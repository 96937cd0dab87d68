import { AuthenticationError, ErrorCode, TlsError } from '@postwire/core';
import { createMemoryStore } from '@postwire/store';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { testCertificates } from '../../../core/test/support/certs.js';
import { Pop3ResponseError } from '../../src/client/errors.js';
import { createPop3Client, type NodePop3ClientOptions } from '../../src/node/client.js';
import { dovecotAvailable, type Pop3Dovecot, startPop3Dovecot } from '../support/client-dovecot.js';

/**
 * The client against a real Dovecot 2.3 (`dovecot-pop3d`): every command, STLS required and
 * opportunistic, POP3S, SASL (PLAIN, CRAM-MD5, SCRAM-SHA-1, SCRAM-SHA-256), APOP, USER/PASS,
 * pipelining, and sync keeping, deleting and interrupted. Each test logs in as a user of its own.
 */

const available = dovecotAvailable();
if (!available) {
  console.log(
    'POP3 client/Dovecot tests skipped: /usr/sbin/dovecot is missing (.ci/run installs dovecot-pop3d).',
  );
}

const TIMEOUT = 30_000;
const USERS = 20;
const certs = available ? testCertificates() : undefined;
let withTls: Pop3Dovecot;
let withoutTls: Pop3Dovecot;
let nextUser = 0;

beforeAll(async () => {
  if (!available) return;
  const users = Object.fromEntries(Array.from({ length: USERS }, (_, i) => [`user${i}`, `pw-${i} x`]));
  [withTls, withoutTls] = await Promise.all([
    startPop3Dovecot({ users, tls: { cert: certs!.cert, key: certs!.key } }),
    startPop3Dovecot({ users }),
  ]);
}, TIMEOUT);

afterAll(async () => {
  await Promise.all([withTls?.stop(), withoutTls?.stop()]);
});

/** A user of its own for one test, with `messages` delivered to both servers' INBOX. */
async function user(...messages: string[]): Promise<{ username: string; password: string }> {
  const index = nextUser++;
  const username = `user${index}`;
  for (const message of messages) {
    await withTls.deliver(username, message);
    await withoutTls.deliver(username, message);
  }
  return { username, password: `pw-${index} x` };
}

function message(subject: string, body = 'Hello.\r\n'): string {
  return `From: a@postwire.test\r\nTo: b@postwire.test\r\nSubject: ${subject}\r\n\r\n${body}`;
}

/** Options for the TLS server: STLS required, the test CA trusted, every line traced into `trace`. */
function tlsOptions(
  auth: NodePop3ClientOptions['auth'],
  trace: string[] = [],
  more: Partial<NodePop3ClientOptions> = {},
): NodePop3ClientOptions {
  return {
    host: '127.0.0.1',
    port: withTls.port,
    starttls: 'required',
    tls: { ca: certs!.ca },
    auth,
    trace: (event) => trace.push(`${event.direction} ${event.line}`),
    ...more,
  };
}

async function text(stream: ReadableStream<Uint8Array>): Promise<string> {
  return new Response(stream).text();
}

describe.skipIf(!available)('POP3 client with Dovecot', () => {
  it(
    'upgrades with STLS, reads CAPA again on TLS and after login, and redacts the credentials',
    async () => {
      const credentials = await user();
      const trace: string[] = [];
      const pop3 = await createPop3Client(tlsOptions(credentials, trace));
      expect(pop3.secure).toBe(true);
      expect(pop3.capabilities).toMatchObject({ top: true, uidl: true, pipelining: true, stls: false });
      expect(trace.filter((line) => line.startsWith('out '))).toEqual([
        'out CAPA',
        'out STLS',
        'out CAPA',
        'out AUTH SCRAM-SHA-256 [redacted]',
        'out [redacted]',
        'out [redacted]',
        'out CAPA',
      ]);
      expect(trace.join('\n')).not.toContain(credentials.password);
      await pop3.quit();
    },
    TIMEOUT,
  );

  it(
    'runs every command: STAT, LIST, UIDL, RETR with dot-stuffing removed, TOP, DELE, RSET, NOOP, QUIT',
    async () => {
      const first = message('one', '.leading dot\r\n..two dots\r\n.\r\nend\r\n');
      const second = message('two', 'line 1\r\nline 2\r\nline 3\r\n');
      const third = message('three');
      const credentials = await user(first, second, third);
      const pop3 = await createPop3Client(tlsOptions(credentials));
      expect(await pop3.stat()).toEqual({ messages: 3, size: first.length + second.length + third.length });
      expect(await pop3.list()).toEqual([
        { message: 1, size: first.length },
        { message: 2, size: second.length },
        { message: 3, size: third.length },
      ]);
      expect(await pop3.list(2)).toEqual({ message: 2, size: second.length });
      const ids = await pop3.uidl();
      expect(ids.map((entry) => entry.message)).toEqual([1, 2, 3]);
      expect(new Set(ids.map((entry) => entry.uid)).size).toBe(3);
      expect(await pop3.uidl(3)).toEqual(ids[2]);
      expect(await text(await pop3.retr(1))).toBe(first);
      expect(await text(await pop3.top(2, 1))).toBe(`${second.split('\r\n\r\n')[0]}\r\n\r\nline 1\r\n`);
      await pop3.dele(1);
      await expect(pop3.retr(1)).rejects.toBeInstanceOf(Pop3ResponseError);
      expect(await pop3.stat()).toEqual({ messages: 2, size: second.length + third.length });
      await pop3.rset();
      expect((await pop3.stat()).messages).toBe(3);
      await pop3.noop();
      await pop3.dele(3);
      await pop3.quit();

      const again = await createPop3Client(tlsOptions(credentials));
      expect((await again.uidl()).map((entry) => entry.uid)).toEqual([ids[0]!.uid, ids[1]!.uid]);
      await again.close();
      expect(await withTls.count(credentials.username)).toBe(2);
    },
    TIMEOUT,
  );

  it(
    'streams a 3 MB message',
    async () => {
      const big = message('big', `${'0123456789'.repeat(10)}\r\n`.repeat(30_000));
      const credentials = await user(big);
      const pop3 = await createPop3Client(tlsOptions(credentials));
      let chunks = 0;
      let size = 0;
      const parts: Uint8Array[] = [];
      const reader = (await pop3.retr(1)).getReader();
      for (let read = await reader.read(); !read.done; read = await reader.read()) {
        const chunk = read.value;
        chunks++;
        size += chunk.byteLength;
        parts.push(chunk);
      }
      expect(size).toBe(big.length);
      expect(chunks).toBeGreaterThan(1);
      expect(Buffer.concat(parts).toString('latin1')).toBe(big);
      await pop3.quit();
    },
    TIMEOUT,
  );

  it(
    'pipelines: many RETR and DELE written at once, the responses read in order',
    async () => {
      const messages = Array.from({ length: 20 }, (_, i) => message(`m${i}`, `body ${i}\r\n`));
      const credentials = await user(...messages);
      const trace: string[] = [];
      const pop3 = await createPop3Client(tlsOptions(credentials, trace));
      trace.length = 0;
      const numbers = messages.map((_, i) => i + 1);
      const streams = await Promise.all(numbers.map((n) => pop3.retr(n)));
      const deletions = Promise.all(numbers.map((n) => pop3.dele(n)));
      expect(await Promise.all(streams.map(text))).toEqual(messages);
      await deletions;
      const firstResponse = trace.findIndex((line) => line.startsWith('in '));
      expect(trace.slice(0, firstResponse)).toEqual(numbers.map((n) => `out RETR ${n}`));
      await pop3.quit();
      expect(await withTls.count(credentials.username)).toBe(0);
    },
    TIMEOUT,
  );

  it(
    'logs in with each SASL mechanism, and refuses a wrong password',
    async () => {
      const credentials = await user();
      for (const mechanism of ['SCRAM-SHA-256', 'SCRAM-SHA-1', 'CRAM-MD5', 'PLAIN', 'LOGIN']) {
        const trace: string[] = [];
        const pop3 = await createPop3Client(tlsOptions({ ...credentials, mechanisms: [mechanism] }, trace));
        expect(trace.find((line) => line.startsWith('out AUTH'))).toMatch(
          new RegExp(`^out AUTH ${mechanism}\\b`),
        );
        await pop3.quit();
      }
      const error = await createPop3Client(tlsOptions({ ...credentials, password: 'wrong' })).catch(
        (failure: unknown) => failure,
      );
      expect(error).toBeInstanceOf(AuthenticationError);
      expect((error as AuthenticationError).cause).toMatchObject({ command: 'AUTH', responseCode: 'AUTH' });
    },
    TIMEOUT,
  );

  it(
    'logs in with APOP when asked, in cleartext',
    async () => {
      const credentials = await user(message('apop'));
      const trace: string[] = [];
      const pop3 = await createPop3Client({
        host: '127.0.0.1',
        port: withoutTls.port,
        starttls: 'never',
        auth: { ...credentials, apop: true },
        trace: (event) => trace.push(`${event.direction} ${event.line}`),
      });
      expect(trace).toContain(`out APOP ${credentials.username} [redacted]`);
      expect((await pop3.stat()).messages).toBe(1);
      await pop3.quit();
      await expect(
        createPop3Client({
          host: '127.0.0.1',
          port: withoutTls.port,
          starttls: 'never',
          auth: { ...credentials, password: 'wrong', apop: true },
        }),
      ).rejects.toBeInstanceOf(AuthenticationError);
    },
    TIMEOUT,
  );

  it(
    'logs in with USER/PASS inside TLS, and in cleartext only when allowed',
    async () => {
      const credentials = await user();
      const trace: string[] = [];
      const pop3 = await createPop3Client(tlsOptions({ ...credentials, mechanisms: [] }, trace));
      expect(trace).toContain(`out USER ${credentials.username}`);
      expect(trace).toContain('out PASS [redacted]');
      await pop3.quit();

      const cleartext: NodePop3ClientOptions = {
        host: '127.0.0.1',
        port: withoutTls.port,
        starttls: 'opportunistic',
        auth: { ...credentials, mechanisms: [] },
      };
      await expect(createPop3Client(cleartext)).rejects.toThrow(/cleartext/);
      const allowed = await createPop3Client({
        ...cleartext,
        auth: { ...cleartext.auth, allowCleartext: true },
      });
      expect(allowed.secure).toBe(false);
      await allowed.quit();
    },
    TIMEOUT,
  );

  it(
    'connects with implicit TLS (POP3S)',
    async () => {
      const credentials = await user(message('pop3s'));
      const trace: string[] = [];
      const pop3 = await createPop3Client(
        tlsOptions({ ...credentials, mechanisms: ['PLAIN'] }, trace, {
          port: withTls.securePort!,
          secure: true,
        }),
      );
      expect(pop3.secure).toBe(true);
      expect(trace).not.toContain('out STLS');
      expect((await pop3.stat()).messages).toBe(1);
      await pop3.quit();
    },
    TIMEOUT,
  );

  it(
    'stays in cleartext opportunistically where there is no STLS, and refuses to when STLS is required (case 8)',
    async () => {
      const credentials = await user();
      const trace: string[] = [];
      const pop3 = await createPop3Client({
        host: '127.0.0.1',
        port: withoutTls.port,
        auth: credentials,
        trace: (event) => trace.push(`${event.direction} ${event.line}`),
      });
      expect(pop3.secure).toBe(false);
      expect(trace).toContain('out AUTH SCRAM-SHA-256 [redacted]');
      await pop3.quit();

      trace.length = 0;
      const error = await createPop3Client({
        host: '127.0.0.1',
        port: withoutTls.port,
        starttls: 'required',
        auth: credentials,
        trace: (event) => trace.push(`${event.direction} ${event.line}`),
      }).catch((failure: unknown) => failure);
      expect(error).toBeInstanceOf(TlsError);
      expect(error).toMatchObject({ code: ErrorCode.StartTlsRequired });
      expect(trace.filter((line) => line.startsWith('out '))).toEqual(['out CAPA']);
    },
    TIMEOUT,
  );

  it(
    'refuses a certificate it cannot verify',
    async () => {
      const credentials = await user();
      await expect(createPop3Client(tlsOptions(credentials, [], { tls: {} }))).rejects.toBeInstanceOf(
        TlsError,
      );
    },
    TIMEOUT,
  );
});

describe.skipIf(!available)('POP3 client sync with Dovecot', () => {
  it(
    'keeps: downloads what is new, leaves everything on the server, and downloads only newer mail next time',
    async () => {
      const credentials = await user(message('k1'), message('k2'));
      const first: string[] = [];
      const result = await (await createPop3Client(tlsOptions(credentials))).sync({
        keep: true,
        onMessage: async ({ stream, size }) => {
          const content = await text(stream);
          expect(content.length).toBe(size);
          first.push(content);
        },
      });
      expect(first).toEqual([message('k1'), message('k2')]);
      expect(result.downloaded).toHaveLength(2);
      expect(result.deleted).toEqual([]);
      expect(result.retained).toEqual(result.downloaded);
      expect(await withTls.count(credentials.username)).toBe(2);

      await withTls.deliver(credentials.username, message('k3'));
      const second: string[] = [];
      const next = await (await createPop3Client(tlsOptions(credentials))).sync({
        keep: true,
        since: result.retained,
        onMessage: async ({ stream }) => {
          second.push(await text(stream));
        },
      });
      expect(second).toEqual([message('k3')]);
      expect(next.retained).toEqual([...result.retained, ...next.downloaded]);
      expect(await withTls.count(credentials.username)).toBe(3);
    },
    TIMEOUT,
  );

  it(
    'deletes: downloads into a store mailbox, byte for byte, and deletes on the server at QUIT',
    async () => {
      const messages = Array.from({ length: 40 }, (_, i) => message(`d${i}`, `.body ${i}\r\n`));
      const credentials = await user(...messages);
      const store = createMemoryStore();
      const inbox = await (await store.user('local')).open('INBOX');
      const downloaded: string[] = [];
      const result = await (await createPop3Client(tlsOptions(credentials))).sync({
        keep: false,
        store: inbox,
        onDownloaded: (uid) => {
          downloaded.push(uid);
        },
      });
      expect(result.downloaded).toHaveLength(40);
      expect(downloaded).toEqual(result.downloaded);
      expect(result.deleted).toEqual(result.downloaded);
      expect(result.retained).toEqual([]);
      const stored = await inbox.messages();
      expect(await Promise.all(stored.map(async ({ uid }) => text(inbox.read(uid))))).toEqual(messages);
      expect(await withTls.count(credentials.username)).toBe(0);
      await store.close();
    },
    TIMEOUT,
  );

  it(
    'is safe to interrupt: nothing is deleted, and the next run downloads the rest and deletes all',
    async () => {
      const messages = Array.from({ length: 5 }, (_, i) => message(`i${i}`));
      const credentials = await user(...messages);
      const persisted: string[] = [];
      const failure = new Error('disk full');
      await expect(
        (await createPop3Client(tlsOptions(credentials))).sync({
          keep: false,
          onMessage: async ({ stream }) => {
            await text(stream);
            if (persisted.length === 2) throw failure;
          },
          onDownloaded: (uid) => {
            persisted.push(uid);
          },
        }),
      ).rejects.toBe(failure);
      expect(persisted).toHaveLength(2);
      expect(await withTls.count(credentials.username)).toBe(5);

      const controller = new AbortController();
      await expect(
        (await createPop3Client(tlsOptions(credentials))).sync({
          keep: false,
          since: persisted,
          signal: controller.signal,
          onMessage: async ({ stream }) => {
            const reader = stream.getReader();
            await reader.read();
            controller.abort();
            await reader.read();
          },
        }),
      ).rejects.toMatchObject({ code: ErrorCode.Aborted });
      expect(await withTls.count(credentials.username)).toBe(5);

      const rest: string[] = [];
      const result = await (await createPop3Client(tlsOptions(credentials))).sync({
        keep: false,
        since: persisted,
        onMessage: async ({ stream }) => {
          rest.push(await text(stream));
        },
      });
      expect(rest).toEqual(messages.slice(2));
      expect(result.deleted).toHaveLength(5);
      expect(await withTls.count(credentials.username)).toBe(0);
    },
    TIMEOUT,
  );
});
