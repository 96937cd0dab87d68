import { InvalidArgumentError } from '@postwire/core';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import {
  InvalidMailboxNameError,
  type MailboxChange,
  MailboxExistsError,
  MailboxInUseError,
  MailboxNotFoundError,
  type MailStore,
  type MessageInfo,
  OverQuotaError,
  type QuotaLimits,
  StoreRefusedError,
  type UserMail,
} from '../src/index.js';

/** A fresh, empty store for one test, and how to dispose of it. */
export interface StoreFixture {
  readonly store: MailStore;
  cleanup(): Promise<void>;
}

const encoder = new TextEncoder();

/** A small message with a subject, CRLF line endings. */
export function message(subject: string, body = 'Hello.\r\n'): Uint8Array {
  return encoder.encode(
    `From: Alice <alice@example.org>\r\nTo: bob@example.com\r\nSubject: ${subject}\r\n` +
      `Message-ID: <${subject.replace(/\W/g, '')}@example.org>\r\nDate: Tue, 24 Nov 2026 10:00:00 +0000\r\n\r\n${body}`,
  );
}

export async function readAll(stream: ReadableStream<Uint8Array>): Promise<string> {
  const chunks: Uint8Array[] = [];
  for await (const chunk of stream as unknown as AsyncIterable<Uint8Array>) chunks.push(chunk);
  return new TextDecoder().decode(Buffer.concat(chunks));
}

/** Collects `count` changes from a feed. */
async function take(feed: AsyncIterable<MailboxChange>, count: number): Promise<MailboxChange[]> {
  const changes: MailboxChange[] = [];
  if (count === 0) return changes;
  for await (const change of feed) {
    changes.push(change);
    if (changes.length === count) break;
  }
  return changes;
}

/**
 * The behaviour every backend must have: the same tests run against each. `open` gives a fresh store;
 * `reopen`, when the backend persists, gives a new store over the same data.
 */
