import {
  AbortError,
  ConnectionError,
  InvalidArgumentError,
  ProtocolError,
  TimeoutError,
} from '@postwire/core';
import { describe, expect, it } from 'vitest';
import { ImapCapabilityError, ImapResponseError, SequenceSet } from '../../src/index.js';
import { tagOf } from './memory-server.js';
import { after, CAPABILITIES, greeting, holdingFirstNoop, mailboxScript, scripted, tick } from './scripts.js';

const PLAIN = 'IMAP4rev1 AUTH=PLAIN';

describe('IMAP client: pipelining and ordering', () => {
  it('writes the commands of one tick before any answer, and matches the answers by tag', async () => {
    const { client, server } = await scripted(
      mailboxScript((_, verb, tag) => {
        if (verb.startsWith('STATUS'))
          return `* STATUS ${verb.split(' ')[1]} (MESSAGES ${tag.slice(1)})\r\n${tag} OK done\r\n`;
        return undefined;
      }),
    );
    const writes = server.writes.length;
    const statuses = await Promise.all(['A', 'B', 'C'].map((path) => client.status(path, ['MESSAGES'])));
    expect(statuses).toEqual([
      { path: 'A', messages: 2 },
      { path: 'B', messages: 3 },
      { path: 'C', messages: 4 },
    ]);
    expect(server.writes.slice(writes)).toEqual([
      'A2 STATUS A (MESSAGES)\r\n',
      'A3 STATUS B (MESSAGES)\r\n',
      'A4 STATUS C (MESSAGES)\r\n',
    ]);
  });

  it('holds a command that changes the state (SELECT) until those before it are answered, and those after it', async () => {
    const { script, held } = holdingFirstNoop();
    const { client, server } = await scripted(script);
    const noop = client.noop();
    const open = client.open('INBOX');
    const status = client.status('X', ['MESSAGES']);
    await tick();
    expect(after(server, 'AUTHENTICATE')).toEqual(['A2 NOOP']);
    server.send(`${held()} OK done\r\n`);
    await Promise.all([noop, open, status]);
    expect(after(server, 'AUTHENTICATE')).toEqual(['A2 NOOP', 'A3 SELECT INBOX', 'A4 STATUS X (MESSAGES)']);
  });

  it('writes the command queued behind a SELECT given up before it was sent, without waiting for the others', async () => {
    const { script, held } = holdingFirstNoop();
    const { client, server } = await scripted(script);
    const noop = client.noop();
    const controller = new AbortController();
    const open = client.open('INBOX', { signal: controller.signal });
    const status = client.status('X', ['MESSAGES']);
    await tick();
    controller.abort();
    await expect(open).rejects.toBeInstanceOf(AbortError);
    await tick();
    expect(after(server, 'AUTHENTICATE')).toEqual(['A2 NOOP', 'A4 STATUS X (MESSAGES)']);
    server.send(`${held()} OK done\r\n`);
    await Promise.all([noop, status]);
  });

  it('rejects a NO with the response code, and the client goes on', async () => {
    const { client } = await scripted(
      mailboxScript((_, verb, tag) =>
        verb.startsWith('SELECT') ? `${tag} NO [NONEXISTENT] no such mailbox\r\n` : undefined,
      ),
    );
    const error = await client.open('Nope').catch((caught: unknown) => caught);
    expect(error).toBeInstanceOf(ImapResponseError);
    expect(error).toMatchObject({ command: 'SELECT', status: 'NO', responseCode: { code: 'NONEXISTENT' } });
    expect(client.mailbox).toBeUndefined();
    await client.noop();
  });

  it('fails only the command whose response cannot be read', async () => {
    const { client } = await scripted(
      mailboxScript((_, verb, tag) =>
        verb === 'NAMESPACE' ? `* NAMESPACE ((\r\n${tag} OK done\r\n` : undefined,
      ),
    );
    const error = await client.namespace().catch((caught: unknown) => caught);
    expect(error).toBeInstanceOf(ProtocolError);
    expect((error as Error).message).toMatch(/^NAMESPACE: a response cannot be read/);
    await client.noop();
    expect(client.usable).toBe(true);
  });

  it('fails only the command whose tagged answer cannot be read', async () => {
    const { client } = await scripted(
      mailboxScript((_, verb, tag) =>
        verb.startsWith('APPEND') ? `${tag} OK [APPENDUID 0 1] done\r\n` : undefined,
      ),
    );
    const error = await client.append('INBOX', 'Subject: x\r\n\r\n').catch((caught: unknown) => caught);
    expect(error).toBeInstanceOf(ProtocolError);
    expect((error as Error).message).toMatch(/^APPEND: a response cannot be read/);
    await client.noop();
  });

  it('writes the commands after ENABLE only once it is answered, in the form it enabled', async () => {
    const capabilities = `${CAPABILITIES} UTF8=ACCEPT`;
    const { client, server } = await scripted(
      mailboxScript(
        (_, verb, tag) =>
          verb.startsWith('ENABLE') ? `* ENABLED UTF8=ACCEPT\r\n${tag} OK done\r\n` : undefined,
        capabilities,
      ),
      { greeting: greeting(capabilities) },
    );
    await Promise.all([client.enable(['UTF8=ACCEPT']), client.create('Été')]);
    expect(after(server, 'AUTHENTICATE')).toEqual(['A2 ENABLE UTF8=ACCEPT', 'A3 CREATE "\xC3\x89t\xC3\xA9"']);
  });

  it('traces commands without literal contents', async () => {
    const { client, trace } = await scripted();
    await client.append('INBOX', 'Subject: secret\r\n\r\n');
    expect(trace.slice(-2)).toEqual([
      { direction: 'out', line: 'A2 APPEND INBOX {19+}' },
      { direction: 'in', line: 'A2 OK done' },
    ]);
  });

  it('gives up the connection when the server does not answer the DONE of an IDLE', async () => {
    const { client } = await scripted(
      mailboxScript((command, verb) => {
        if (verb === 'IDLE') return '+ idling\r\n';
        return command === 'DONE' ? '' : undefined;
      }),
      { client: { timeouts: { command: 30 } } },
    );
    const controller = new AbortController();
    const idle = client.idle({ signal: controller.signal });
    // Idling is silent: no timeout runs meanwhile.
    await new Promise((resolve) => setTimeout(resolve, 60));
    controller.abort();
    await expect(idle).rejects.toBeInstanceOf(TimeoutError);
  });

  it('gives up a call at its timeout or signal, drops its late answer, and goes on', async () => {
    let late: string | undefined;
    const { client, server } = await scripted(
      mailboxScript((_, verb, tag) => {
        if (verb === 'NOOP' && late === undefined) {
          late = tag;
          return '';
        }
        return undefined;
      }),
    );
    await expect(client.noop({ timeout: 20 })).rejects.toBeInstanceOf(TimeoutError);
    const controller = new AbortController();
    const status = client.status('X', ['MESSAGES'], { signal: controller.signal });
    controller.abort();
    await expect(status).rejects.toBeInstanceOf(AbortError);
    server.send(`* STATUS X (MESSAGES 1)\r\n${late} OK late\r\n`);
    await client.noop();
    expect(client.usable).toBe(true);
  });

  it('gives up the connection when the server stops answering', async () => {
    const { client } = await scripted(
      mailboxScript((_, verb) => (verb === 'NOOP' ? '' : undefined)),
      {
        client: { timeouts: { command: 30 } },
      },
    );
    await expect(client.noop()).rejects.toBeInstanceOf(TimeoutError);
    expect(client.usable).toBe(false);
  });
});

