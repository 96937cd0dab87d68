import { createMemoryStore, MailboxInUseError, type MailStore } from '@postwire/store';
import { describe, expect, it } from 'vitest';
import { openStoreMaildrop, type Pop3MessageSource } from '../../src/server/maildrop.js';

const encoder = new TextEncoder();

/** What `retrieve` gave, whole bytes or chunks, as text. */
async function text(source: Pop3MessageSource | Promise<Pop3MessageSource>): Promise<string> {
  const resolved = await source;
  if (resolved instanceof Uint8Array) return new TextDecoder().decode(resolved);
  const chunks: Uint8Array[] = [];
  for await (const chunk of resolved as AsyncIterable<Uint8Array>) chunks.push(chunk);
  return new TextDecoder().decode(Buffer.concat(chunks));
}

async function seeded() {
  const store = createMemoryStore();
  const inbox = await (await store.user('alice')).open('INBOX');
  const ids = [];
  for (const text of [
    'Subject: a\r\n\r\none\r\n',
    'Subject: b\r\n\r\ntwo\r\n',
    'Subject: c\r\n\r\nthree\r\n',
  ]) {
    ids.push((await inbox.append(encoder.encode(text))).id);
  }
  return { store, inbox, ids };
}

describe('openStoreMaildrop', () => {
  it("lists the user's INBOX with the store ids as UIDLs and the sizes, and reads each message", async () => {
    const { store, ids } = await seeded();
    const maildrop = await openStoreMaildrop(store, 'alice');
    expect(maildrop.messages.map(({ uid, size }) => ({ uid, size }))).toEqual([
      { uid: ids[0], size: 19 },
      { uid: ids[1], size: 19 },
      { uid: ids[2], size: 21 },
    ]);
    expect(await text(maildrop.retrieve(maildrop.messages[1]!))).toBe('Subject: b\r\n\r\ntwo\r\n');
    await maildrop.release();
  });

  it('reads a message of up to 1 MiB whole with readBytes, a larger one or without readBytes as a stream', async () => {
    const store = createMemoryStore();
    const inbox = await (await store.user('alice')).open('INBOX');
    const big = `Subject: big\r\n\r\n${'x'.repeat(1024 * 1024)}\r\n`;
    await inbox.append(encoder.encode('Subject: small\r\n\r\nhi\r\n'));
    await inbox.append(encoder.encode(big));
    const maildrop = await openStoreMaildrop(store, 'alice');
    const [small, large] = maildrop.messages;
    const whole = await maildrop.retrieve(small!);
    expect(whole).toBeInstanceOf(Uint8Array);
    expect(new TextDecoder().decode(whole as Uint8Array)).toBe('Subject: small\r\n\r\nhi\r\n');
    const streamed = await maildrop.retrieve(large!);
    expect(streamed).toBeInstanceOf(ReadableStream);
    expect(await text(streamed)).toBe(big);
    await maildrop.release();

    const withoutReadBytes: MailStore = {
      ...store,
      async user(name) {
        const mail = await store.user(name);
        return {
          ...mail,
          open: async (mailbox) => {
            const opened = await mail.open(mailbox);
            return new Proxy(opened, {
              get: (target, key) => {
                if (key === 'readBytes') return undefined;
                const value = Reflect.get(target, key);
                return typeof value === 'function' ? value.bind(target) : value;
              },
            });
          },
          release: () => mail.release(),
        };
      },
    };
    const plain = await openStoreMaildrop(withoutReadBytes, 'alice');
    const source = await plain.retrieve(plain.messages[0]!);
    expect(source).toBeInstanceOf(ReadableStream);
    expect(await text(source)).toBe('Subject: small\r\n\r\nhi\r\n');
    await plain.release();
  });

  it('case 26: holds the lock until released; a second open throws MailboxInUseError', async () => {
    const { store } = await seeded();
    const first = await openStoreMaildrop(store, 'alice');
    await expect(openStoreMaildrop(store, 'alice')).rejects.toBeInstanceOf(MailboxInUseError);
    await first.release();
    const second = await openStoreMaildrop(store, 'alice');
    await second.release();
  });

  it('case 27: update expunges the deleted, flags the retrieved as seen; UIDLs stay and are never reused', async () => {
    const { store, inbox, ids } = await seeded();
    const maildrop = await openStoreMaildrop(store, 'alice');
    const [a, b, c] = maildrop.messages;
    await maildrop.update({ deleted: [a!], retrieved: [a!, c!] });
    await maildrop.release();
    expect((await inbox.messages()).map((info) => [info.id, info.flags])).toEqual([
      [ids[1], []],
      [ids[2], ['\\Seen']],
    ]);
    const added = (await inbox.append(encoder.encode('Subject: d\r\n\r\nfour\r\n'))).id;
    const again = await openStoreMaildrop(store, 'alice');
    expect(again.messages.map((message) => message.uid)).toEqual([b!.uid, c!.uid, added]);
    expect(ids).not.toContain(added);
    await again.update({ deleted: [], retrieved: again.messages });
    await again.release();
  });

  it('serves another mailbox, and leaves flags alone without markSeen', async () => {
    const { store } = await seeded();
    const mail = await store.user('alice');
    await mail.create('Drop');
    const drop = await mail.open('Drop');
    await drop.append(encoder.encode('Subject: x\r\n\r\n'));
    const maildrop = await openStoreMaildrop(store, 'alice', { mailbox: 'Drop', markSeen: false });
    expect(maildrop.messages).toHaveLength(1);
    await maildrop.update({ deleted: [], retrieved: maildrop.messages });
    await maildrop.release();
    expect((await drop.messages())[0]!.flags).toEqual([]);
  });

  it('closes the mailbox and releases the lock when listing fails', async () => {
    const { store } = await seeded();
    const mail = await store.user('alice');
    await mail.create('Gone');
    const open = mail.open.bind(mail);
    const failing = {
      ...store,
      user: async () => ({
        ...mail,
        release: () => mail.release(),
        open: async (name: string) => {
          const mailbox = await open(name);
          return Object.assign(Object.create(Object.getPrototypeOf(mailbox)), mailbox, {
            lock: () => mailbox.lock(),
            close: () => mailbox.close(),
            messages: async () => {
              throw new Error('disk on fire');
            },
          });
        },
      }),
    };
    await expect(openStoreMaildrop(failing, 'alice')).rejects.toThrow('disk on fire');
    const maildrop = await openStoreMaildrop(store, 'alice');
    await maildrop.release();
  });
});
