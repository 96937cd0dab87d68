import { AbortError } from '@postwire/core';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import type { ImapFetchedMessage } from '../../src/index.js';
import type { MemoryImapServer } from './memory-server.js';
import { after, mailboxScript, scripted, tick } from './scripts.js';

const MB = 1024 * 1024;
const BIG = `Subject: big\r\n\r\n${'x'.repeat(MB)}\r\n`;

/** A FETCH response with a body literal. */
function fetched(seq: number, before: string, body: string, afterBody = ''): string {
  return `* ${seq} FETCH (${before}BODY[] {${body.length}}\r\n${body}${afterBody})\r\n`;
}

/** A literal holding `text`. */
function literal(text: string): string {
  return `{${text.length}}\r\n${text}`;
}

/** Sends `text` in chunks of `size` octets, as a network would. */
function sendChunked(server: MemoryImapServer, text: string, size = 64 * 1024): void {
  for (let i = 0; i < text.length; i += size) server.send(text.slice(i, i + size));
}

/** A server whose FETCH answers with `answer` (sent in 64 KiB chunks) and whose other answers are plain. */
async function fetchServer(answer: (tag: string) => string) {
  const setup = await scripted(
    mailboxScript((_, verb, tag, server) => {
      if (!/FETCH/.test(verb)) return undefined;
      sendChunked(server, answer(tag));
      return '';
    }),
  );
  await setup.client.open('INBOX');
  return setup;
}

