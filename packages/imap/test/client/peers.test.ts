import { existsSync } from 'node:fs';
import { ConnectionError } from '@postwire/core';
import { createMemoryStore } from '@postwire/store';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { testCertificates } from '../../../core/test/support/certs.js';
import { type ImapClient, type ImapFetchedMessage, SequenceSet } from '../../src/index.js';
import { createImapClient, type NodeImapClientOptions } from '../../src/node/client.js';
import { createImapServer, type ImapServer } from '../../src/node/server.js';
import { dovecotAvailable, type ImapDovecot, startImapDovecot } from '../support/dovecot-imap.js';
import { LinkProxy } from './link-proxy.js';

/**
 * The client's suite, run twice: against Postwire's own server (memory store) and against a real
 * Dovecot. Both are reached over STARTTLS (required) on loopback, and over implicit TLS, and both
 * compress (COMPRESS=DEFLATE; Dovecot when its imap_zlib plugin is installed).
 */

const PASSWORD = 'secret';
const USERS = ['alice', 'bob'];

/** A server to run the suite against. */
interface Peer {
  readonly port: number;
  readonly tlsPort: number;
  readonly ca: string;
  /** It offers COMPRESS=DEFLATE. */
  readonly compresses: boolean;
  stop(): Promise<void>;
}

async function ourServer(): Promise<Peer> {
  const { cert, key, ca } = testCertificates();
  const store = createMemoryStore();
  const options = {
    store,
    host: '127.0.0.1',
    port: 0,
    onAuth: ({ username, password }: { username: string; password: string }) =>
      USERS.includes(username) && password === PASSWORD,
  };
  const plain: ImapServer = createImapServer({ ...options, startTls: { cert, key } });
  const implicit: ImapServer = createImapServer({ ...options, tls: { cert, key } });
  const [{ port }, { port: tlsPort }] = await Promise.all([plain.listen(), implicit.listen()]);
  return {
    port,
    tlsPort,
    ca,
    compresses: true,
    async stop() {
      await Promise.all([plain.close({ timeout: 1000 }), implicit.close({ timeout: 1000 })]);
      await store.close();
    },
  };
}

/** Dovecot 2.3's COMPRESS=DEFLATE comes with its imap_zlib plugin, in dovecot-imapd. */
const IMAP_ZLIB = '/usr/lib/dovecot/modules/lib30_imap_zlib_plugin.so';

async function dovecotServer(): Promise<Peer> {
  const compresses = existsSync(IMAP_ZLIB);
  if (!compresses) console.warn(`Dovecot runs uncompressed: ${IMAP_ZLIB} is not installed`);
  const dovecot: ImapDovecot = await startImapDovecot({
    users: Object.fromEntries(USERS.map((user) => [user, PASSWORD])),
    extraConfig: compresses
      ? ['mail_plugins = $mail_plugins zlib', 'protocol imap {\n  mail_plugins = $mail_plugins imap_zlib\n}']
      : [],
  });
  return {
    port: dovecot.port,
    tlsPort: dovecot.tlsPort,
    ca: dovecot.ca,
    compresses,
    stop: () => dovecot.stop(),
  };
}

const hasDovecot = dovecotAvailable();
if (!hasDovecot) console.warn('skipping the IMAP client suite against Dovecot: dovecot is not installed');

const encoder = new TextEncoder();

/** The test messages, each a distinct case for SEARCH, SORT and THREAD. */
const MESSAGES = [
  [
    'From: Ann <ann@example.org>',
    'To: bob@example.net',
    'Subject: Lunch plans',
    'Date: Mon, 1 Jan 2024 10:00:00 +0000',
    'Message-ID: <one@example.org>',
    '',
    'Shall we eat at noon?',
    '',
  ].join('\r\n'),
  [
    'From: Bob <bob@example.net>',
    'To: ann@example.org',
    'Subject: Re: Lunch plans',
    'Date: Tue, 2 Jan 2024 10:00:00 +0000',
    'Message-ID: <two@example.net>',
    'In-Reply-To: <one@example.org>',
    'References: <one@example.org>',
    'MIME-Version: 1.0',
    'Content-Type: multipart/mixed; boundary="b1"',
    '',
    '--b1',
    'Content-Type: text/plain; charset=utf-8',
    '',
    'Yes, noon works.',
    '--b1',
    'Content-Type: application/octet-stream',
    'Content-Transfer-Encoding: base64',
    '',
    'AAECAwQ=',
    '--b1--',
    '',
  ].join('\r\n'),
  [
    'From: Carol <carol@example.com>',
    'To: bob@example.net',
    'Subject: =?UTF-8?Q?Gr=C3=BC=C3=9Fe?=',
    'Date: Wed, 3 Jan 2024 10:00:00 +0000',
    'Message-ID: <three@example.com>',
    '',
    `Greetings. ${'All work and no play. '.repeat(20_000)}`,
    '',
  ].join('\r\n'),
];

