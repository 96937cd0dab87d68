import { LimitExceededError, ProtocolError } from '@postwire/core';
import { describe, expect, it } from 'vitest';
import { mailboxScript, scripted } from './scripts.js';

/**
 * Catalogue case 24: a server that announces huge literals and ranges, or nests without end. Nothing is
 * allocated for an announced size, no range is expanded, and nesting stops at the depth limit; a
 * response too deep to read fails its command, not the session.
 */

/** A session whose answer to `verb` is `answer`, with INBOX open (3 messages). */
async function answering(verb: string, answer: (tag: string) => string) {
  const setup = await scripted(
    mailboxScript((_, received, tag) => (received.startsWith(verb) ? answer(tag) : undefined)),
  );
  await setup.client.open('INBOX');
  return setup;
}

/** Runs `work` and returns its time in milliseconds, with the heap growth in MiB. */
async function measured(work: () => Promise<unknown>): Promise<{ ms: number; mib: number }> {
  const heap = process.memoryUsage().heapUsed;
  const start = performance.now();
  await work();
  return { ms: performance.now() - start, mib: (process.memoryUsage().heapUsed - heap) / 2 ** 20 };
}

const DEPTH = 10_000;

describe('IMAP client: hostile servers (catalogue case 24)', () => {
  it('refuses a FETCH body announced as {4000000000} without allocating it', async () => {
    const { client } = await answering('FETCH', () => '* 1 FETCH (UID 1 BODY[] {4000000000}\r\nxxxx');
    const { mib } = await measured(async () => {
      const error = await client.fetchAll(1, { bodies: [''] }).catch((caught: unknown) => caught);
      expect(error).toBeInstanceOf(LimitExceededError);
    });
    expect(mib).toBeLessThan(50);
    expect(client.usable).toBe(false);
  });

  it.each([
    ['a literal too large for memory', '* LIST () "/" {4000000000}\r\n', LimitExceededError],
    ['a literal size of more than 32 bits', '* LIST () "/" {99999999999999999999}\r\n', ProtocolError],
  ])('refuses %s where a string is due', async (_, text, type) => {
    const { client } = await answering('LIST', () => text);
    await expect(client.list()).rejects.toBeInstanceOf(type);
    expect(client.usable).toBe(false);
  });

  it('keeps [COPYUID 1 1:4294967295 1:4294967295] as ranges', async () => {
    const { client } = await answering(
      'COPY',
      (tag) => `${tag} OK [COPYUID 1 1:4294967295 1:4294967295] done\r\n`,
    );
    let copied: Awaited<ReturnType<typeof client.copy>>;
    const { ms, mib } = await measured(async () => {
      copied = await client.copy('1:*', 'Archive');
    });
    expect(copied!.source.ranges).toEqual([{ start: 1, end: 4_294_967_295 }]);
    expect(copied!.destination.count(0)).toBe(4_294_967_295);
    expect(ms).toBeLessThan(500);
    expect(mib).toBeLessThan(50);
  });

  it('refuses ESEARCH ALL 1:4294967295 in a mailbox of 3 messages rather than expanding it', async () => {
    const { client } = await answering(
      'SEARCH',
      (tag) => `* ESEARCH (TAG "${tag}") ALL 1:4294967295\r\n${tag} OK done\r\n`,
    );
    const { ms } = await measured(async () => {
      const error = await client.search({}).catch((caught: unknown) => caught);
      expect(error).toBeInstanceOf(ProtocolError);
      expect((error as Error).message).toMatch(/4294967295 messages in a mailbox of 3/);
    });
    expect(ms).toBeLessThan(500);
    await client.noop();
  });

  it('counts VANISHED 1:4294967295 without expanding it', async () => {
    const { client } = await answering('NOOP', (tag) => `* VANISHED 1:4294967295\r\n${tag} OK done\r\n`);
    const events: string[] = [];
    client.addEventListener('vanished', (event) => events.push(event.detail.uids.toString()));
    const { ms } = await measured(() => client.noop());
    expect(events).toEqual(['1:4294967295']);
    expect(client.mailbox?.exists).toBe(0);
    expect(ms).toBeLessThan(500);
  });

  it('stops at the depth limit on a BODYSTRUCTURE nested 10,000 deep, and goes on', async () => {
    const deep = `${'('.repeat(DEPTH)}"text" "plain" NIL NIL NIL "7bit" 1 1${' "mixed")'.repeat(DEPTH)}`;
    const { client } = await answering(
      'FETCH',
      (tag) => `* 1 FETCH (UID 1 BODYSTRUCTURE ${deep})\r\n${tag} OK done\r\n`,
    );
    const { ms } = await measured(async () => {
      const error = await client.fetchAll(1, { bodyStructure: true }).catch((caught: unknown) => caught);
      expect(error).toBeInstanceOf(ProtocolError);
      expect((error as Error).message).toMatch(/Too deeply nested/);
    });
    expect(ms).toBeLessThan(1000);
    await client.noop();
    expect(client.usable).toBe(true);
  });

  it('stops at the depth limit on a THREAD nested 10,000 deep', async () => {
    const deep = `${'(1 '.repeat(DEPTH)}2${')'.repeat(DEPTH)}`;
    const { client } = await answering('THREAD', (tag) => `* THREAD ${deep}\r\n${tag} OK done\r\n`);
    await expect(client.thread('REFERENCES')).rejects.toThrow(/Too deeply nested/);
    await client.noop();
  });

  it('refuses a response line beyond the line limit, without waiting for its end', async () => {
    const { client, server } = await scripted(
      mailboxScript((_, verb) => (verb === 'NOOP' ? '' : undefined)),
      { client: { limits: { maxLineLength: 1024 } } },
    );
    const noop = client.noop();
    server.send(`* OK ${'x'.repeat(4096)}`);
    await expect(noop).rejects.toBeInstanceOf(ProtocolError);
  });
});