describe('IMAP client: literals', () => {
  it('waits for + before the content of a synchronising literal', async () => {
    const { client, server } = await scripted(mailboxScript(undefined, PLAIN), { greeting: greeting(PLAIN) });
    const result = await client.append('Drafts', 'Subject: x\r\n\r\nbody\r\n', { flags: ['\\Draft'] });
    expect(result).toEqual({});
    expect(server.writes.slice(-3)).toEqual([
      'A2 APPEND Drafts (\\Draft) {20}\r\n',
      'Subject: x\r\n\r\nbody\r\n',
      '\r\n',
    ]);
  });

  it('streams an APPEND through a synchronising literal once the server says +', async () => {
    const { client, server } = await scripted(mailboxScript(undefined, PLAIN), { greeting: greeting(PLAIN) });
    async function* chunks() {
      yield new TextEncoder().encode('Subject: a\r\n\r\n');
      yield new TextEncoder().encode('b\r\n');
    }
    await client.append('INBOX', chunks(), { size: 17 });
    expect(server.writes.slice(-4)).toEqual([
      'A2 APPEND INBOX {17}\r\n',
      'Subject: a\r\n\r\n',
      'b\r\n',
      '\r\n',
    ]);
  });

  it('uses LITERAL- for small literals only (RFC 7888)', async () => {
    const capabilities = 'IMAP4rev1 LITERAL- AUTH=PLAIN';
    const { client, server } = await scripted(mailboxScript(undefined, capabilities), {
      greeting: greeting(capabilities),
    });
    await client.append('INBOX', 'x'.repeat(4096));
    await client.append('INBOX', 'x'.repeat(4097));
    expect(server.writes.filter((write) => write.includes('APPEND'))).toEqual([
      'A2 APPEND INBOX {4096+}\r\n',
      'A3 APPEND INBOX {4097}\r\n',
    ]);
  });

  it('sends nothing more when the server refuses the literal, and goes on', async () => {
    const { client, server } = await scripted(mailboxScript(undefined, PLAIN), {
      greeting: greeting(PLAIN),
      server: { continuation: (line) => `${tagOf(line)} NO [TOOBIG] too big\r\n` },
    });
    const error = await client.append('INBOX', 'x'.repeat(100)).catch((caught: unknown) => caught);
    expect(error).toMatchObject({ command: 'APPEND', responseCode: { code: 'TOOBIG' } });
    await client.noop();
    expect(server.writes.slice(-2)).toEqual(['A2 APPEND INBOX {100}\r\n', 'A3 NOOP\r\n']);
  });

  it('cancels the stream of an APPEND that the server refuses before its content is sent', async () => {
    const { client } = await scripted(mailboxScript(undefined, PLAIN), {
      greeting: greeting(PLAIN),
      server: { continuation: (line) => `${tagOf(line)} NO [TOOBIG] too big\r\n` },
    });
    let cancelled = false;
    const stream = new ReadableStream<Uint8Array>({
      pull(controller) {
        controller.enqueue(new TextEncoder().encode('x'.repeat(10)));
      },
      cancel() {
        cancelled = true;
      },
    });
    await expect(client.append('INBOX', stream, { size: 100 })).rejects.toMatchObject({
      responseCode: { code: 'TOOBIG' },
    });
    expect(cancelled).toBe(true);
  });

  it('cancels the stream of an APPEND given up before it is sent', async () => {
    const { client } = await scripted();
    const controller = new AbortController();
    let cancelled = false;
    const stream = new ReadableStream<Uint8Array>({
      cancel() {
        cancelled = true;
      },
    });
    const blocker = client.open('INBOX');
    const append = client.append('INBOX', stream, { size: 5, signal: controller.signal });
    controller.abort();
    await expect(append).rejects.toBeInstanceOf(AbortError);
    await blocker;
    expect(cancelled).toBe(true);
  });

  it('leaves no unhandled rejection when the stream of an APPEND given up fails afterwards', async () => {
    const { client } = await scripted();
    const controller = new AbortController();
    let feed!: ReadableStreamDefaultController<Uint8Array>;
    const stream = new ReadableStream<Uint8Array>({
      start(streamController) {
        feed = streamController;
      },
    });
    const unhandled: unknown[] = [];
    const onUnhandled = (reason: unknown): void => {
      unhandled.push(reason);
    };
    process.on('unhandledRejection', onUnhandled);
    try {
      const blocker = client.open('INBOX');
      const append = client.append('INBOX', stream, { signal: controller.signal });
      controller.abort();
      await expect(append).rejects.toBeInstanceOf(AbortError);
      await blocker;
      feed.error(new Error('the disk failed'));
      await new Promise((resolve) => setTimeout(resolve, 0));
    } finally {
      process.off('unhandledRejection', onUnhandled);
    }
    expect(unhandled).toEqual([]);
  });

  it('streams an APPEND from a web stream through LITERAL+, and reads APPENDUID', async () => {
    const { client, server } = await scripted(
      mailboxScript((command, verb, tag) =>
        verb.startsWith('APPEND')
          ? `${tag} OK [APPENDUID 38505 3955] done (${command.length})\r\n`
          : undefined,
      ),
    );
    const chunks = ['Subject: streamed\r\n\r\n', 'a'.repeat(70_000), '\r\n'];
    const size = chunks.reduce((total, chunk) => total + chunk.length, 0);
    const stream = new ReadableStream<Uint8Array>({
      start(controller) {
        for (const chunk of chunks) controller.enqueue(new TextEncoder().encode(chunk));
        controller.close();
      },
    });
    const result = await client.append('INBOX', stream, {
      size,
      date: new Date(Date.UTC(2024, 1, 3, 4, 5, 6)),
    });
    expect(result).toEqual({ uidValidity: 38505, uid: 3955 });
    expect(server.commands.at(-1)).toBe(
      `A2 APPEND INBOX "03-Feb-2024 04:05:06 +0000" {${size}+}\r\n${chunks.join('')}`,
    );
  });

  it('ends the connection when a stream is not the size announced', async () => {
    const { client } = await scripted();
    async function* short() {
      yield new TextEncoder().encode('abc');
    }
    await expect(client.append('INBOX', short(), { size: 10 })).rejects.toBeInstanceOf(InvalidArgumentError);
    expect(client.usable).toBe(false);
  });

  it('reads an APPEND stream into memory when no size is given, keeping the order of the calls', async () => {
    const { client, server } = await scripted();
    async function* parts() {
      yield new TextEncoder().encode('Subject: a\r\n\r\n');
      await new Promise((resolve) => setTimeout(resolve, 5));
      yield new TextEncoder().encode('b\r\n');
    }
    await Promise.all([client.append('INBOX', parts()), client.noop()]);
    expect(after(server, 'AUTHENTICATE')).toEqual([
      'A2 APPEND INBOX {17+}\r\nSubject: a\r\n\r\nb\r\n',
      'A3 NOOP',
    ]);
  });

  it('fails an APPEND whose stream is still being read into memory when the connection drops', async () => {
    const { client, server } = await scripted();
    let feed!: ReadableStreamDefaultController<Uint8Array>;
    const stream = new ReadableStream<Uint8Array>({
      start(controller) {
        feed = controller;
      },
    });
    const append = client.append('INBOX', stream);
    append.catch(() => {});
    await tick();
    server.end();
    await expect(client.noop()).rejects.toBeInstanceOf(ConnectionError);
    await expect(append).rejects.toBeInstanceOf(ConnectionError);
    feed.close();
  });

  it('sends a non-ASCII search string as a literal with CHARSET UTF-8', async () => {
    const { client, server } = await scripted(
      mailboxScript(
        (_, verb, tag) => (verb.startsWith('SEARCH') ? `* SEARCH 2 3\r\n${tag} OK done\r\n` : undefined),
        PLAIN,
      ),
      { greeting: greeting(PLAIN) },
    );
    await client.open('INBOX');
    expect(await client.search({ subject: 'Grüße', seen: false })).toEqual([2, 3]);
    expect(server.commands.at(-1)).toBe('A3 SEARCH CHARSET UTF-8 UNSEEN SUBJECT {7}\r\nGrÃ¼Ã\x9Fe');
  });
});

