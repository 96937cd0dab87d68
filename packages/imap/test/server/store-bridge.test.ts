import { createMemoryStore, type Mailbox, type UserMail } from '@postwire/store';
import { describe, expect, it } from 'vitest';
import { type ImapFetchResult, ImapStoreBridge } from '../../src/index.js';

describe('ImapStoreBridge', () => {
  it('owns the user handle: close() closes the open mailbox and releases the user once', async () => {
    const store = createMemoryStore();
    const mail = await store.user('alice');
    let releases = 0;
    const watched = new Proxy(mail, {
      get(target, property) {
        if (property === 'release')
          return async () => {
            releases++;
            await target.release();
          };
        const value = Reflect.get(target, property, target);
        return typeof value === 'function' ? value.bind(target) : value;
      },
    });
    const bridge = new ImapStoreBridge(watched);
    await bridge.run({ op: 'select', mailbox: 'INBOX', readOnly: false });
    await bridge.close();
    expect(releases).toBe(1);
    await expect(bridge.run({ op: 'fetch', uids: [1], structure: false, seen: false })).rejects.toThrow(
      /no mailbox is open/,
    );
  });

  describe('FETCH', () => {
    const encoder = new TextEncoder();
    const small = encoder.encode('Subject: small\r\n\r\nhello\r\n');
    const large = encoder.encode(`Subject: large\r\n\r\n${'x'.repeat(2 * 1024 * 1024)}\r\n`);

    /** A bridge over alice's mail whose mailboxes count their reads; `whole: false` hides `readBytes`. */
    async function bridgeOf(whole: boolean) {
      const store = createMemoryStore();
      const mail = await store.user('alice');
      const inbox = await mail.open('INBOX');
      for (const message of [small, large, small]) await inbox.append(message);
      await inbox.expunge([3]);
      await inbox.close();
      const reads = { stream: 0, whole: 0 };
      const counted = (mailbox: Mailbox): Mailbox =>
        new Proxy(mailbox, {
          get(target, property) {
            if (property === 'readBytes' && !whole) return undefined;
            const value = Reflect.get(target, property, target);
            if (typeof value !== 'function') return value;
            return (...args: unknown[]) => {
              if (property === 'read') reads.stream++;
              if (property === 'readBytes') reads.whole++;
              return value.apply(target, args);
            };
          },
        });
      const user = new Proxy(mail, {
        get(target, property) {
          if (property === 'open') return async (name: string) => counted(await target.open(name));
          const value = Reflect.get(target, property, target);
          return typeof value === 'function' ? value.bind(target) : value;
        },
      }) as UserMail;
      const bridge = new ImapStoreBridge(user);
      await bridge.run({ op: 'select', mailbox: 'INBOX', readOnly: true });
      return { bridge, reads };
    }

    async function bytesOf(result: ImapFetchResult, uid: number, start: number, end: number) {
      const source = result.content(uid, start, end);
      const chunks: Uint8Array[] = [];
      for await (const chunk of source.chunks as AsyncIterable<Uint8Array>) chunks.push(chunk);
      const bytes = Buffer.concat(chunks);
      expect(bytes.length).toBe(source.size);
      return bytes;
    }

    it('reads a literal in one piece when the store can, and streams one over 1 MiB', async () => {
      for (const whole of [true, false]) {
        const { bridge, reads } = await bridgeOf(whole);
        const result = (await bridge.run({
          op: 'fetch',
          uids: [1, 2, 3],
          structure: true,
          seen: false,
        })) as ImapFetchResult;
        // UID 3 is gone: left out of both lists, which stay in step.
        expect(result.messages.map((message) => message.uid)).toEqual([1, 2]);
        expect(result.structures!.map((structure) => structure.envelope.subject)).toEqual(['small', 'large']);
        expect(await bytesOf(result, 1, 0, small.length)).toEqual(Buffer.from(small));
        expect(await bytesOf(result, 1, 9, 14)).toEqual(Buffer.from(small.subarray(9, 14)));
        expect(await bytesOf(result, 1, 3, 3)).toEqual(Buffer.alloc(0));
        expect(reads).toEqual(whole ? { stream: 0, whole: 3 } : { stream: 3, whole: 0 });
        expect((await bytesOf(result, 2, 0, large.length)).equals(large)).toBe(true);
        expect(reads.stream).toBe(whole ? 1 : 4);
        await bridge.close();
      }
    });
  });
});
