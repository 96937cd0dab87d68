import { once } from 'node:events';
import { mkdtemp, readdir, rm } from 'node:fs/promises';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { connect as connectTls } from 'node:tls';
import { MailboxInUseError } from '@postwire/store';
import { createMaildirStore } from '@postwire/store/maildir';
import { describe, expect, it } from 'vitest';
import type { Pop3Maildrop, Pop3MaildropMessage } from '../../src/server/maildrop.js';
import {
  Conversation,
  certificates,
  closeServersAfterEach,
  deliver,
  inboxTexts,
  multiLine,
  serverTls,
  startServer,
  statusLines,
  until,
} from '../support/server-harness.js';

const servers = closeServersAfterEach();
const encoder = new TextEncoder();

/** What a test maildrop was asked to do. */
interface Calls {
  opened: string[];
  updates: { deleted: string[]; retrieved: string[] }[];
  released: number;
}

/** An application's own maildrop over a list of texts, recording the calls; `overrides` replace members. */
function maildropOf(
  texts: readonly string[],
  calls: Calls,
  overrides: Partial<Pop3Maildrop> = {},
): Pop3Maildrop {
  const messages = texts.map((text, index) => ({
    uid: `id-${index + 1}`,
    size: encoder.encode(text).length,
  }));
  const ids = (list: readonly Pop3MaildropMessage[]) => list.map((message) => message.uid);
  return {
    messages,
    async *retrieve(message) {
      const text = encoder.encode(texts[messages.indexOf(message as (typeof messages)[number])]!);
      // In two pieces, as an application's storage may hand them over.
      yield text.subarray(0, 5);
      yield text.subarray(5);
    },
    async update({ deleted, retrieved }) {
      calls.updates.push({ deleted: ids(deleted), retrieved: ids(retrieved) });
    },
    async release() {
      calls.released++;
    },
    ...overrides,
  };
}

function newCalls(): Calls {
  return { opened: [], updates: [], released: 0 };
}