describe('IMAP client: search, sort, thread', () => {
  it('writes a nested query and reads an ESEARCH answer as ranges', async () => {
    const { client, server } = await scripted(
      mailboxScript((_, verb, tag) =>
        verb.startsWith('UID SEARCH')
          ? `* ESEARCH (TAG "${tag}") UID ALL 2:3\r\n${tag} OK done\r\n`
          : undefined,
      ),
    );
    await client.open('INBOX');
    const found = await client.search(
      {
        or: [{ from: 'ann' }, { to: 'bob' }, { not: { flagged: true, larger: 1000 } }],
        since: '2024-02-01',
        before: new Date(Date.UTC(2024, 2, 10)),
        header: { 'List-Id': '' },
        keyword: ['$Label1'],
        uid: '1:*',
      },
      { uid: true },
    );
    expect(found).toEqual([2, 3]);
    expect(server.commands.at(-1)).toBe(
      'A3 UID SEARCH RETURN (ALL) KEYWORD $Label1 HEADER List-Id "" BEFORE 10-Mar-2024 SINCE 1-Feb-2024 UID 1:* ' +
        'OR FROM ann OR TO bob NOT (FLAGGED LARGER 1000)',
    );
  });

  it('gives each of two pipelined searches the ESEARCH tagged for it, whatever the order they come in', async () => {
    let first: string | undefined;
    const { client } = await scripted(
      mailboxScript((_, verb, tag) => {
        if (!verb.startsWith('SEARCH')) return undefined;
        if (first === undefined) {
          first = tag;
          return '';
        }
        return `* ESEARCH (TAG "${tag}") ALL 2:3\r\n* ESEARCH (TAG "${first}") ALL 1\r\n${first} OK done\r\n${tag} OK done\r\n`;
      }),
    );
    await client.open('INBOX');
    const found = await Promise.all([client.search({ seen: true }), client.search({ seen: false })]);
    expect(found).toEqual([[1], [2, 3]]);
  });

  it('writes every kind of search key', async () => {
    const { client, server } = await scripted(
      mailboxScript(
        (_, verb, tag) => (verb.startsWith('SEARCH') ? `* SEARCH\r\n${tag} OK done\r\n` : undefined),
        PLAIN,
      ),
      { greeting: greeting(PLAIN) },
    );
    await client.open('INBOX');
    const found = await client.search({
      all: true,
      seen: true,
      answered: false,
      flagged: true,
      deleted: false,
      draft: true,
      recent: false,
      new: true,
      unkeyword: 'Junk',
      cc: 'c',
      bcc: 'b',
      body: 'x',
      text: 'y',
      on: '2024-01-05',
      sentBefore: '2024-01-06',
      sentOn: '2024-01-07',
      sentSince: '2024-01-08',
      smaller: 10,
      olderThan: 60,
      youngerThan: 3600,
      seq: [1, 2, 3],
      modseq: 5,
      emailId: 'M1',
      threadId: 'T1',
      or: [{}, { not: {} }],
    });
    expect(found).toEqual([]);
    expect(server.commands.at(-1)).toBe(
      'A3 SEARCH ALL SEEN UNANSWERED FLAGGED UNDELETED DRAFT OLD NEW UNKEYWORD Junk CC c BCC b BODY x TEXT y ' +
        'ON 5-Jan-2024 SENTBEFORE 6-Jan-2024 SENTON 7-Jan-2024 SENTSINCE 8-Jan-2024 SMALLER 10 OLDER 60 YOUNGER 3600 ' +
        '1:3 MODSEQ 5 EMAILID M1 THREADID T1 OR ALL NOT ALL',
    );
    await expect(client.search({ or: [{ seen: true }] })).rejects.toThrow(/at least two/);
    await expect(client.search({ since: new Date(Number.NaN) })).rejects.toThrow(/invalid Date/);
  });

  it('sorts and threads, and refuses without the capability before sending', async () => {
    const { client, server } = await scripted(
      mailboxScript((_, verb, tag) => {
        if (verb.startsWith('SORT')) return `* SORT 3 1 2\r\n${tag} OK done\r\n`;
        if (verb.startsWith('THREAD')) return `* THREAD (1)(2 3 (4)(5))\r\n${tag} OK done\r\n`;
        return undefined;
      }),
    );
    await client.open('INBOX');
    expect(await client.sort(['REVERSE DATE', 'SUBJECT'], { seen: true })).toEqual([3, 1, 2]);
    expect(server.commands.at(-1)).toBe('A3 SORT (REVERSE DATE SUBJECT) UTF-8 SEEN');
    expect(await client.thread('REFERENCES')).toEqual([
      { chain: [1], children: [] },
      {
        chain: [2, 3],
        children: [
          { chain: [4], children: [] },
          { chain: [5], children: [] },
        ],
      },
    ]);
    await expect(client.thread('ORDEREDSUBJECT')).rejects.toBeInstanceOf(ImapCapabilityError);
    expect(server.commands.at(-1)).toBe('A4 THREAD REFERENCES UTF-8 ALL');
  });
});