export function storeContract(
  label: string,
  open: () => Promise<StoreFixture>,
  reopen?: (fixture: StoreFixture) => Promise<StoreFixture>,
): void {
  describe(`${label}: the store contract`, () => {
    let fixture: StoreFixture;
    let alice: UserMail;

    beforeEach(async () => {
      fixture = await open();
      alice = await fixture.store.user('alice');
    });
    afterEach(async () => {
      await fixture.store.close();
      await fixture.cleanup();
    });

    it('gives each user an INBOX, subscribed, and one mail root per canonical user name (case 23)', async () => {
      expect((await alice.list()).map((entry) => [entry.name, entry.exists, entry.subscribed])).toEqual([
        ['INBOX', true, true],
      ]);
      const inbox = await alice.open('inbox');
      await inbox.append(message('one'));
      const fullwidth = await fixture.store.user('ＡＬＩＣＥ');
      expect(fullwidth.user).toBe('alice');
      expect((await fullwidth.status('INBOX')).messages).toBe(1);
    });

    it('appends from bytes, a web stream and an async iterable, with UIDs, counters and MODSEQ', async () => {
      const inbox = await alice.open('INBOX');
      const before = await inbox.status();
      expect(before).toMatchObject({ uidNext: 1, messages: 0, unseen: 0, size: 0 });
      const first = await inbox.append(message('one'), { flags: ['\\seen'] });
      const bytes = message('two');
      const second = await inbox.append(
        new ReadableStream({
          start(controller) {
            controller.enqueue(bytes.subarray(0, 10));
            controller.enqueue(bytes.subarray(10));
            controller.close();
          },
        }),
      );
      const third = await inbox.append(
        (async function* () {
          yield message('three');
        })(),
        { internalDate: new Date('2026-01-02T03:04:05Z') },
      );
      expect([first.uid, second.uid, third.uid]).toEqual([1, 2, 3]);
      expect(first.uidValidity).toBe(before.uidValidity);
      expect(first.modseq).toBeLessThan(second.modseq);
      for (const { id } of [first, second, third]) expect(id).toMatch(/^[A-Za-z0-9_-]{1,64}$/);
      expect(new Set([first.id, second.id, third.id]).size).toBe(3);
      const status = await inbox.status();
      expect(status).toMatchObject({ uidNext: 4, messages: 3, unseen: 2, deleted: 0 });
      expect(status.size).toBe(message('one').length + message('two').length + message('three').length);
      expect(status.highestModseq).toBe(third.modseq);
      const infos = await inbox.messages();
      expect(infos.map((info) => [info.uid, info.flags])).toEqual([
        [1, ['\\Seen']],
        [2, []],
        [3, []],
      ]);
      expect(infos[2]!.internalDate.toISOString()).toBe('2026-01-02T03:04:05.000Z');
      expect(infos[1]!.size).toBe(bytes.length);
      expect(await alice.status('INBOX')).toEqual(status);
    });

    it('refuses a message given as text, or as a stream of text, and stores nothing', async () => {
      const inbox = await alice.open('INBOX');
      await expect(inbox.append('Subject: x\r\n\r\nbody\r\n' as never)).rejects.toBeInstanceOf(
        InvalidArgumentError,
      );
      const text = (async function* () {
        yield message('one');
        yield 'more text' as never;
      })();
      await expect(inbox.append(text)).rejects.toThrow(/not string/);
      expect(await inbox.status()).toMatchObject({ messages: 0, uidNext: 1 });
    });

    it('reads a message whole and in byte ranges', async () => {
      const inbox = await alice.open('INBOX');
      const { uid } = await inbox.append(message('ranges'));
      const whole = new TextDecoder().decode(message('ranges'));
      expect(await readAll(inbox.read(uid))).toBe(whole);
      expect(await readAll(inbox.read(uid, { start: 6, end: 11 }))).toBe(whole.slice(6, 11));
      expect(await readAll(inbox.read(uid, { start: 6, end: 1_000_000 }))).toBe(whole.slice(6));
      expect(await readAll(inbox.read(uid, { start: 1_000_000 }))).toBe('');
      // The same in one piece.
      const text = async (range?: { start: number; end?: number }) =>
        new TextDecoder().decode(await inbox.readBytes!(uid, range));
      expect(await text()).toBe(whole);
      expect(await text({ start: 6, end: 11 })).toBe(whole.slice(6, 11));
      expect(await text({ start: 6, end: 1_000_000 })).toBe(whole.slice(6));
      expect(await text({ start: 1_000_000 })).toBe('');
      await expect(inbox.readBytes!(uid + 1)).rejects.toThrow(MailboxNotFoundError);
    });

    it('keeps the parsed structure of a message', async () => {
      const inbox = await alice.open('INBOX');
      const { uid } = await inbox.append(message('structured'));
      const structure = await inbox.structure(uid);
      expect(structure.envelope.subject).toBe('structured');
      expect(structure.bodyStructure).toMatchObject({ kind: 'text', subtype: 'PLAIN' });
      expect(structure.parts.structure).toBe('leaf');
      expect(structure.headers.find(([name]) => name === 'Subject')).toEqual(['Subject', ' structured']);
      expect(structure.parts.bodyStart).toBe(
        new TextDecoder().decode(message('structured')).indexOf('\r\n\r\n') + 4,
      );
      expect(await inbox.structure(uid)).toEqual(structure);
    });

    it('gives many structures at once, in the order asked, nothing for a UID without a message', async () => {
      const inbox = await alice.open('INBOX');
      for (const subject of ['one', 'two', 'three']) await inbox.append(message(subject));
      await inbox.expunge([2]);
      const structures = await inbox.structures([3, 1, 2, 99, 3]);
      expect(structures.map((structure) => structure?.envelope.subject)).toEqual([
        'three',
        'one',
        undefined,
        undefined,
        'three',
      ]);
      expect(structures[0]).toEqual(await inbox.structure(3));
      expect(await inbox.structures([])).toEqual([]);
      await expect(inbox.structure(2)).rejects.toThrow(MailboxNotFoundError);
      // Asked for one by one in the same turn, as `Promise.all` over a batch does, too.
      const [one, missing, three] = await Promise.allSettled([1, 2, 3].map((uid) => inbox.structure(uid)));
      expect(one).toMatchObject({ status: 'fulfilled', value: { envelope: { subject: 'one' } } });
      expect(missing).toMatchObject({ status: 'rejected', reason: expect.any(MailboxNotFoundError) });
      expect(three).toMatchObject({ status: 'fulfilled', value: { envelope: { subject: 'three' } } });
    });

    it('keeps the part offsets of a multipart message with a nested message', async () => {
      const inbox = await alice.open('INBOX');
      const text =
        'Subject: outer\r\nContent-Type: multipart/mixed; boundary=b\r\n\r\n--b\r\nContent-Type: text/plain\r\n\r\nhi\r\n' +
        '--b\r\nContent-Type: message/rfc822\r\n\r\nSubject: inner\r\n\r\nbody\r\n--b--\r\n';
      const { uid } = await inbox.append(encoder.encode(text));
      const { parts, envelope, body } = await inbox.structure(uid);
      expect(envelope.subject).toBe('outer');
      expect(body).toMatchObject({ kind: 'multipart', subtype: 'MIXED' });
      expect(parts.children).toHaveLength(2);
      const nested = parts.children![1]!.message!;
      expect(text.slice(nested.headerStart, nested.bodyStart)).toBe('Subject: inner\r\n\r\n');
      expect(text.slice(nested.bodyStart, nested.end)).toBe('body');
      expect(await readAll(inbox.read(uid, { start: nested.bodyStart, end: nested.end }))).toBe('body');
    });

    it('changes flags atomically: add, remove, replace, with UNCHANGEDSINCE', async () => {
      const inbox = await alice.open('INBOX');
      await inbox.append(message('a'));
      await inbox.append(message('b'));
      const added = await inbox.setFlags([1, 2], 'add', ['\\Seen', 'Work']);
      expect(added.changed.map((change) => change.uid)).toEqual([1, 2]);
      expect(added.changed[0]!.modseq).toBe(added.changed[1]!.modseq);
      expect((await inbox.status()).unseen).toBe(0);
      const again = await inbox.setFlags([1], 'add', ['\\Seen']);
      expect(again.changed).toEqual([]);
      const removed = await inbox.setFlags([2], 'remove', ['Work']);
      expect(removed.changed).toEqual([{ uid: 2, flags: ['\\Seen'], modseq: expect.any(Number) }]);
      const conditional = await inbox.setFlags([1, 2], 'replace', ['\\Deleted'], {
        unchangedSince: added.changed[0]!.modseq,
      });
      expect(conditional.modified).toEqual([2]);
      expect(conditional.changed.map((change) => [change.uid, change.flags])).toEqual([[1, ['\\Deleted']]]);
      expect(await inbox.status()).toMatchObject({ unseen: 1, deleted: 1 });
      expect((await inbox.messages([2, 1, 99])).map((info) => info.uid)).toEqual([1, 2]);
      await expect(inbox.setFlags([1], 'add', ['\\Recent'])).rejects.toThrow(/not a flag/);
      await expect(inbox.setFlags([1], 'add', ['bad keyword'])).rejects.toThrow(/not a valid keyword/);
    });

    it('expunges by UID and never reuses a UID', async () => {
      const inbox = await alice.open('INBOX');
      await inbox.append(message('a'));
      await inbox.append(message('b'));
      await inbox.append(message('c'));
      expect(await inbox.expunge([2, 3, 42])).toEqual([2, 3]);
      const { uid } = await inbox.append(message('d'));
      expect(uid).toBe(4);
      expect((await inbox.messages()).map((info) => info.uid)).toEqual([1, 4]);
      expect(() => inbox.read(2)).toThrow(MailboxNotFoundError);
    });

    it('copies and moves, keeping ids, flags and dates, with COPYUID data', async () => {
      await alice.create('Archive');
      const inbox = await alice.open('INBOX');
      const a = await inbox.append(message('a'), { flags: ['\\Flagged'] });
      await inbox.append(message('b'));
      const copied = await inbox.copy([1, 2], 'Archive');
      const archive = await alice.open('Archive');
      expect(copied).toEqual({
        uidValidity: (await archive.status()).uidValidity,
        sourceUids: [1, 2],
        targetUids: [1, 2],
      });
      const [copy] = await archive.messages([1]);
      expect(copy).toMatchObject({ id: a.id, flags: ['\\Flagged'] });
      expect(await readAll(archive.read(1))).toBe(new TextDecoder().decode(message('a')));
      const moved = await inbox.move([2], 'Archive');
      expect(moved.targetUids).toEqual([3]);
      expect((await inbox.messages()).map((info) => info.uid)).toEqual([1]);
      const again = await inbox.copy([1], 'INBOX');
      const [duplicate] = await inbox.messages(again.targetUids);
      expect(duplicate!.id).not.toBe(a.id);
      await expect(inbox.copy([1], 'Nowhere')).rejects.toThrow(MailboxNotFoundError);
    });

    it('creates, lists, renames and deletes mailboxes in a hierarchy', async () => {
      await alice.create('Work/Projects/Postwire', { specialUse: '\\Archive' });
      await expect(alice.create('work/../x')).rejects.toThrow(InvalidMailboxNameError);
      await expect(alice.create('Work')).rejects.toThrow(MailboxExistsError);
      await alice.create('Sent', { specialUse: '\\Sent' });
      const list = await alice.list();
      expect(list.map((entry) => entry.name)).toEqual([
        'INBOX',
        'Sent',
        'Work',
        'Work/Projects',
        'Work/Projects/Postwire',
      ]);
      expect(list.find((entry) => entry.name === 'Sent')?.specialUse).toBe('\\Sent');
      expect(list.find((entry) => entry.name === 'Work')?.hasChildren).toBe(true);
      expect(list.find((entry) => entry.name === 'Sent')?.hasChildren).toBe(false);

      const projects = await alice.open('Work/Projects/Postwire');
      await projects.append(message('p'));
      await alice.rename('Work', 'Jobs');
      expect((await alice.status('Jobs/Projects/Postwire')).messages).toBe(1);
      await expect(alice.status('Work')).rejects.toThrow(MailboxNotFoundError);
      await expect(alice.rename('Jobs', 'Jobs/Inside')).rejects.toThrow(StoreRefusedError);

      const before = (await alice.status('Sent')).uidValidity;
      await alice.delete('Sent');
      await expect(alice.open('Sent')).rejects.toThrow(MailboxNotFoundError);
      await alice.create('Sent');
      expect((await alice.status('Sent')).uidValidity).not.toBe(before);
      await expect(alice.delete('INBOX')).rejects.toThrow(StoreRefusedError);

      await alice.delete('Jobs');
      const after = await alice.list();
      expect(after.find((entry) => entry.name === 'Jobs')).toMatchObject({
        exists: false,
        hasChildren: true,
      });
    });

    it('refuses a rename whose child would land on an existing mailbox, and changes nothing', async () => {
      await alice.create('Work/Done');
      await (await alice.open('Work/Done')).append(message('kept'));
      // Children stay when their parent is deleted: `Work/Done` exists without `Work`.
      await alice.delete('Work');
      await alice.create('Jobs/Done');
      await (await alice.open('Jobs/Done')).append(message('moving'));
      await expect(alice.rename('Jobs', 'Work')).rejects.toThrow(MailboxExistsError);
      expect((await alice.list()).filter((entry) => entry.exists).map((entry) => entry.name)).toEqual([
        'INBOX',
        'Jobs',
        'Jobs/Done',
        'Work/Done',
      ]);
      const kept = await alice.open('Work/Done');
      expect((await kept.structure(1)).envelope.subject).toBe('kept');
      expect((await alice.status('Jobs/Done')).messages).toBe(1);
    });

    it('renames INBOX by moving its messages into the new mailbox', async () => {
      const inbox = await alice.open('INBOX');
      await inbox.append(message('a'));
      await inbox.append(message('b'));
      await alice.rename('INBOX', 'Old');
      expect((await alice.status('Old')).messages).toBe(2);
      expect(await alice.status('INBOX')).toMatchObject({ messages: 0, uidNext: 3 });
    });

    it('gives each mailbox an id that survives renames, never reused (RFC 8474 MAILBOXID)', async () => {
      const id = async (name: string) => (await alice.status(name)).mailboxId;
      await alice.create('Work/Projects');
      const ids = new Map<string, string>();
      for (const name of ['INBOX', 'Work', 'Work/Projects']) ids.set(name, await id(name));
      for (const value of ids.values()) expect(value).toMatch(/^[A-Za-z0-9_-]{1,255}$/);
      expect(new Set(ids.values()).size).toBe(3);
      const projects = await alice.open('Work/Projects');
      expect((await projects.status()).mailboxId).toBe(ids.get('Work/Projects'));

      await alice.rename('Work/Projects', 'Work/Plans');
      expect(await id('Work/Plans')).toBe(ids.get('Work/Projects'));
      await alice.rename('Work', 'Jobs');
      expect(await id('Jobs')).toBe(ids.get('Work'));
      expect(await id('Jobs/Plans')).toBe(ids.get('Work/Projects'));
      expect((await projects.status()).mailboxId).toBe(ids.get('Work/Projects'));

      await alice.delete('Jobs/Plans');
      await alice.create('Jobs/Plans');
      const again = await id('Jobs/Plans');
      expect(again).toMatch(/^[A-Za-z0-9_-]{1,255}$/);
      expect([...ids.values()]).not.toContain(again);
      await alice.create('Work/Projects');
      expect([...ids.values(), again]).not.toContain(await id('Work/Projects'));

      // Renaming INBOX creates a new mailbox for its messages (RFC 9051 §6.3.6); INBOX keeps its id.
      await (await alice.open('INBOX')).append(message('a'));
      await alice.rename('INBOX', 'Old');
      expect(await id('INBOX')).toBe(ids.get('INBOX'));
      expect([...ids.values(), again]).not.toContain(await id('Old'));
      expect((await alice.status('Old')).messages).toBe(1);
    });

    it('keeps subscriptions, also to names that do not exist', async () => {
      await alice.subscribe('Lists/Postwire');
      const entry = (await alice.list()).find((item) => item.name === 'Lists/Postwire');
      expect(entry).toMatchObject({ subscribed: true, exists: false });
      await alice.unsubscribe('Lists/Postwire');
      expect((await alice.list()).some((item) => item.name.startsWith('Lists'))).toBe(false);
    });

    it('refuses every name of case 20 without touching anything', async () => {
      for (const name of [
        '..',
        '../x',
        './x',
        'a//b',
        '/etc/passwd',
        '~root',
        'a\u0000b',
        'a\u2028b',
        '\ufeffa',
      ]) {
        await expect(alice.create(name)).rejects.toThrow(InvalidMailboxNameError);
        await expect(alice.open(name)).rejects.toThrow(InvalidMailboxNameError);
      }
      await expect(alice.create('x'.repeat(256))).rejects.toThrow(InvalidMailboxNameError);
      await expect(alice.create(`a/${'b/'.repeat(2100)}c`)).rejects.toThrow(InvalidMailboxNameError);
      await expect(fixture.store.user('../bob')).rejects.toThrow(InvalidMailboxNameError);
      expect((await alice.list()).map((entry) => entry.name)).toEqual(['INBOX']);
    });

    it('creates a mailbox once when two sessions create it at the same moment', async () => {
      const other = await fixture.store.user('alice');
      const outcomes = await Promise.allSettled([alice.create('Twice'), other.create('Twice')]);
      expect(outcomes.filter((outcome) => outcome.status === 'fulfilled')).toHaveLength(1);
      for (const outcome of outcomes.filter((each) => each.status === 'rejected'))
        expect((outcome as PromiseRejectedResult).reason).toBeInstanceOf(MailboxExistsError);
      await other.release();
    });

    it('treats NFC and NFD spellings as one mailbox (case 23)', async () => {
      await alice.create('Caf\u00e9');
      await expect(alice.create('Cafe\u0301')).rejects.toThrow(MailboxExistsError);
    });

    it('feeds every session the same changes in the same order', async () => {
      const writer = await alice.open('INBOX');
      const reader = await alice.open('INBOX');
      const seen = take(reader.changes(), 4);
      const alsoSeen = take(writer.changes(), 4);
      await new Promise((resolve) => setTimeout(resolve, 10));
      await writer.append(message('a'));
      await writer.append(message('b'));
      await writer.setFlags([1], 'add', ['\\Seen']);
      await writer.expunge([2]);
      const changes = await seen;
      expect(changes.map((change) => change.type)).toEqual(['append', 'append', 'flags', 'expunge']);
      expect(await alsoSeen).toEqual(changes);
      const modseqs = changes.map((change) =>
        change.type === 'append' ? change.message.modseq : 'modseq' in change ? change.modseq : 0,
      );
      expect([...modseqs].sort((a, b) => a - b)).toEqual(modseqs);
    });

    it('ends a feed when its signal aborts or its mailbox closes', async () => {
      const inbox = await alice.open('INBOX');
      const controller = new AbortController();
      const aborted = take(inbox.changes({ signal: controller.signal }), 10);
      const closed = take(inbox.changes(), 10);
      controller.abort();
      expect(await aborted).toEqual([]);
      await inbox.close();
      expect(await closed).toEqual([]);
    });

    it('tells open sessions that their mailbox is gone', async () => {
      await alice.create('Temp');
      const temp = await alice.open('Temp');
      const changes = take(temp.changes(), 1);
      await new Promise((resolve) => setTimeout(resolve, 10));
      await alice.delete('Temp');
      expect(await changes).toEqual([{ type: 'gone' }]);
      await expect(temp.status()).rejects.toThrow(MailboxNotFoundError);
    });

    it('locks a mailbox for one session at a time (case 26)', async () => {
      const first = await alice.open('INBOX');
      const second = await alice.open('INBOX');
      const lock = await first.lock();
      await expect(second.lock()).rejects.toThrow(MailboxInUseError);
      await lock.release();
      await (await second.lock()).release();
    });

    it('refuses to delete a mailbox a session has locked', async () => {
      await alice.create('Shared');
      const shared = await alice.open('Shared');
      await shared.append(message('kept'));
      const lock = await shared.lock();
      await expect(alice.delete('Shared')).rejects.toThrow(MailboxInUseError);
      expect((await shared.messages()).length).toBe(1);
      await lock.release();
      await alice.delete('Shared');
      await expect(alice.status('Shared')).rejects.toThrow(MailboxNotFoundError);
    });

    it('lets a session release its handle while the other sessions of the user go on sharing the mailbox', async () => {
      const first = await fixture.store.user('alice');
      const second = await fixture.store.user('alice');
      const watched = await first.open('INBOX');
      const seen = take(watched.changes(), 3);
      await new Promise((resolve) => setTimeout(resolve, 10));
      const writer = await second.open('INBOX');
      await writer.append(message('before'));
      await second.release();
      await second.release();
      await writer.append(message('while open'));
      await writer.close();
      await first.release();
      // The released handles' mailbox stays usable until closed, and keeps seeing every session's changes.
      await (await alice.open('INBOX')).append(message('after'));
      expect((await seen).map((change) => change.type === 'append' && change.message.uid)).toEqual([1, 2, 3]);
      expect((await watched.messages()).length).toBe(3);
      expect((await watched.structure(2)).envelope.subject).toBe('while open');
      await watched.close();
      await alice.release();
      const again = await fixture.store.user('alice');
      expect((await again.status('INBOX')).messages).toBe(3);
      alice = again;
    });

    it('reports quota usage over all mailboxes', async () => {
      await alice.create('Other');
      await (await alice.open('INBOX')).append(message('a'));
      await (await alice.open('Other')).append(message('b'));
      const usage = await alice.quota();
      expect(usage).toMatchObject({ messages: 2, storage: message('a').length + message('b').length });
    });

    if (reopen) {
      it('keeps everything across a reopen: messages, flags, UIDs, UIDVALIDITY, MODSEQ, ids, mailboxes and their ids', async () => {
        await alice.create('Archive', { specialUse: '\\Archive' });
        await alice.subscribe('Archive');
        const inbox = await alice.open('INBOX');
        const a = await inbox.append(message('a'), {
          flags: ['\\Seen', 'Work'],
          internalDate: new Date('2026-03-04T05:06:07Z'),
        });
        await inbox.append(message('b'));
        await inbox.expunge([2]);
        await inbox.setFlags([1], 'add', ['\\Answered']);
        const status = await inbox.status();
        const infos = await inbox.messages();
        const list = await alice.list();
        const archive = await alice.status('Archive');
        await fixture.store.close();
        fixture = await reopen(fixture);
        alice = await fixture.store.user('alice');
        const reopened = await alice.open('INBOX');
        expect(await reopened.status()).toEqual(status);
        const sorted = (list: MessageInfo[]) =>
          list.map((info) => ({ ...info, flags: [...info.flags].sort() }));
        expect(sorted(await reopened.messages())).toEqual(sorted(infos));
        expect(await alice.list()).toEqual(list);
        expect(await alice.status('Archive')).toEqual(archive);
        expect(await readAll(reopened.read(a.uid))).toBe(new TextDecoder().decode(message('a')));
        expect((await reopened.append(message('c'))).uid).toBe(3);
      });

      it('keeps the structures across a reopen', async () => {
        const inbox = await alice.open('INBOX');
        for (const subject of ['a', 'b']) await inbox.append(message(subject));
        const before = await inbox.structures([1, 2]);
        await fixture.store.close();
        fixture = await reopen(fixture);
        alice = await fixture.store.user('alice');
        const reopened = await alice.open('INBOX');
        expect(await reopened.structures([2, 1])).toEqual([before[1], before[0]]);
      });
    }
  });
}