describe("createPop3Server: the application's maildrop", () => {
  it('serves it: listing, messages from an async iterable, the update at QUIT, one release', async () => {
    const calls = newCalls();
    const texts = ['Subject: a\r\n\r\none\r\n', 'Subject: b\r\n\r\ntwo\r\n'];
    const { port } = await startServer(servers, {
      maildrop: (user) => {
        calls.opened.push(user);
        return maildropOf(texts, calls);
      },
    });
    const pop = await Conversation.open(port);
    await pop.login();
    expect(await pop.send('UIDL\r\n', multiLine)).toBe(
      '+OK Unique-ID listing follows\r\n1 id-1\r\n2 id-2\r\n.\r\n',
    );
    expect(await pop.send('RETR 2\r\n', multiLine)).toBe(`+OK 19 octets\r\n${texts[1]}.\r\n`);
    expect(await pop.send('TOP 1 0\r\n', multiLine)).toBe(
      '+OK Top of message follows\r\nSubject: a\r\n\r\n.\r\n',
    );
    await pop.send('DELE 1\r\nQUIT\r\n', statusLines(2));
    await pop.closed;
    expect(calls).toEqual({
      opened: ['alice'],
      updates: [{ deleted: ['id-1'], retrieved: ['id-2'] }],
      released: 1,
    });
  });

  it('serves messages given whole, as bytes or a promise of them: dot-stuffed, cut for TOP', async () => {
    const calls = newCalls();
    const texts = ['Subject: a\r\n\r\n.one\r\n', 'Subject: b\r\n\r\n.\r\ntwo\r\n'];
    const { port } = await startServer(servers, {
      maildrop: () =>
        maildropOf(texts, calls, {
          retrieve: (message) => {
            const bytes = encoder.encode(texts[Number(message.uid.slice(3)) - 1]!);
            return message.uid === 'id-1' ? bytes : Promise.resolve(bytes);
          },
        }),
    });
    const pop = await Conversation.open(port);
    await pop.login();
    expect(await pop.send('RETR 1\r\n', multiLine)).toBe('+OK 20 octets\r\nSubject: a\r\n\r\n..one\r\n.\r\n');
    expect(await pop.send('RETR 2\r\n', multiLine)).toBe(
      '+OK 22 octets\r\nSubject: b\r\n\r\n..\r\ntwo\r\n.\r\n',
    );
    expect(await pop.send('TOP 2 1\r\n', multiLine)).toBe(
      '+OK Top of message follows\r\nSubject: b\r\n\r\n..\r\n.\r\n',
    );
    await pop.send('QUIT\r\n', statusLines(1));
    await pop.closed;
    expect(calls.updates).toEqual([{ deleted: [], retrieved: ['id-1', 'id-2'] }]);
  });

  it('writes the listings of pipelined commands as they are made, not all held until the input runs out', async () => {
    const calls = newCalls();
    const texts = Array.from({ length: 5000 }, () => 'Subject: x\r\n\r\n');
    let pop: Conversation | undefined;
    let receivedBeforeRetr = 0;
    const { port } = await startServer(servers, {
      maildrop: () =>
        maildropOf(texts, calls, {
          // Three UIDL listings (each over 40 KiB) went before this RETR, pipelined in one write.
          retrieve: async () => {
            await until(() => pop!.text.length > 100_000, 2000);
            receivedBeforeRetr = pop!.text.length;
            return encoder.encode(texts[0]!);
          },
        }),
    });
    pop = await Conversation.open(port);
    await pop.login();
    await pop.send('UIDL\r\nUIDL\r\nUIDL\r\nRETR 1\r\n', (text) => text.endsWith('\r\n\r\n.\r\n'));
    expect(receivedBeforeRetr).toBeGreaterThan(100_000);
  });

  it('a locked maildrop is [IN-USE]; another failure to open is [SYS/TEMP], reported', async () => {
    const errors: unknown[] = [];
    let failure: Error = new MailboxInUseError();
    const { port } = await startServer(servers, {
      maildrop: () => {
        throw failure;
      },
      onError: (error) => errors.push(error),
    });
    const pop = await Conversation.open(port);
    expect(await pop.login()).toContain('-ERR [IN-USE] Maildrop is locked by another session\r\n');
    failure = new Error('disk on fire');
    expect(await pop.send('USER alice\r\nPASS secret\r\n', statusLines(2))).toContain(
      '-ERR [SYS/TEMP] Cannot open the maildrop\r\n',
    );
    expect(errors).toEqual([failure]);
  });

  it('case 27: a maildrop with malformed unique ids is refused with [SYS/PERM], and released', async () => {
    const calls = newCalls();
    const errors: unknown[] = [];
    const { port } = await startServer(servers, {
      maildrop: () => maildropOf(['x'], calls, { messages: [{ uid: 'not unique', size: 1 }] }),
      onError: (error) => errors.push(error),
    });
    const pop = await Conversation.open(port);
    expect(await pop.login()).toContain('-ERR [SYS/PERM] The maildrop cannot be served\r\n');
    expect(calls.released).toBe(1);
    expect(errors).toHaveLength(1);
  });

  it('a message that cannot be opened is [SYS/TEMP]; one that breaks mid-way ends the connection', async () => {
    const calls = newCalls();
    const errors: unknown[] = [];
    const texts = ['Subject: a\r\n\r\none\r\n', 'Subject: b\r\n\r\ntwo\r\n'];
    const { port } = await startServer(servers, {
      maildrop: () =>
        maildropOf(texts, calls, {
          retrieve: (message) => {
            if (message.uid === 'id-1') throw new Error('gone');
            return (async function* () {
              yield encoder.encode('Subject: b\r\n');
              throw new Error('read error');
            })();
          },
        }),
      onError: (error) => errors.push(error),
    });
    const pop = await Conversation.open(port);
    await pop.login();
    expect(await pop.send('RETR 1\r\n')).toBe('-ERR [SYS/TEMP] Cannot read the message\r\n');
    await pop.send('DELE 1\r\nRETR 2\r\n', statusLines(2));
    await pop.closed;
    expect(pop.text.endsWith('+OK 19 octets\r\nSubject: b\r\n')).toBe(true);
    expect(calls.updates).toEqual([]);
    expect(calls.released).toBe(1);
    expect(errors.map((error) => (error as Error).message)).toEqual(['gone', 'read error']);
  });

  it('an update that fails answers QUIT with [SYS/TEMP], and still releases', async () => {
    const calls = newCalls();
    const { port } = await startServer(servers, {
      maildrop: () =>
        maildropOf(['Subject: a\r\n\r\n'], calls, {
          update: async () => {
            throw new Error('read-only');
          },
        }),
      onError: () => {},
    });
    const pop = await Conversation.open(port);
    await pop.login();
    expect(await pop.send('DELE 1\r\nQUIT\r\n', statusLines(2))).toBe(
      '+OK Message 1 deleted\r\n-ERR [SYS/TEMP] Some deleted messages not removed\r\n',
    );
    await pop.closed;
    expect(calls.released).toBe(1);
  });

  it('a shutdown during the update at QUIT lets it finish and answers QUIT with its real outcome', async () => {
    const calls = newCalls();
    let finishUpdate!: () => void;
    let updating!: () => void;
    const updateStarted = new Promise<void>((resolve) => {
      updating = resolve;
    });
    const { port } = await startServer(servers, {
      maildrop: () =>
        maildropOf(['Subject: a\r\n\r\n'], calls, {
          update: ({ deleted }) => {
            calls.updates.push({ deleted: deleted.map((message) => message.uid), retrieved: [] });
            updating();
            return new Promise<void>((resolve) => {
              finishUpdate = resolve;
            });
          },
        }),
    });
    const pop = await Conversation.open(port);
    await pop.login();
    expect(await pop.send('DELE 1\r\n')).toBe('+OK Message 1 deleted\r\n');
    const quit = pop.send('QUIT\r\n');
    await updateStarted;
    const closing = servers.at(-1)!.close();
    // The goodbye runs while the deletion is still under way.
    await new Promise((resolve) => setImmediate(resolve));
    finishUpdate();
    expect(await quit).toMatch(/^\+OK .* signing off \(maildrop empty\)\r\n$/);
    await closing;
    await pop.closed;
    expect(calls.updates).toEqual([{ deleted: ['id-1'], retrieved: [] }]);
    expect(calls.released).toBe(1);
  });

  it('a failing release and onClose are reported, and onClose learns the user', async () => {
    const errors: unknown[] = [];
    const closed: (string | undefined)[] = [];
    const calls = newCalls();
    const { port } = await startServer(servers, {
      maildrop: () =>
        maildropOf([], calls, {
          release: async () => {
            throw new Error('unlock failed');
          },
        }),
      onClose: (connection) => {
        closed.push(connection.user);
        throw new Error('onClose failed');
      },
      onError: (error) => errors.push(error),
    });
    const pop = await Conversation.open(port);
    await pop.login();
    await pop.send('QUIT\r\n');
    await until(() => errors.length === 2);
    expect(closed).toEqual(['alice']);
    expect(errors.map((error) => (error as Error).message)).toEqual(['unlock failed', 'onClose failed']);
  });

  it('a web stream that errors mid-way ends the connection too, reported', async () => {
    const calls = newCalls();
    const errors: unknown[] = [];
    const { port } = await startServer(servers, {
      maildrop: () =>
        maildropOf(['x'], calls, {
          retrieve: () => {
            let pulls = 0;
            return new ReadableStream<Uint8Array>({
              pull(controller) {
                if (pulls++ === 0) controller.enqueue(encoder.encode('Subject: b\r\n'));
                else controller.error(new Error('read error'));
              },
            });
          },
        }),
      onError: (error) => errors.push(error),
    });
    const pop = await Conversation.open(port);
    await pop.login();
    pop.write('RETR 1\r\n');
    await pop.closed;
    expect(pop.text.endsWith('+OK 1 octets\r\nSubject: b\r\n')).toBe(true);
    expect(calls.released).toBe(1);
    expect(errors.map((error) => (error as Error).message)).toEqual(['read error']);
  });

  it.each([
    ['TCP', false],
    ['implicit TLS', true],
  ])(
    'joins small pieces, writes large ones as they are, byte for byte, to a client that reads late (%s)',
    async (_, tls) => {
      const calls = newCalls();
      // Over 128 KB of dotted lines (small pieces, more than the output buffer holds), a 50 KB run
      // without a dot (a piece written as it is), and a dotted line at the end; in uneven chunks.
      const text =
        `Subject: mix\r\n\r\n${`.${'a'.repeat(60)}\r\n`.repeat(3000)}${'b'.repeat(50_000)}\r\n` +
        '.end\r\nlast\r\n';
      const bytes = encoder.encode(text);
      const { port } = await startServer(servers, {
        maildrop: () =>
          maildropOf([text], calls, {
            async *retrieve() {
              yield bytes.subarray(0, 7);
              yield bytes.subarray(7, 150_000);
              yield bytes.subarray(150_000);
            },
          }),
        ...(tls ? { tls: serverTls } : {}),
      });
      const socket = tls
        ? connectTls({ port, host: '127.0.0.1', servername: 'localhost', ca: certificates.ca })
        : connect(port, '127.0.0.1');
      socket.on('error', () => {});
      let received = '';
      const expected =
        `+OK ${bytes.length} octets\r\n${text.replaceAll('\r\n.', '\r\n..')}.\r\n`.repeat(16) +
        '+OK pop.test signing off (1 message left)\r\n';
      await once(socket, tls ? 'secureConnect' : 'connect');
      socket.write('USER alice\r\nPASS secret\r\n');
      // Pipelined (4 MB in all), and not read for a while: the server's writes wait for the socket to drain.
      socket.write(`${'RETR 1\r\n'.repeat(16)}QUIT\r\n`);
      await new Promise((resolve) => setTimeout(resolve, 200));
      socket.on('data', (data: Buffer) => {
        received += data.toString('latin1');
      });
      await once(socket, 'close');
      const greetingAndLogin = received.indexOf('+OK', received.indexOf('Maildrop locked'));
      expect(received.slice(greetingAndLogin)).toBe(expected);
    },
  );

  it('stops reading a message once TOP has what it sends', async () => {
    let chunksRead = 0;
    let cancelled = false;
    const calls = newCalls();
    const { port } = await startServer(servers, {
      maildrop: () =>
        maildropOf(['x'], calls, {
          messages: [{ uid: 'big', size: 1_000_000 }],
          retrieve: () =>
            new ReadableStream<Uint8Array>({
              pull(controller) {
                chunksRead++;
                controller.enqueue(
                  encoder.encode(chunksRead === 1 ? 'Subject: big\r\n\r\nfirst\r\n' : 'more\r\n'),
                );
              },
              cancel() {
                cancelled = true;
              },
            }),
        }),
    });
    const pop = await Conversation.open(port);
    await pop.login();
    expect(await pop.send('TOP 1 1\r\n', multiLine)).toBe(
      '+OK Top of message follows\r\nSubject: big\r\n\r\nfirst\r\n.\r\n',
    );
    expect(chunksRead).toBeLessThan(4);
    expect(cancelled).toBe(true);
  });
});