describe('IMAP client: messages', () => {
  it('stores flags and reports the result and MODIFIED', async () => {
    const { client, server } = await scripted(
      mailboxScript((_, verb, tag) =>
        verb.startsWith('UID STORE')
          ? `* 1 FETCH (UID 4 FLAGS (\\Seen) MODSEQ (20))\r\n${tag} OK [MODIFIED 7,9] some changed\r\n`
          : undefined,
      ),
    );
    await client.open('INBOX');
    const result = await client.store([4, 7, 9], ['\\Seen'], { uid: true, unchangedSince: 12 });
    expect(result.updates).toEqual([{ seq: 1, uid: 4, flags: ['\\Seen'], modseq: 20 }]);
    expect(result.modified?.toString()).toBe('7,9');
    expect(server.commands.at(-1)).toBe('A3 UID STORE 4,7,9 (UNCHANGEDSINCE 12) +FLAGS (\\Seen)');
  });

  it("takes another session's flag change reported during a STORE as an event", async () => {
    const { client } = await scripted(
      mailboxScript((_, verb, tag) =>
        verb.startsWith('STORE')
          ? `* 3 FETCH (FLAGS (\\Deleted))\r\n* 1 FETCH (FLAGS (\\Seen))\r\n${tag} OK done\r\n`
          : undefined,
      ),
    );
    await client.open('INBOX');
    const events: number[] = [];
    client.addEventListener('flags', (event) => events.push(event.detail.seq));
    const stored = await client.store('1:2', '\\Seen');
    expect(stored.updates.map((update) => update.seq)).toEqual([1]);
    expect(events).toEqual([3]);
  });

  it('copies and moves, reading COPYUID as ranges', async () => {
    const { client, server } = await scripted(
      mailboxScript((_, verb, tag) => {
        if (verb.startsWith('UID COPY')) return `${tag} OK [COPYUID 9 1:3 101:103] done\r\n`;
        if (verb.startsWith('UID MOVE'))
          return `* OK [COPYUID 9 4 104] moved\r\n* 3 EXPUNGE\r\n${tag} OK done\r\n`;
        return undefined;
      }),
    );
    await client.open('INBOX');
    const expunged: number[] = [];
    client.addEventListener('expunge', (event) => expunged.push(event.detail.seq));
    const copied = await client.copy('1:3', 'Archive', { uid: true });
    expect([copied?.uidValidity, copied?.source.toString(), copied?.destination.toString()]).toEqual([
      9,
      '1:3',
      '101:103',
    ]);
    const moved = await client.move(4, 'Archive', { uid: true });
    expect(moved?.destination.toString()).toBe('104');
    expect(expunged).toEqual([3]);
    expect(client.mailbox?.exists).toBe(2);
    expect(after(server, 'SELECT')).toEqual(['A3 UID COPY 1:3 Archive', 'A4 UID MOVE 4 Archive']);
  });

  it('moves without MOVE: COPY, STORE \\Deleted and UID EXPUNGE of the copied UIDs', async () => {
    const capabilities = 'IMAP4rev1 LITERAL+ SASL-IR AUTH=PLAIN UIDPLUS';
    const { client, server } = await scripted(
      mailboxScript((_, verb, tag) => {
        if (verb.startsWith('COPY')) return `${tag} OK [COPYUID 9 5:6 20:21] done\r\n`;
        if (verb.startsWith('UID EXPUNGE')) return `* 2 EXPUNGE\r\n* 1 EXPUNGE\r\n${tag} OK done\r\n`;
        return undefined;
      }, capabilities),
      { greeting: greeting(capabilities) },
    );
    await client.open('INBOX');
    await client.move('1:2', 'Archive');
    expect(after(server, 'SELECT')).toEqual([
      'A3 COPY 1:2 Archive',
      'A4 UID STORE 5:6 +FLAGS.SILENT (\\Deleted)',
      'A5 UID EXPUNGE 5:6',
    ]);
    expect(client.mailbox?.exists).toBe(1);
  });

  it('refuses expunge(uids) without UIDPLUS before sending, and reports EXPUNGE and VANISHED', async () => {
    const { client, server } = await scripted(
      mailboxScript(
        (_, verb, tag) =>
          verb === 'EXPUNGE' ? `* 3 EXPUNGE\r\n* VANISHED 8:9\r\n${tag} OK done\r\n` : undefined,
        PLAIN,
      ),
      { greeting: greeting(PLAIN) },
    );
    await client.open('INBOX');
    await expect(client.expunge([1, 2])).rejects.toBeInstanceOf(ImapCapabilityError);
    const result = await client.expunge();
    expect(result.expunged).toEqual([3]);
    expect(result.vanished?.toString()).toBe('8:9');
    expect(client.mailbox?.exists).toBe(0);
    expect(after(server, 'SELECT')).toEqual(['A3 EXPUNGE']);
  });
});