describe('IMAP client: fetch', () => {
  it('yields each message with its attributes, and its body as a stream', async () => {
    const { client, server } = await fetchServer(
      (tag) =>
        fetched(1, 'UID 11 FLAGS (\\Seen) ', 'one\r\n') +
        fetched(2, 'UID 12 FLAGS () ', 'two\r\n') +
        `${tag} OK done\r\n`,
    );
    const seen: [number | undefined, readonly string[] | undefined, string][] = [];
    for await (const message of client.fetch('1:2', { uid: true, flags: true, bodies: [''] })) {
      const part = await message.body();
      seen.push([message.uid, message.flags, await new Response(part!.content).text()]);
    }
    expect(seen).toEqual([
      [11, ['\\Seen'], 'one\r\n'],
      [12, [], 'two\r\n'],
    ]);
    expect(after(server, 'SELECT')).toEqual(['A3 FETCH 1:2 (UID FLAGS BODY.PEEK[])']);
  });

  it('streams a 1 MB body without reading it all: the connection waits for the reader', async () => {
    const { client, server } = await fetchServer((tag) => `${fetched(1, 'UID 1 ', BIG)}${tag} OK done\r\n`);
    const iterator = client.fetch(1, { bodies: [''] })[Symbol.asyncIterator]();
    const { value: message } = await iterator.next();
    await tick();
    // About 256 KiB are taken; most of the 17 chunks wait on the connection.
    expect(server.unread).toBeGreaterThan(8);
    const part = await (message as ImapFetchedMessage).body('');
    expect(part?.size).toBe(BIG.length);
    expect(await part!.text()).toBe(BIG);
    expect((await iterator.next()).done).toBe(true);
    expect(server.unread).toBeLessThanOrEqual(1);
  });

  it('sets the attributes sent after a body once the bodies are read', async () => {
    const { client } = await fetchServer(
      (tag) => `* 1 FETCH (UID 5 BODY[TEXT] {3}\r\nabc FLAGS (\\Seen) MODSEQ (9))\r\n${tag} OK done\r\n`,
    );
    for await (const message of client.fetch(1, { flags: true, modseq: true, bodies: ['TEXT'] })) {
      expect(message.uid).toBe(5);
      const parts: string[] = [];
      for await (const part of message.bodies) parts.push(`${part.section}=${await part.text()}`);
      expect(parts).toEqual(['TEXT=abc']);
      expect(message.flags).toEqual(['\\Seen']);
      expect(message.modseq).toBe(9);
    }
  });

  it('does not deadlock when a command is awaited inside the loop: the rest of the fetch is read for it', async () => {
    const { client, server } = await fetchServer(
      (tag) => `${fetched(1, 'UID 1 ', BIG) + fetched(2, 'UID 2 ', BIG)}${tag} OK done\r\n`,
    );
    const bodies: string[] = [];
    for await (const message of client.fetch('1:2', { bodies: [''] })) {
      const stored = await client.store(message.seq, '\\Seen', { silent: true });
      expect(stored.updates).toEqual([]);
      bodies.push(await (await message.body())!.text());
    }
    expect(bodies).toEqual([BIG, BIG]);
    expect(after(server, 'SELECT').map((command) => command.slice(0, 40))).toEqual([
      'A3 FETCH 1:2 (BODY.PEEK[])',
      'A4 STORE 1 +FLAGS.SILENT (\\Seen)',
      'A5 STORE 2 +FLAGS.SILENT (\\Seen)',
    ]);
  });

  it('does not deadlock on a command that waits for the others (exec) awaited inside the loop', async () => {
    const { client, server } = await fetchServer(
      (tag) => `${fetched(1, 'UID 1 ', BIG) + fetched(2, 'UID 2 ', BIG)}${tag} OK done\r\n`,
    );
    const sizes: number[] = [];
    for await (const message of client.fetch('1:2', { bodies: [''] })) {
      await client.exec('CHECK');
      sizes.push((await (await message.body())!.bytes()).length);
    }
    expect(sizes).toEqual([BIG.length, BIG.length]);
    expect(after(server, 'SELECT')).toEqual(['A3 FETCH 1:2 (BODY.PEEK[])', 'A4 CHECK', 'A5 CHECK']);
  });

  it('pipelines a command issued during the fetch without waiting for the fetch to end', async () => {
    const { client, server } = await fetchServer(
      (tag) => `${fetched(1, 'UID 1 ', 'one') + fetched(2, 'UID 2 ', 'two')}${tag} OK done\r\n`,
    );
    const fetch = client.fetch('1:2', { bodies: [''] })[Symbol.asyncIterator]();
    await fetch.next();
    const noop = client.noop();
    await tick();
    expect(after(server, 'SELECT')).toEqual(['A3 FETCH 1:2 (BODY.PEEK[])', 'A4 NOOP']);
    await noop;
    expect((await fetch.next()).value?.seq).toBe(2);
  });

  it('ends the fetch cleanly on break: the rest is read and dropped, and the client goes on', async () => {
    const { client, server } = await fetchServer(
      (tag) =>
        fetched(1, 'UID 1 ', BIG) +
        fetched(2, 'UID 2 ', BIG) +
        fetched(3, 'UID 3 ', BIG) +
        `${tag} OK done\r\n`,
    );
    let first: ImapFetchedMessage | undefined;
    for await (const message of client.fetch('1:3', { bodies: [''] })) {
      first = message;
      break;
    }
    expect(first?.seq).toBe(1);
    await client.noop();
    expect(after(server, 'SELECT')).toEqual(['A3 FETCH 1:3 (BODY.PEEK[])', 'A4 NOOP']);
    expect(client.usable).toBe(true);
    const unread = await (await first!.body())?.text().catch((error: unknown) => error);
    expect(unread).toBeInstanceOf(AbortError);
  });

  it('keeps a collected message readable after break', async () => {
    const { client } = await fetchServer(
      (tag) => `${fetched(1, 'UID 1 ', 'one')}${fetched(2, 'UID 2 ', 'two')}${tag} OK done\r\n`,
    );
    let kept: ImapFetchedMessage | undefined;
    for await (const message of client.fetch('1:2', { bodies: [''] }, { collect: true })) {
      kept = message;
      break;
    }
    expect(await (await kept!.body())!.text()).toBe('one');
  });

  it('drops the unread body of a message when the next one is asked for', async () => {
    const { client } = await fetchServer(
      (tag) => `${fetched(1, 'UID 1 ', BIG) + fetched(2, 'UID 2 ', 'small')}${tag} OK done\r\n`,
    );
    const messages: ImapFetchedMessage[] = [];
    for await (const message of client.fetch('1:2', { bodies: [''] })) messages.push(message);
    await expect((await messages[0]!.body())!.bytes()).rejects.toBeInstanceOf(AbortError);
    expect(await (await messages[1]!.body())!.text()).toBe('small');
  });

  it('collects whole messages with fetchAll, every part readable in any order', async () => {
    const { client } = await fetchServer(
      (tag) =>
        `* 1 FETCH (UID 1 BODY[HEADER] ${literal('Subject:\r\n')} BODY[TEXT] ${literal('body')} BINARY[1] ~${literal('\0\x01')} FLAGS ())\r\n` +
        `${tag} OK done\r\n`,
    );
    const [message] = await client.fetchAll(1, {
      flags: true,
      bodies: ['HEADER', 'TEXT', { section: '1', binary: true }],
    });
    expect(message?.flags).toEqual([]);
    expect(await (await message!.body('TEXT'))!.text()).toBe('body');
    expect(await (await message!.body('HEADER'))!.text()).toBe('Subject:\r\n');
    expect([...(await (await message!.body('1'))!.bytes())]).toEqual([0, 1]);
    const sections: string[] = [];
    for await (const part of message!.bodies)
      sections.push(`${part.section}${part.binary ? ' (binary)' : ''}`);
    expect(sections).toEqual(['HEADER', 'TEXT', '1 (binary)']);
  });

  it('matches parts to their sections whatever case and form the server echoes', async () => {
    const { client, server } = await fetchServer(
      (tag) =>
        `* 1 FETCH (BODY[HEADER.FIELDS (SUBJECT)] ${literal('Subject: a\r\n')} BODY[1]<0> "xy" BODY[2] NIL)\r\n${tag} OK done\r\n`,
    );
    const [message] = await client.fetchAll(1, {
      bodies: ['header.fields (Subject)', { section: '1', partial: { offset: 0, count: 2 } }, '2'],
    });
    expect(after(server, 'SELECT')).toEqual([
      'A3 FETCH 1 (BODY.PEEK[HEADER.FIELDS (Subject)] BODY.PEEK[1]<0.2> BODY.PEEK[2])',
    ]);
    expect(await (await message!.body('header.fields (Subject)'))!.text()).toBe('Subject: a\r\n');
    const partial = await message!.body('1');
    expect([partial?.origin, await partial?.text()]).toEqual([0, 'xy']);
    expect([(await message!.body('2'))?.size, await (await message!.body('2'))?.text()]).toEqual([0, '']);
  });

  it('matches a partial BINARY answer with or without its origin', async () => {
    for (const origin of ['', '<2>']) {
      const { client } = await fetchServer(
        (tag) => `* 1 FETCH (BINARY[1]${origin} ~{3}\r\nabc)\r\n${tag} OK done\r\n`,
      );
      const [message] = await client.fetchAll(1, {
        bodies: [{ section: '1', binary: true, partial: { offset: 2, count: 3 } }],
      });
      expect(await (await message!.body('1'))?.text()).toBe('abc');
    }
  });

  it("takes another session's flag change, UID and all, as a change and not an answer", async () => {
    const { client } = await fetchServer(
      (tag) =>
        '* 1 FETCH (UID 9 ENVELOPE (NIL "s" NIL NIL NIL NIL NIL NIL NIL NIL))\r\n' +
        `* 2 FETCH (UID 10 FLAGS (\\Seen) MODSEQ (4))\r\n${tag} OK done\r\n`,
    );
    const flags: unknown[] = [];
    client.addEventListener('flags', (event) => flags.push(event.detail));
    const messages = await client.fetchAll('9', { envelope: true }, { uid: true });
    expect(messages.map((message) => message.uid)).toEqual([9]);
    expect(flags).toEqual([{ path: 'INBOX', seq: 2, uid: 10, flags: ['\\Seen'], modseq: 4 }]);
  });

  it('takes a FETCH without UID during a UID FETCH as a change, not an answer', async () => {
    const { client } = await fetchServer(
      (tag) => `* 1 FETCH (UID 9 FLAGS ())\r\n* 2 FETCH (FLAGS (\\Deleted))\r\n${tag} OK done\r\n`,
    );
    const flags: unknown[] = [];
    client.addEventListener('flags', (event) => flags.push(event.detail));
    const messages = await client.fetchAll('9', { flags: true }, { uid: true });
    expect(messages.map((message) => message.uid)).toEqual([9]);
    expect(flags).toEqual([{ path: 'INBOX', seq: 2, flags: ['\\Deleted'] }]);
  });

  it('reports the VANISHED (EARLIER) of a QRESYNC fetch', async () => {
    const { client, server } = await fetchServer(
      (tag) => `* VANISHED (EARLIER) 3:5,9\r\n* 1 FETCH (UID 10 FLAGS () MODSEQ (12))\r\n${tag} OK done\r\n`,
    );
    const fetch = client.fetch('1:*', { flags: true }, { uid: true, changedSince: 11, vanished: true });
    const seen: (number | undefined)[] = [];
    for await (const message of fetch) seen.push(message.modseq);
    expect(seen).toEqual([12]);
    expect(fetch.vanished?.toString()).toBe('3:5,9');
    expect(after(server, 'SELECT')).toEqual(['A3 UID FETCH 1:* (UID FLAGS) (CHANGEDSINCE 11 VANISHED)']);
  });

  it('throws the refusal after the messages that came before it', async () => {
    const { client } = await fetchServer(
      (tag) => `* 1 FETCH (UID 1 FLAGS ())\r\n${tag} NO [EXPUNGEISSUED] some are gone\r\n`,
    );
    const seen: number[] = [];
    const error = await (async () => {
      for await (const message of client.fetch('1:2', { flags: true })) seen.push(message.seq);
    })().catch((caught: unknown) => caught);
    expect(seen).toEqual([1]);
    expect(error).toMatchObject({ name: 'ImapResponseError', responseCode: { code: 'EXPUNGEISSUED' } });
  });

  it('is cancelled by its signal, and the client stays usable', async () => {
    const { client } = await fetchServer(
      (tag) => `${fetched(1, '', BIG) + fetched(2, '', BIG)}${tag} OK done\r\n`,
    );
    const controller = new AbortController();
    const error = await (async () => {
      for await (const message of client.fetch('1:2', { bodies: [''] }, { signal: controller.signal })) {
        expect(message.seq).toBe(1);
        controller.abort();
      }
    })().catch((caught: unknown) => caught);
    expect(error).toBeInstanceOf(AbortError);
    await client.noop();
  });

  it('ends the wait for a part still to come when the signal aborts, though the server stays silent', async () => {
    const { client } = await fetchServer(
      () => `* 1 FETCH (UID 1 BODY[HEADER] ${literal('Subject: x\r\n\r\n')}`,
    );
    const controller = new AbortController();
    const error = await (async () => {
      for await (const message of client.fetch(
        '1',
        { bodies: ['HEADER', 'TEXT'] },
        { signal: controller.signal },
      )) {
        const header = await message.body('HEADER');
        expect(await header?.text()).toBe('Subject: x\r\n\r\n');
        const text = message.body('TEXT');
        controller.abort();
        await text;
      }
    })().catch((caught: unknown) => caught);
    expect(error).toBeInstanceOf(AbortError);
    await client.close();
  });

  it('asks the connection to wait while many messages wait for the consumer', async () => {
    const count = 300;
    const { client, server } = await scripted(
      mailboxScript((_, verb, tag, peer) => {
        if (!verb.startsWith('FETCH')) return undefined;
        for (let seq = 1; seq <= count; seq++) peer.send(`* ${seq} FETCH (UID ${seq} FLAGS ())\r\n`);
        return `${tag} OK done\r\n`;
      }),
    );
    await client.open('INBOX');
    const iterator = client.fetch('1:*', { flags: true })[Symbol.asyncIterator]();
    await iterator.next();
    await tick();
    expect(server.unread).toBeGreaterThan(count / 2);
    let seen = 1;
    while (!(await iterator.next()).done) seen++;
    expect(seen).toBe(count);
  });

  it('reads the attributes of extensions and of OBJECTID', async () => {
    const { client } = await fetchServer(
      (tag) =>
        '* 1 FETCH (X-GM-MSGID 1278455344230334865 X-GM-LABELS (\\Inbox "Muy importante") UID 5 ' +
        `EMAILID (M6d99ac3275bb4e) THREADID (T64b478a75b7ea9) INTERNALDATE " 7-Feb-2024 10:20:30 +0100")\r\n${tag} OK done\r\n`,
    );
    const [message] = await client.fetchAll(1, {
      uid: true,
      emailId: true,
      threadId: true,
      internalDate: true,
    });
    expect(message).toMatchObject({ uid: 5, emailId: 'M6d99ac3275bb4e', threadId: 'T64b478a75b7ea9' });
    expect(message!.internalDate?.toISOString()).toBe('2024-02-07T09:20:30.000Z');
    expect(Object.fromEntries(message!.extensions)).toEqual({
      'X-GM-MSGID': '1278455344230334865',
      'X-GM-LABELS': ['\\Inbox', 'Muy importante'],
    });
  });

  it('fails the fetch whose response cannot be read after its body, and goes on', async () => {
    const { client } = await fetchServer(
      (tag) => `* 1 FETCH (UID 1 BODY[] {3}\r\nabc FLAGS (\\Seen)\r\n${tag} OK done\r\n`,
    );
    const error = await (async () => {
      for await (const message of client.fetch(1, { bodies: [''] })) for await (const _ of message.bodies);
    })().catch((caught: unknown) => caught);
    expect(error).toBeInstanceOf(Error);
    expect((error as Error).message).toMatch(/^FETCH: a response cannot be read/);
    await client.noop();
  });

  it('names a part whose echoed section no request could hold', async () => {
    const { client } = await fetchServer(
      (tag) => `* 1 FETCH (BODY[HEADER.FIELDS ("X Y")] {2}\r\nab)\r\n${tag} OK done\r\n`,
    );
    const [message] = await client.fetchAll(1, { bodies: ['HEADER.FIELDS (X-Y)'] });
    const sections: string[] = [];
    for await (const part of message!.bodies) sections.push(`${part.section} ${await part.text()}`);
    expect(sections).toEqual(['HEADER.FIELDS ab']);
  });

  it('drops a body literal no command asked for', async () => {
    const { client, server } = await scripted();
    await client.open('INBOX');
    const noop = client.noop();
    server.send('* 2 FETCH (BODY[] {5}\r\nhello FLAGS (\\Seen))\r\n');
    await noop;
    await client.noop();
    expect(client.usable).toBe(true);
  });

  it('refuses a query it cannot write, before sending anything', async () => {
    const { client, server } = await scripted();
    const before = server.commands.length;
    expect(() => client.fetch(1, {})).toThrow(/asks for nothing/);
    expect(() => client.fetch(1, { bodies: [{ section: 'TEXT', binary: true }] })).toThrow(/part numbers/);
    expect(() => client.fetch(1, { bodies: ['NOPE'] })).toThrow(/invalid FETCH section/);
    expect(() => client.fetch('1:x', { flags: true })).toThrow(/not a message range/);
    expect(() => client.fetch([], { flags: true })).toThrow(/empty message range/);
    expect(() => client.fetch(1, { flags: true }, { vanished: true })).toThrow(/vanished needs/);
    expect(() => client.fetch(1, { bodies: [{ section: '', partial: { offset: -1, count: 1 } }] })).toThrow(
      /partial/,
    );
    await expect(client.store(1, 'bad flag(')).rejects.toThrow(/not an atom/);
    expect(server.commands.length).toBe(before);
    await client.noop();
  });

  it('frames the same messages however the responses are cut into chunks', async () => {
    const text =
      `* 1 FETCH (UID 1 FLAGS (\\Seen) ENVELOPE ("d" {3}\r\nsub NIL NIL NIL NIL NIL NIL NIL "<id>") BODY[] {10}\r\n0123456789)\r\n` +
      `* 2 EXISTS\r\n* 2 FETCH (UID 2 BODY[] {0}\r\n FLAGS ())\r\nA3 OK done\r\n`;
    await fc.assert(
      fc.asyncProperty(
        fc.uniqueArray(fc.integer({ min: 1, max: text.length - 1 }), { maxLength: 12 }),
        async (cuts) => {
          const points = [0, ...cuts.sort((a, b) => a - b), text.length];
          const { client } = await scripted(
            mailboxScript((_, verb, __, server) => {
              if (!verb.startsWith('FETCH')) return undefined;
              for (let i = 1; i < points.length; i++) server.send(text.slice(points[i - 1], points[i]));
              return '';
            }),
          );
          await client.open('INBOX');
          const seen: string[] = [];
          for await (const message of client.fetch('1:*', {
            uid: true,
            flags: true,
            envelope: true,
            bodies: [''],
          })) {
            let body = '';
            for await (const part of message.bodies) body += await part.text();
            seen.push(`${message.uid} ${message.envelope?.subject ?? '-'} ${body} ${message.flags}`);
          }
          expect(seen).toEqual(['1 sub 0123456789 \\Seen', '2 -  ']);
          expect(client.mailbox?.exists).toBe(2);
        },
      ),
      { numRuns: 60 },
    );
  });
});