describe('createPop3Server over a Maildir store', () => {
  it('serves the INBOX of a Maildir, deletes the files at QUIT, and keeps UIDLs across a restart', async () => {
    const root = await mkdtemp(join(tmpdir(), 'pw-pop3-maildir-'));
    try {
      const store = createMaildirStore({ root, fsync: false });
      const ids = await deliver(store, 'alice', 'Subject: a\r\n\r\none\r\n', 'Subject: b\r\n\r\ntwo\r\n');
      const { port } = await startServer(servers, { store });
      const pop = await Conversation.open(port);
      await pop.login();
      expect(await pop.send('UIDL\r\n', multiLine)).toBe(
        `+OK Unique-ID listing follows\r\n1 ${ids[0]}\r\n2 ${ids[1]}\r\n.\r\n`,
      );
      expect(await pop.send('RETR 1\r\n', multiLine)).toBe('+OK 19 octets\r\nSubject: a\r\n\r\none\r\n.\r\n');
      await pop.send('DELE 1\r\nQUIT\r\n', statusLines(2));
      await pop.closed;
      await store.close();
      const files = async () =>
        [...(await readdir(join(root, 'alice', 'cur'))), ...(await readdir(join(root, 'alice', 'new')))]
          .length;
      expect(await files()).toBe(1);

      const reopened = createMaildirStore({ root, fsync: false });
      const { port: again } = await startServer(servers, { store: reopened });
      const next = await Conversation.open(again);
      await next.login();
      expect(await next.send('UIDL\r\n', multiLine)).toBe(
        `+OK Unique-ID listing follows\r\n1 ${ids[1]}\r\n.\r\n`,
      );
      await next.send('QUIT\r\n');
      expect(await inboxTexts(reopened, 'alice')).toEqual(['Subject: b\r\n\r\ntwo\r\n']);
      await reopened.close();
    } finally {
      await rm(root, { recursive: true, force: true });
    }
  });

  it('a message whose file another program removed is [SYS/TEMP] before any of it is sent; the session goes on', async () => {
    const root = await mkdtemp(join(tmpdir(), 'pw-pop3-maildir-'));
    try {
      const store = createMaildirStore({ root, fsync: false });
      await deliver(store, 'alice', 'Subject: a\r\n\r\none\r\n', 'Subject: b\r\n\r\ntwo\r\n');
      const errors: unknown[] = [];
      const { port } = await startServer(servers, { store, onError: (error) => errors.push(error) });
      const pop = await Conversation.open(port);
      await pop.login();
      const dir = join(root, 'alice', 'new');
      const [first] = (await readdir(dir)).sort();
      await rm(join(dir, first!));
      expect(await pop.send('RETR 1\r\n')).toBe('-ERR [SYS/TEMP] Cannot read the message\r\n');
      expect(await pop.send('RETR 2\r\n', multiLine)).toBe('+OK 19 octets\r\nSubject: b\r\n\r\ntwo\r\n.\r\n');
      await pop.send('QUIT\r\n');
      await pop.closed;
      expect(errors).toHaveLength(1);
      await store.close();
    } finally {
      await rm(root, { recursive: true, force: true });
    }
  });
});