describe('IMAP client: mailboxes', () => {
  it('lists with LIST-EXTENDED and LIST-STATUS in one command', async () => {
    const capabilities = `${CAPABILITIES} LIST-EXTENDED LIST-STATUS SPECIAL-USE`;
    const { client, server } = await scripted(
      mailboxScript(
        (_, verb, tag) =>
          verb.startsWith('LIST')
            ? '* LIST (\\HasNoChildren \\Subscribed) "/" INBOX\r\n* STATUS INBOX (MESSAGES 3 UNSEEN 1)\r\n' +
              '* LIST (\\Sent \\HasChildren) "/" "Sent Items"\r\n* STATUS "Sent Items" (MESSAGES 0 UNSEEN 0)\r\n' +
              '* LIST (\\Noselect) "/" "Sent Items/&AMk-t&AOk-"\r\n' +
              `${tag} OK done\r\n`
            : undefined,
        capabilities,
      ),
      { greeting: greeting(capabilities) },
    );
    const list = await client.list({ status: ['MESSAGES', 'UNSEEN'], specialUse: true, subscribed: true });
    expect(server.commands.at(-1)).toBe(
      'A2 LIST "" * RETURN (SUBSCRIBED SPECIAL-USE STATUS (MESSAGES UNSEEN))',
    );
    expect(list).toEqual([
      {
        path: 'INBOX',
        name: 'INBOX',
        delimiter: '/',
        flags: ['\\HasNoChildren', '\\Subscribed'],
        subscribed: true,
        status: { path: 'INBOX', messages: 3, unseen: 1 },
      },
      {
        path: 'Sent Items',
        name: 'Sent Items',
        delimiter: '/',
        flags: ['\\Sent', '\\HasChildren'],
        specialUse: '\\Sent',
        subscribed: false,
        status: { path: 'Sent Items', messages: 0, unseen: 0 },
      },
      { path: 'Sent Items/Été', name: 'Été', delimiter: '/', flags: ['\\Noselect'], subscribed: false },
    ]);
  });

  it('lists without the extensions: LSUB for subscriptions and one STATUS per selectable mailbox', async () => {
    const { client, server } = await scripted(
      mailboxScript((_, verb, tag) => {
        if (verb.startsWith('LIST'))
          return `* LIST () "." INBOX\r\n* LIST (\\Noselect) "." Shared\r\n* LIST () "." Gone\r\n${tag} OK done\r\n`;
        if (verb.startsWith('LSUB')) return `* LSUB () "." INBOX\r\n${tag} OK done\r\n`;
        if (verb === 'STATUS INBOX (MESSAGES)') return `* STATUS INBOX (MESSAGES 2)\r\n${tag} OK done\r\n`;
        if (verb.startsWith('STATUS Gone')) return `${tag} NO [NONEXISTENT] gone\r\n`;
        return undefined;
      }),
    );
    const list = await client.list({ status: ['MESSAGES'], subscribed: true });
    expect(list.map((entry) => [entry.path, entry.subscribed, entry.status?.messages])).toEqual([
      ['INBOX', true, 2],
      ['Shared', false, undefined],
      ['Gone', false, undefined],
    ]);
    expect(after(server, 'AUTHENTICATE')).toEqual([
      'A2 LSUB "" *',
      'A3 LIST "" *',
      'A4 STATUS INBOX (MESSAGES)',
      'A5 STATUS Gone (MESSAGES)',
    ]);
  });

  it('rejects a list whose LIST and LSUB both fail with no unhandled rejection', async () => {
    const { client } = await scripted(
      mailboxScript((_, verb, tag) =>
        verb.startsWith('LIST') || verb.startsWith('LSUB') ? `${tag} NO [UNAVAILABLE] later\r\n` : undefined,
      ),
    );
    const unhandled: unknown[] = [];
    const onUnhandled = (reason: unknown): void => {
      unhandled.push(reason);
    };
    process.on('unhandledRejection', onUnhandled);
    try {
      await expect(client.list({ subscribed: true })).rejects.toMatchObject({ command: 'LIST' });
      await new Promise((resolve) => setTimeout(resolve, 0));
    } finally {
      process.off('unhandledRejection', onUnhandled);
    }
    expect(unhandled).toEqual([]);
  });

  it('encodes mailbox names as modified UTF-7, and as UTF-8 once UTF8=ACCEPT is enabled', async () => {
    const capabilities = `${CAPABILITIES} UTF8=ACCEPT`;
    const { client, server } = await scripted(
      mailboxScript(
        (_, verb, tag) =>
          verb.startsWith('ENABLE') ? `* ENABLED UTF8=ACCEPT\r\n${tag} OK done\r\n` : undefined,
        capabilities,
      ),
      { greeting: greeting(capabilities) },
    );
    await client.create('Été', { specialUse: ['\\Archive'] });
    expect(await client.enable(['UTF8=ACCEPT'])).toEqual(['UTF8=ACCEPT']);
    expect(client.enabled.has('UTF8=ACCEPT')).toBe(true);
    await client.rename('Été', 'Hiver été');
    await client.subscribe('Hiver été');
    await client.unsubscribe('Hiver été');
    await client.delete('Hiver été');
    expect(after(server, 'AUTHENTICATE')).toEqual(
      [
        'A2 CREATE &AMk-t&AOk- (USE (\\Archive))',
        'A3 ENABLE UTF8=ACCEPT',
        'A4 RENAME "Été" "Hiver été"',
        'A5 SUBSCRIBE "Hiver été"',
        'A6 UNSUBSCRIBE "Hiver été"',
        'A7 DELETE "Hiver été"',
      ].map((command) =>
        command.replace(/[^\x00-\x7f]/g, (char) => String.fromCharCode(...new TextEncoder().encode(char))),
      ),
    );
  });

  it('opens with QRESYNC: enables it, and reports what vanished and what changed', async () => {
    const capabilities = `${CAPABILITIES} CONDSTORE QRESYNC`;
    const { client, server } = await scripted(
      mailboxScript((_, verb, tag) => {
        if (verb.startsWith('ENABLE')) return `* ENABLED QRESYNC\r\n${tag} OK done\r\n`;
        if (verb.startsWith('SELECT'))
          return (
            '* 10 EXISTS\r\n* OK [UIDVALIDITY 67890007] ok\r\n* OK [UIDNEXT 600] ok\r\n* OK [HIGHESTMODSEQ 715194045007] ok\r\n' +
            '* VANISHED (EARLIER) 41,43:116,118,120:211,214:540\r\n* 49 FETCH (UID 117 FLAGS (\\Seen \\Answered) MODSEQ (715194045001))\r\n' +
            `${tag} OK [READ-WRITE] done\r\n`
          );
        return undefined;
      }, capabilities),
      { greeting: greeting(capabilities) },
    );
    const opened = await client.open('INBOX', {
      qresync: { uidValidity: 67890007, modseq: 715194045000, knownUids: '41:211,214:541' },
    });
    expect(after(server, 'AUTHENTICATE')).toEqual([
      'A2 ENABLE QRESYNC',
      'A3 SELECT INBOX (QRESYNC (67890007 715194045000 41:211,214:541))',
    ]);
    expect(opened).toMatchObject({ exists: 10, uidNext: 600, highestModseq: 715194045007, readOnly: false });
    expect(opened.qresync?.vanished?.toString()).toBe('41,43:116,118,120:211,214:540');
    expect(opened.qresync?.changed).toEqual([
      { seq: 49, uid: 117, flags: ['\\Seen', '\\Answered'], modseq: 715194045001 },
    ]);
  });

  it('opens and fetches when mod-sequences are above 2^53 − 1, without those values', async () => {
    const capabilities = `${CAPABILITIES} CONDSTORE`;
    const huge = '18446744073709551615';
    const { client } = await scripted(
      mailboxScript((_, verb, tag) => {
        if (verb.startsWith('SELECT'))
          return `* 3 EXISTS\r\n* OK [UIDVALIDITY 7] ok\r\n* OK [HIGHESTMODSEQ ${huge}] ok\r\n${tag} OK [READ-WRITE] done\r\n`;
        if (verb.startsWith('STATUS'))
          return `* STATUS X (MESSAGES 2 HIGHESTMODSEQ ${huge})\r\n${tag} OK done\r\n`;
        if (verb.startsWith('FETCH'))
          return (
            `* 1 FETCH (FLAGS (\\Seen) MODSEQ (${huge}))\r\n` +
            `* 2 FETCH (UID 2 ENVELOPE (NIL "s" NIL NIL NIL NIL NIL NIL NIL NIL) MODSEQ (${huge}))\r\n${tag} OK done\r\n`
          );
        return undefined;
      }, capabilities),
      { greeting: greeting(capabilities) },
    );
    const flags: unknown[] = [];
    client.addEventListener('flags', (event) => flags.push(event.detail));
    const opened = await client.open('INBOX', { condstore: true });
    expect(opened).toMatchObject({ exists: 3, uidValidity: 7, highestModseq: undefined });
    expect(await client.status('X', ['MESSAGES', 'HIGHESTMODSEQ'])).toEqual({ path: 'X', messages: 2 });
    const messages = await client.fetchAll('1:2', { uid: true, envelope: true, modseq: true });
    expect(messages.map(({ seq, uid, modseq }) => ({ seq, uid, modseq }))).toEqual([
      { seq: 2, uid: 2, modseq: undefined },
    ]);
    expect(flags).toMatchObject([{ seq: 1, flags: ['\\Seen'] }]);
  });

  it('closes a mailbox with UNSELECT, or CLOSE with expunge, or EXAMINE then CLOSE without UNSELECT', async () => {
    const withUnselect = await scripted();
    await withUnselect.client.open('INBOX');
    await withUnselect.client.closeMailbox();
    await withUnselect.client.open('INBOX');
    await withUnselect.client.closeMailbox({ expunge: true });
    expect(after(withUnselect.server, 'AUTHENTICATE')).toEqual([
      'A2 SELECT INBOX',
      'A3 UNSELECT',
      'A4 SELECT INBOX',
      'A5 CLOSE',
    ]);
    expect(withUnselect.client.mailbox).toBeUndefined();
    const without = await scripted(mailboxScript(undefined, PLAIN), { greeting: greeting(PLAIN) });
    await without.client.open('INBOX');
    await without.client.closeMailbox();
    expect(after(without.server, 'AUTHENTICATE')).toEqual([
      'A2 SELECT INBOX',
      'A3 EXAMINE INBOX',
      'A4 CLOSE',
    ]);
  });
});