/** A message's bytes as a web stream of small chunks. */
function streamOf(text: string): ReadableStream<Uint8Array> {
  const bytes = encoder.encode(text);
  let offset = 0;
  return new ReadableStream({
    pull(controller) {
      if (offset >= bytes.length) return controller.close();
      controller.enqueue(bytes.subarray(offset, offset + 16 * 1024));
      offset += 16 * 1024;
    },
  });
}

describe.each([
  ['Postwire', ourServer, true],
  ['Dovecot', dovecotServer, hasDovecot],
])('IMAP client against %s', (_, start, available) => {
  let peer: Peer;
  const clients: ImapClient[] = [];
  const proxies: LinkProxy[] = [];
  let mailboxes = 0;

  beforeAll(async () => {
    if (available) peer = await start();
  }, 20_000);
  afterEach(async () => {
    await Promise.all(clients.splice(0).map((client) => client.logout()));
    await Promise.all(proxies.splice(0).map((proxy) => proxy.close()));
  });
  afterAll(async () => {
    await peer?.stop();
  });

  async function connect(user = 'alice', more: Partial<NodeImapClientOptions> = {}): Promise<ImapClient> {
    const client = await createImapClient({
      host: '127.0.0.1',
      port: peer.port,
      starttls: 'required',
      tls: { ca: peer.ca },
      auth: { username: user, password: PASSWORD },
      ...more,
    });
    clients.push(client);
    return client;
  }

  /** A proxy in front of the peer's STARTTLS port, closed after the test. */
  async function proxy(): Promise<LinkProxy> {
    const started = await LinkProxy.start(peer.port);
    proxies.push(started);
    return started;
  }

  /** A fresh mailbox holding the test messages. */
  async function filled(client: ImapClient): Promise<string> {
    const path = `Box${++mailboxes}`;
    await client.create(path);
    for (const [index, text] of MESSAGES.entries()) {
      await client.append(path, streamOf(text), {
        size: encoder.encode(text).length,
        flags: index === 0 ? ['\\Seen'] : [],
        date: new Date(Date.UTC(2024, 0, index + 1, 12)),
      });
    }
    return path;
  }

  it.runIf(available)(
    'logs in over STARTTLS and over implicit TLS, and reads the capabilities again',
    async () => {
      const client = await connect();
      expect(client.secure).toBe(true);
      expect(client.capabilities.has('IMAP4REV1')).toBe(true);
      expect(client.capabilities.has('STARTTLS')).toBe(false);
      expect(client.capabilities.has('LOGINDISABLED')).toBe(false);
      const implicit = await connect('bob', { port: peer.tlsPort, secure: true, starttls: 'required' });
      expect(implicit.secure).toBe(true);
      await implicit.noop();
      expect(await client.namespace()).toMatchObject({ personal: [{ prefix: '' }] });
      expect(await client.id({ name: 'postwire-test' })).not.toBeUndefined();
    },
  );

  it.runIf(available)(
    'creates, lists, reads the status of, renames, subscribes and deletes mailboxes',
    async () => {
      const client = await connect();
      const path = `Mailbox${++mailboxes}`;
      await client.create(path);
      await client.append(path, MESSAGES[0]!);
      await client.subscribe(path);
      const list = await client.list({ status: ['MESSAGES', 'UIDNEXT', 'UIDVALIDITY'], subscribed: true });
      const entry = list.find((candidate) => candidate.path === path);
      expect(entry).toMatchObject({ name: path, subscribed: true, status: { messages: 1, uidNext: 2 } });
      expect(list.some((candidate) => candidate.path === 'INBOX')).toBe(true);
      expect(await client.status(path, ['MESSAGES', 'UNSEEN'])).toEqual({ path, messages: 1, unseen: 1 });
      await client.unsubscribe(path);
      await client.rename(path, `${path}-renamed`);
      const renamed = await client.list({ pattern: `${path}*`, subscribed: true });
      expect(renamed.map((candidate) => [candidate.path, candidate.subscribed])).toEqual([
        [`${path}-renamed`, false],
      ]);
      await client.delete(`${path}-renamed`);
      expect(await client.list({ pattern: `${path}*` })).toEqual([]);
      await expect(client.status(path)).rejects.toMatchObject({ name: 'ImapResponseError', status: 'NO' });
    },
  );

  it.runIf(available)(
    'appends streamed messages and fetches envelopes, structures and bodies streamed',
    async () => {
      const client = await connect();
      const path = `Box${++mailboxes}`;
      await client.create(path);
      const appended = await client.append(path, streamOf(MESSAGES[2]!), {
        size: encoder.encode(MESSAGES[2]!).length,
      });
      const opened = await client.open(path);
      expect(opened).toMatchObject({ path, exists: 1, readOnly: false, uidValidity: appended.uidValidity });
      await client.append(path, MESSAGES[1]!);
      const seen: string[] = [];
      for await (const message of client.fetch('1:*', {
        uid: true,
        flags: true,
        envelope: true,
        size: true,
        internalDate: true,
        bodyStructure: true,
        bodies: ['', 'HEADER.FIELDS (Subject)'],
      })) {
        const bodies: string[] = [];
        for await (const part of message.bodies) bodies.push(await new Response(part.content).text());
        const original = MESSAGES[message.seq === 1 ? 2 : 1]!;
        expect(bodies[0]).toBe(original);
        expect(bodies[1]).toBe(
          `${original.split('\r\n').find((line) => line.startsWith('Subject:'))}\r\n\r\n`,
        );
        expect(message.size).toBe(encoder.encode(original).length);
        expect(message.internalDate).toBeInstanceOf(Date);
        seen.push(`${message.uid} ${message.envelope?.subject} ${message.bodyStructure?.kind}`);
      }
      expect(seen).toEqual([
        `${appended.uid} =?UTF-8?Q?Gr=C3=BC=C3=9Fe?= text`,
        `${appended.uid! + 1} Re: Lunch plans multipart`,
      ]);
      const [binary] = await client.fetchAll(2, { bodies: [{ section: '2', binary: true }] });
      expect([...(await (await binary!.body('2'))!.bytes())]).toEqual([0, 1, 2, 3, 4]);
    },
  );

  it.runIf(available)('searches, sorts and threads', async () => {
    const client = await connect();
    const path = await filled(client);
    await client.open(path);
    expect(await client.search({})).toEqual([1, 2, 3]);
    expect(await client.search({ seen: false })).toEqual([2, 3]);
    expect(await client.search({ from: 'ann', or: [{ seen: true }, { larger: 100_000 }] })).toEqual([1]);
    expect(await client.search({ not: { subject: 'lunch' } })).toEqual([3]);
    expect(await client.search({ subject: 'Grüße' })).toEqual([3]);
    expect(await client.search({ since: '2024-01-02', header: { 'In-Reply-To': 'one@' } })).toEqual([2]);
    expect(await client.search({ larger: 100_000 }, { uid: true })).toHaveLength(1);
    expect(await client.sort(['REVERSE DATE'])).toEqual([3, 2, 1]);
    expect(await client.sort(['FROM'], { seen: false })).toEqual([2, 3]);
    expect(await client.thread('REFERENCES')).toEqual([
      { chain: [1, 2], children: [] },
      { chain: [3], children: [] },
    ]);
  });

  it.runIf(available)('stores flags, copies, moves and expunges', async () => {
    const client = await connect();
    const path = await filled(client);
    const archive = `${path}-archive`;
    await client.create(archive);
    await client.open(path);
    const stored = await client.store('2:3', ['\\Flagged', '$Important'], { uid: true });
    expect(stored.updates.map((update) => [update.uid, update.flags?.includes('\\Flagged')])).toEqual([
      [2, true],
      [3, true],
    ]);
    expect(await client.search({ flagged: true, keyword: '$Important' })).toEqual([2, 3]);
    const copied = await client.copy(1, archive);
    expect(copied?.destination.toString()).toBe('1');
    const moved = await client.move('2', archive, { uid: true });
    expect(moved?.source.toString()).toBe('2');
    expect(client.mailbox?.exists).toBe(2);
    await client.store(1, '\\Deleted');
    const expunged = await client.expunge();
    expect(expunged.expunged).toEqual([1]);
    expect(await client.status(archive, ['MESSAGES'])).toEqual({ path: archive, messages: 2 });
    expect((await client.fetchAll('1:*', { uid: true })).map((message) => message.uid)).toEqual([3]);
    await client.store(1, '\\Deleted');
    await client.expunge('3');
    expect(client.mailbox?.exists).toBe(0);
  });

  it.runIf(available)('issues commands inside a fetch loop and leaves the loop early', async () => {
    const client = await connect();
    const path = await filled(client);
    await client.open(path);
    const subjects: string[] = [];
    for await (const message of client.fetch('1:*', { envelope: true, bodies: [''] })) {
      await client.store(message.seq, '\\Answered');
      subjects.push(
        `${message.envelope?.subject?.slice(0, 5)} ${(await (await message.body())!.bytes()).length}`,
      );
    }
    expect(subjects).toEqual(
      MESSAGES.map((text, index) => `${['Lunch', 'Re: L', '=?UTF'][index]} ${encoder.encode(text).length}`),
    );
    let first: ImapFetchedMessage | undefined;
    for await (const message of client.fetch('1:*', { bodies: [''] })) {
      first = message;
      break;
    }
    expect(first?.seq).toBe(1);
    expect(await client.search({ answered: true })).toEqual([1, 2, 3]);
  });

  it.runIf(available)("hears another connection's APPEND while idling", async () => {
    const watcher = await connect('bob');
    const writer = await connect('bob');
    await watcher.open('INBOX');
    const controller = new AbortController();
    const counts: number[] = [];
    watcher.addEventListener('exists', (event) => {
      counts.push(event.detail.count);
      controller.abort();
    });
    const idle = watcher.idle({ signal: controller.signal });
    await new Promise((resolve) => setTimeout(resolve, 50));
    await writer.append('INBOX', MESSAGES[0]!);
    await idle;
    expect(counts).toEqual([watcher.mailbox?.exists ?? 0]);
    expect(counts[0]).toBeGreaterThan(0);
    await watcher.noop();
  });

  it.runIf(available)(
    'resynchronises with QRESYNC: what changed and what vanished since a saved state',
    async () => {
      const client = await connect();
      const path = await filled(client);
      const saved = await client.open(path, { condstore: true });
      expect(saved.highestModseq).toBeGreaterThan(0);
      await client.closeMailbox();
      const other = await connect();
      await other.open(path);
      await other.store(2, '\\Flagged', { uid: true });
      await other.store(3, '\\Deleted', { uid: true });
      await other.expunge();
      const reopened = await client.open(path, {
        qresync: { uidValidity: saved.uidValidity!, modseq: saved.highestModseq!, knownUids: '1:3' },
      });
      expect(reopened.exists).toBe(2);
      expect(reopened.qresync?.vanished?.toString()).toBe('3');
      expect(
        reopened.qresync?.changed.map((update) => [update.uid, update.flags?.includes('\\Flagged')]),
      ).toEqual([[2, true]]);
      expect(reopened.highestModseq).toBeGreaterThan(saved.highestModseq!);
    },
  );

  it.runIf(available)('names mailboxes in modified UTF-7 and decodes them back', async () => {
    const client = await connect();
    const path = `Été & Ünïcødé ${++mailboxes}`;
    await client.create(path);
    const [entry] = await client.list({ pattern: `Été & Ünïcødé ${mailboxes}` });
    expect(entry?.path).toBe(path);
    await client.append(path, MESSAGES[0]!);
    expect(await client.status(path, ['MESSAGES'])).toEqual({ path, messages: 1 });
    expect(await client.open(path)).toMatchObject({ path, exists: 1 });
    await client.closeMailbox();
    await client.delete(path);
  });

  it.runIf(available)('streams a 1 MB body, and fetches part of one', async () => {
    const client = await connect();
    const path = `Box${++mailboxes}`;
    const big = `Subject: big\r\n\r\n${'0123456789abcdef'.repeat(65_536)}\r\n`;
    await client.create(path);
    await client.append(path, streamOf(big), { size: big.length });
    await client.open(path, { readOnly: true });
    let received = 0;
    for await (const message of client.fetch(1, {
      bodies: ['', { section: 'TEXT', partial: { offset: 2, count: 5 } }],
    })) {
      for await (const part of message.bodies) {
        if (part.section === '') for await (const chunk of part) received += chunk.length;
        else expect([part.origin, await part.text()]).toEqual([2, '23456']);
      }
    }
    expect(received).toBe(big.length);
    expect(client.mailbox?.readOnly).toBe(true);
  });

  it.runIf(available)(
    'stores conditionally (CONDSTORE) and fetches what changed since a mod-sequence',
    async () => {
      const client = await connect();
      const path = await filled(client);
      const opened = await client.open(path, { condstore: true });
      const [first] = await client.fetchAll(1, { modseq: true }, { uid: false });
      const touched = await client.store(2, '\\Flagged', { unchangedSince: first!.modseq! + 1000 });
      expect(touched.modified).toBeUndefined();
      expect(touched.updates[0]?.modseq).toBeGreaterThan(opened.highestModseq!);
      const stale = await client.store(2, '\\Answered', { unchangedSince: 1 });
      expect(stale.modified?.toString()).toBe('2');
      const changed = await client.fetchAll('1:*', { flags: true }, { changedSince: opened.highestModseq! });
      expect(changed.map((message) => [message.seq, message.flags?.includes('\\Flagged')])).toEqual([
        [2, true],
      ]);
      await client.store(1, '\\Deleted');
      await client.closeMailbox({ expunge: true });
      await client.enable(['QRESYNC']);
      const reopened = await client.open(path);
      const fetch = client.fetch(
        '1:*',
        { flags: true },
        { uid: true, changedSince: opened.highestModseq!, vanished: true },
      );
      const uids: (number | undefined)[] = [];
      for await (const message of fetch) uids.push(message.uid);
      expect(uids).toEqual([2]);
      expect(fetch.vanished?.toString()).toBe('1');
      expect(reopened.exists).toBe(2);
    },
  );

  it.runIf(available)("hears another connection's flag changes and expunges while idling", async () => {
    const watcher = await connect('bob');
    const writer = await connect('bob');
    const path = await filled(writer);
    await watcher.open(path);
    await writer.open(path);
    const events: string[] = [];
    const idleUntil = async (type: 'flags' | 'expunge', change: () => Promise<unknown>): Promise<void> => {
      const controller = new AbortController();
      const listener = (event: CustomEvent<{ seq: number; flags?: readonly string[] }>): void => {
        events.push(`${type} ${event.detail.seq}${event.detail.flags ? ` ${event.detail.flags}` : ''}`);
        controller.abort();
      };
      watcher.addEventListener(type, listener);
      const idle = watcher.idle({ signal: controller.signal });
      await new Promise((resolve) => setTimeout(resolve, 50));
      await change();
      await idle;
      watcher.removeEventListener(type, listener);
    };
    await idleUntil('flags', () => writer.store(2, '\\Deleted', { silent: true }));
    await idleUntil('expunge', () => writer.expunge());
    expect(events).toHaveLength(2);
    expect(events[0]).toMatch(/^flags 2 .*\\Deleted/);
    expect(events[1]).toBe('expunge 2');
    expect(watcher.mailbox?.exists).toBe(2);
  });

  it.runIf(available)(
    "pipelines many calls, and reports another session's changes made during a fetch",
    async () => {
      const client = await connect();
      const other = await connect();
      const path = `Many${++mailboxes}`;
      await client.create(path);
      const appended = await Promise.all(
        Array.from({ length: 100 }, (_, index) =>
          client.append(path, `Subject: m${index}\r\n\r\n${'x'.repeat(index)}\r\n`),
        ),
      );
      expect(appended.map((result) => result.uid)).toEqual(
        Array.from({ length: 100 }, (_, index) => index + 1),
      );
      await client.open(path);
      await other.open(path);
      const changed: number[] = [];
      client.addEventListener('flags', (event) => changed.push(event.detail.seq));
      let count = 0;
      for await (const message of client.fetch('1:*', { uid: true, bodies: ['TEXT'] })) {
        count++;
        if (count % 25 === 0) {
          await other.store(count - 1, '$Other');
          await client.store(message.seq, '\\Flagged', { silent: true });
        }
        expect((await (await message.body())!.text()).length).toBe(message.seq + 1);
      }
      await client.noop();
      expect(count).toBe(100);
      expect(changed).toEqual([24, 49, 74, 99]);
      expect(await client.search({ keyword: '$Other' })).toEqual([24, 49, 74, 99]);
      expect(await client.search({ flagged: true })).toEqual([25, 50, 75, 100]);
    },
  );

  it.runIf(available)('runs a raw command with exec', async () => {
    const client = await connect();
    const path = await filled(client);
    const result = await client.exec('STATUS', [{ mailbox: path }, [{ raw: 'MESSAGES' }]]);
    expect(result.untagged).toEqual([{ type: 'STATUS', mailbox: path, values: { MESSAGES: 3 } }]);
  });
  it.runIf(available)('compresses both directions after login, unless told not to', async () => {
    const link = await proxy();
    const client = await connect('alice', { port: link.port });
    expect(client.compressed).toBe(peer.compresses);
    const path = `Big${++mailboxes}`;
    const big = `Subject: big\r\n\r\n${'All work and no play. '.repeat(50_000)}\r\n`;
    await client.create(path);
    await client.append(path, big);
    await client.open(path);
    const [message] = await client.fetchAll(1, { bodies: [''] });
    expect(await (await message!.body())!.text()).toBe(big);
    // About 1 MB each way, inside TLS: compressed, a few kilobytes.
    if (peer.compresses) expect(Math.max(link.up, link.down)).toBeLessThan(100_000);
    else expect(Math.min(link.up, link.down)).toBeGreaterThan(big.length);
    const plain = await connect('bob', { compress: false });
    expect(plain.compressed).toBe(false);
    await plain.noop();
  });

  it.runIf(available).each(['qresync', 'condstore'] as const)(
    'reconnects after the link drops, and reports what changed meanwhile (%s)',
    async (method) => {
      const writer = await connect();
      const path = await filled(writer);
      const link = await proxy();
      const client = await connect('alice', { port: link.port, reconnect: { delay: 10 } });
      if (method === 'qresync') await client.enable(['QRESYNC']);
      await client.open(path, { condstore: true });
      const vanished: string[] = [];
      const flagged: number[] = [];
      client.addEventListener('vanished', ({ detail }) => vanished.push(detail.uids.toString()));
      client.addEventListener('flags', ({ detail }) => {
        if (detail.flags?.includes('\\Flagged')) flagged.push(detail.uid!);
      });
      const disconnected = new Promise((resolve) => client.addEventListener('disconnect', resolve));
      const reconnected = new Promise<CustomEvent>((resolve) =>
        client.addEventListener('reconnect', resolve),
      );
      link.hold();
      link.cut();
      await disconnected;
      // Made during the outage: it waits for the mailbox to be restored.
      const status = client.status(path, ['MESSAGES']);
      await writer.open(path);
      await writer.store(2, '\\Flagged', { uid: true });
      await writer.store(3, '\\Deleted', { uid: true });
      await writer.expunge();
      await writer.append(path, MESSAGES[0]!);
      link.release();
      const { detail } = await reconnected;
      expect(detail).toMatchObject({ resync: method, attempts: 1, mailbox: { path, exists: 3, uidNext: 5 } });
      expect(await status).toEqual({ path, messages: 3 });
      const gone = SequenceSet.parse(vanished.join(','));
      expect([1, 2, 3, 4].map((uid) => gone.has(uid))).toEqual([false, false, true, false]);
      expect(flagged).toEqual([2]);
      expect(await client.search({ flagged: true }, { uid: true })).toEqual([2]);
      expect(client.mailbox).toMatchObject({ exists: 3 });
    },
  );

  it.runIf(available)(
    'fails a fetch in progress when the link drops, and goes on once reconnected',
    async () => {
      const writer = await connect();
      const path = `Huge${++mailboxes}`;
      // More than the kernel buffers on the way hold, uncompressed: the link breaks mid-body.
      const huge = `Subject: huge\r\n\r\n${'0123456789abcdef'.repeat(1_048_576)}\r\n`;
      await writer.create(path);
      await writer.append(path, huge);
      const link = await proxy();
      const client = await connect('alice', { port: link.port, compress: false, reconnect: { delay: 10 } });
      await client.open(path);
      const reconnected = new Promise((resolve) => client.addEventListener('reconnect', resolve));
      const seen: number[] = [];
      const error = await (async () => {
        for await (const message of client.fetch(1, { bodies: [''] })) {
          seen.push(message.seq);
          link.cut();
          await (await message.body())!.bytes();
        }
      })().catch((caught: unknown) => caught);
      expect(seen).toEqual([1]);
      expect(error).toBeInstanceOf(ConnectionError);
      await reconnected;
      expect((await client.fetchAll('1:*', { uid: true, size: true }))[0]).toMatchObject({
        uid: 1,
        size: huge.length,
      });
    },
  );
});