/**
 * The quota rules every backend keeps, for one opened with `quota`: an append or a copy that would pass a
 * limit is refused, and nothing of it kept; a MOVE never is, since it adds nothing (a user at the limit must
 * still be able to move mail to the Trash, which is how most clients delete).
 */
export function quotaContract(label: string, open: (quota: QuotaLimits) => Promise<StoreFixture>): void {
  describe(`${label}: the quota contract`, () => {
    let fixture: StoreFixture | undefined;
    afterEach(async () => {
      await fixture?.store.close();
      await fixture?.cleanup();
      fixture = undefined;
    });

    it('refuses an append or a copy past the storage or message limit, keeping nothing of it', async () => {
      fixture = await open({ storage: message('a').length * 3, messages: 2 });
      const alice = await fixture.store.user('alice');
      await alice.create('Archive');
      const inbox = await alice.open('INBOX');
      await inbox.append(message('a'));
      await inbox.append(message('b'));
      await expect(inbox.append(message('c'))).rejects.toBeInstanceOf(OverQuotaError);
      await expect(inbox.copy([1], 'Archive')).rejects.toBeInstanceOf(OverQuotaError);
      expect(await alice.quota()).toEqual({
        messages: 2,
        storage: message('a').length * 2,
        storageLimit: message('a').length * 3,
        messageLimit: 2,
      });
      expect((await alice.status('Archive')).messages).toBe(0);
      expect((await inbox.status()).uidNext).toBe(3);
      await inbox.close();
    });

    it('counts concurrent appends and copies against the limit one at a time', async () => {
      fixture = await open({ messages: 3 });
      const alice = await fixture.store.user('alice');
      await alice.create('Archive');
      const inbox = await alice.open('INBOX');
      await inbox.append(message('first'));
      const outcomes = await Promise.allSettled([
        ...Array.from({ length: 4 }, (_, i) => inbox.append(message(`racing ${i}`))),
        inbox.copy([1], 'Archive'),
        inbox.copy([1], 'Archive'),
      ]);
      expect(outcomes.filter((outcome) => outcome.status === 'fulfilled')).toHaveLength(2);
      for (const outcome of outcomes.filter((each) => each.status === 'rejected'))
        expect((outcome as PromiseRejectedResult).reason).toBeInstanceOf(OverQuotaError);
      expect(await alice.quota()).toMatchObject({ messages: 3 });
      await inbox.close();
    });

    it('moves at the limit: a MOVE adds nothing, and the expunge after it frees room', async () => {
      fixture = await open({ messages: 2 });
      const alice = await fixture.store.user('alice');
      await alice.create('Trash', { specialUse: '\\Trash' });
      const inbox = await alice.open('INBOX');
      await inbox.append(message('a'));
      await inbox.append(message('b'));
      const moved = await inbox.move([1], 'Trash');
      expect(moved).toMatchObject({ sourceUids: [1], targetUids: [1] });
      expect(await alice.quota()).toMatchObject({ messages: 2 });
      const trash = await alice.open('Trash');
      await trash.expunge([1]);
      await inbox.append(message('c'));
      expect((await inbox.messages()).map((info) => info.uid)).toEqual([2, 3]);
      await trash.close();
      await inbox.close();
    });
  });
}