describe('IMAP client: server information and extensions', () => {
  it('reads ID, NAMESPACE and the quota', async () => {
    const capabilities = `${CAPABILITIES} QUOTA`;
    const { client, server } = await scripted(
      mailboxScript((_, verb, tag) => {
        if (verb.startsWith('ID')) return `* ID ("name" "Dovecot" "version" NIL)\r\n${tag} OK done\r\n`;
        if (verb === 'NAMESPACE')
          return `* NAMESPACE (("" "/")) NIL (("#shared/" "/"))\r\n${tag} OK done\r\n`;
        if (verb.startsWith('GETQUOTAROOT'))
          return `* QUOTAROOT INBOX ""\r\n* QUOTA "" (STORAGE 10 512 MESSAGE 3 1000)\r\n${tag} OK done\r\n`;
        return undefined;
      }, capabilities),
      { greeting: greeting(capabilities) },
    );
    expect(await client.id({ name: 'postwire', os: null })).toEqual({ name: 'Dovecot', version: null });
    expect(await client.namespace()).toEqual({
      personal: [{ prefix: '', delimiter: '/' }],
      other: [],
      shared: [{ prefix: '#shared/', delimiter: '/' }],
    });
    expect(await client.quota()).toEqual([
      {
        root: '',
        resources: [
          { name: 'STORAGE', usage: 10, limit: 512 },
          { name: 'MESSAGE', usage: 3, limit: 1000 },
        ],
      },
    ]);
    expect(after(server, 'AUTHENTICATE')).toEqual([
      'A2 ID ("name" "postwire" "os" NIL)',
      'A3 NAMESPACE',
      'A4 GETQUOTAROOT INBOX',
    ]);
  });

  it('runs any command with exec, returning the untagged responses, body literals held', async () => {
    const { client, server } = await scripted(
      mailboxScript((_, verb, tag) => {
        if (verb.startsWith('GETMETADATA'))
          return `* METADATA INBOX (/private/comment "hello")\r\n${tag} OK done\r\n`;
        if (verb.startsWith('UID FETCH'))
          return `* 1 FETCH (UID 7 BODY[] {3}\r\nabc)\r\n${tag} OK [X-MORE 1] fine\r\n`;
        return undefined;
      }),
    );
    const metadata = await client.exec('GETMETADATA', [
      { mailbox: 'Boîte' },
      ['/private/comment', { raw: '/shared/x' }],
    ]);
    expect(metadata.untagged).toEqual([
      { type: 'OTHER', name: 'METADATA', text: 'INBOX (/private/comment "hello")' },
    ]);
    const fetched = await client.exec('UID FETCH', [SequenceSet.parse('7'), { raw: '(UID BODY.PEEK[])' }]);
    expect(fetched.code).toEqual({ code: 'UNKNOWN', atom: 'X-MORE', text: '1' });
    const [response] = fetched.untagged;
    expect(response?.type === 'FETCH' && response.attributes[1]).toMatchObject({
      item: 'BODY[]',
      content: new TextEncoder().encode('abc'),
    });
    expect(after(server, 'AUTHENTICATE')).toEqual([
      'A2 GETMETADATA Bo&AO4-te (/private/comment /shared/x)',
      'A3 UID FETCH 7 (UID BODY.PEEK[])',
    ]);
    await expect(client.exec('BAD\r\nLOGOUT')).rejects.toBeInstanceOf(InvalidArgumentError);
  });
});

describe('IMAP client: changes and IDLE', () => {
  it('keeps the open mailbox up to date and dispatches the changes any response carries', async () => {
    const { client } = await scripted(
      mailboxScript((_, verb, tag) =>
        verb === 'NOOP'
          ? `* 5 EXISTS\r\n* 2 EXPUNGE\r\n* 3 FETCH (FLAGS (\\Flagged) MODSEQ (8))\r\n* OK [ALERT] maintenance tonight\r\n* OK [UIDNEXT 9] ok\r\n${tag} OK done\r\n`
          : undefined,
      ),
    );
    await client.open('INBOX');
    const events: string[] = [];
    for (const type of ['exists', 'expunge', 'flags', 'alert'] as const)
      client.addEventListener(type, (event) => events.push(`${type} ${JSON.stringify(event.detail)}`));
    await client.noop();
    expect(events).toEqual([
      'exists {"path":"INBOX","count":5,"previous":3}',
      'expunge {"path":"INBOX","seq":2}',
      'flags {"path":"INBOX","seq":3,"flags":["\\\\Flagged"],"modseq":8}',
      'alert {"text":"maintenance tonight"}',
    ]);
    expect(client.mailbox).toMatchObject({ exists: 4, uidNext: 9 });
  });

  it('idles until its signal aborts, with the changes as events, and ends with DONE', async () => {
    const { client, server } = await scripted(
      mailboxScript((command, verb) => {
        if (verb === 'IDLE') {
          setTimeout(() => server.send('* 4 EXISTS\r\n'), 5);
          return '+ idling\r\n';
        }
        if (command === 'DONE') return `${tagOf(server.commands.at(-2)!)} OK idle done\r\n`;
        return undefined;
      }),
    );
    await client.open('INBOX');
    const controller = new AbortController();
    client.addEventListener('exists', () => controller.abort(), { once: true });
    await client.idle({ signal: controller.signal });
    expect(after(server, 'SELECT')).toEqual(['A3 IDLE', 'DONE']);
    expect(client.mailbox?.exists).toBe(4);
  });

  it('ends IDLE when another call is made, and runs it after', async () => {
    const { client, server } = await scripted(
      mailboxScript((command, verb) => {
        if (verb === 'IDLE') return '+ idling\r\n';
        if (command === 'DONE') return `${tagOf(server.commands.at(-2)!)} OK idle done\r\n`;
        return undefined;
      }),
    );
    const idle = client.idle();
    await tick();
    await client.noop();
    await idle;
    expect(after(server, 'AUTHENTICATE')).toEqual(['A2 IDLE', 'DONE', 'A3 NOOP']);
  });

  it('restarts IDLE after restartAfter', async () => {
    const { client, server } = await scripted(
      mailboxScript((command, verb) => {
        if (verb === 'IDLE') return '+ idling\r\n';
        if (command === 'DONE') return `${tagOf(server.commands.at(-2)!)} OK idle done\r\n`;
        return undefined;
      }),
    );
    const controller = new AbortController();
    const idle = client.idle({ signal: controller.signal, restartAfter: 10 });
    await new Promise((resolve) => setTimeout(resolve, 35));
    controller.abort();
    await idle;
    const commands = after(server, 'AUTHENTICATE');
    expect(commands.filter((command) => command.endsWith('IDLE')).length).toBeGreaterThanOrEqual(2);
    expect(commands.at(-1)).toBe('DONE');
  });

  it('ends IDLE rather than restart it when a call is made while the restart’s DONE is answered', async () => {
    let idleTag: string | undefined;
    const { client, server } = await scripted(
      mailboxScript((command, verb, tag) => {
        if (verb === 'IDLE') {
          idleTag = tag;
          return '+ idling\r\n';
        }
        return command === 'DONE' ? '' : undefined;
      }),
    );
    const idle = client.idle({ restartAfter: 1 });
    while (!server.commands.includes('DONE')) await tick();
    const noop = client.noop();
    server.send(`${idleTag} OK idle done\r\n`);
    await Promise.all([idle, noop]);
    expect(after(server, 'AUTHENTICATE')).toEqual(['A2 IDLE', 'DONE', 'A3 NOOP']);
  });

  it('polls with NOOP when the server has no IDLE', async () => {
    const { client, server } = await scripted(mailboxScript(undefined, PLAIN), { greeting: greeting(PLAIN) });
    const controller = new AbortController();
    const idle = client.idle({ signal: controller.signal, pollInterval: 5 });
    await new Promise((resolve) => setTimeout(resolve, 30));
    controller.abort();
    await idle;
    expect(after(server, 'AUTHENTICATE').length).toBeGreaterThanOrEqual(2);
    expect(after(server, 'AUTHENTICATE').every((command) => command.endsWith('NOOP'))).toBe(true);
  });

  it('ends polling when another call is made while a NOOP of the poll is in flight', async () => {
    const { script, held } = holdingFirstNoop(PLAIN);
    const { client, server } = await scripted(script, { greeting: greeting(PLAIN) });
    const idle = client.idle();
    await tick();
    expect(held()).toBeDefined();
    const status = client.status('X', ['MESSAGES']);
    server.send(`${held()} OK done\r\n`);
    await Promise.all([idle, status]);
    expect(after(server, 'AUTHENTICATE')).toEqual([`${held()} NOOP`, 'A3 STATUS X (MESSAGES)']);
  });

  it('refuses ID, NAMESPACE and QUOTA without their capability, before sending', async () => {
    const { client, server } = await scripted(mailboxScript(undefined, PLAIN), { greeting: greeting(PLAIN) });
    await expect(client.id()).rejects.toBeInstanceOf(ImapCapabilityError);
    await expect(client.namespace()).rejects.toBeInstanceOf(ImapCapabilityError);
    await expect(client.quota()).rejects.toBeInstanceOf(ImapCapabilityError);
    await expect(client.sort(['DATE'])).rejects.toBeInstanceOf(ImapCapabilityError);
    await expect(client.enable(['CONDSTORE'])).rejects.toBeInstanceOf(ImapCapabilityError);
    expect(after(server, 'AUTHENTICATE')).toEqual([]);
  });
});
