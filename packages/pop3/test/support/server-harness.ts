import { execFile, execFileSync } from 'node:child_process';
import { once } from 'node:events';
import { connect as connectTcp, type Socket } from 'node:net';
import { connect as connectTls, type TLSSocket } from 'node:tls';
import { promisify } from 'node:util';
import { createMemoryStore, type MailStore } from '@postwire/store';
import { afterEach } from 'vitest';
import { testCertificates } from '../../../core/test/support/certs.js';
import { createPop3Server, type Pop3Server, type Pop3ServerOptions } from '../../src/node/server.js';

export const certificates = testCertificates();
/** The server side of STLS and implicit TLS, for `localhost`. */
export const serverTls = { cert: certificates.cert, key: certificates.key };

/** alice's password, in every test server. */
export const PASSWORD = 'secret';

/** SASL options that know alice (for USER/PASS, PLAIN, CRAM-MD5, SCRAM and APOP); cleartext allowed. */
export const saslOptions = {
  verifiers: { lookupPassword: (user: string) => (user === 'alice' ? PASSWORD : undefined) },
  allowCleartext: true,
};

/** Closes every server a test started, after each test of the file that calls it. */
export function closeServersAfterEach(): Pop3Server[] {
  const servers: Pop3Server[] = [];
  afterEach(async () => {
    for (const server of servers.splice(0)) await server.close({ timeout: 1000 });
  });
  return servers;
}

/** Puts messages in a user's INBOX; returns their store ids (the UIDLs). */
export async function deliver(store: MailStore, user: string, ...texts: string[]): Promise<string[]> {
  const inbox = await (await store.user(user)).open('INBOX');
  const ids: string[] = [];
  for (const text of texts) ids.push((await inbox.append(new TextEncoder().encode(text))).id);
  await inbox.close();
  return ids;
}

/** The texts of a user's INBOX, in order. */
export async function inboxTexts(store: MailStore, user: string): Promise<string[]> {
  const inbox = await (await store.user(user)).open('INBOX');
  const texts: string[] = [];
  for (const message of await inbox.messages()) {
    texts.push(await new Response(inbox.read(message.uid)).text());
  }
  await inbox.close();
  return texts;
}

/** Starts a server on loopback over a memory store (unless options say otherwise); resolves with its port. */
export async function startServer(
  servers: Pop3Server[],
  options: Partial<Pop3ServerOptions> = {},
): Promise<{ port: number; store: MailStore }> {
  const store = options.store ?? createMemoryStore();
  const server = createPop3Server({
    hostname: 'pop.test',
    sasl: saslOptions,
    ...(options.maildrop ? {} : { store }),
    ...options,
  });
  servers.push(server);
  return { port: (await server.listen()).port, store };
}

/** Waits until `condition` holds, polling, for at most `ms`. */
export async function until(condition: () => boolean, ms = 5000): Promise<void> {
  for (const start = Date.now(); !condition() && Date.now() - start < ms; ) {
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
}

/** How many complete responses a transcript holds: status lines, with the body of a multi-line one. */
export type Complete = (text: string) => boolean;

/** Complete after `count` status lines (`+OK`, `-ERR`, or a `+ ` continuation). */
export const statusLines =
  (count: number): Complete =>
  (text) =>
    (text.match(/^(?:\+OK|-ERR|\+ |\+\r)[^\n]*\n/gm) ?? []).length >= count;

/** Complete once the multi-line response's final `.` line has come (or a single `-ERR`). */
export const multiLine: Complete = (text) => text.endsWith('\r\n.\r\n') || /^-ERR[^\n]*\n$/.test(text);

/**
 * A raw POP3 client that speaks one flight at a time: each `send` waits until what the server said to it
 * is complete (or the connection closed) and returns it.
 */
export class Conversation {
  #socket: Socket | TLSSocket;
  #text = '';
  #closed = false;
  readonly closed: Promise<void>;

  private constructor(socket: Socket | TLSSocket) {
    this.#socket = socket;
    socket.on('data', this.#onData);
    socket.on('error', () => {});
    this.closed = new Promise((resolve) =>
      socket.on('close', () => {
        this.#closed = true;
        resolve();
      }),
    );
  }

  /** Connects (with implicit TLS when asked, trusting the test CA) and waits for the greeting. */
  static async open(port: number, options: { tls?: boolean } = {}): Promise<Conversation> {
    const socket = options.tls
      ? connectTls({ port, host: '127.0.0.1', servername: 'localhost', ca: certificates.ca })
      : connectTcp(port, '127.0.0.1');
    await once(socket, options.tls ? 'secureConnect' : 'connect');
    const conversation = new Conversation(socket);
    await conversation.#wait(0, statusLines(1));
    return conversation;
  }

  /** Everything the server said so far. */
  get text(): string {
    return this.#text;
  }

  get isClosed(): boolean {
    return this.#closed;
  }

  /** Writes `input` and waits until the server's answer is complete, or the close; returns the answer. */
  async send(input: string, complete: Complete = statusLines(1)): Promise<string> {
    const before = this.#text.length;
    this.#socket.write(input);
    await this.#wait(before, complete);
    return this.#text.slice(before);
  }

  /** Writes without waiting for anything. */
  write(input: string): void {
    this.#socket.write(input);
  }

  /** USER and PASS as alice. */
  login(password = PASSWORD): Promise<string> {
    return this.send(`USER alice\r\nPASS ${password}\r\n`, statusLines(2));
  }

  /** STLS and the TLS handshake, trusting the test CA; returns the `+OK`. */
  async startTls(): Promise<string> {
    const ready = await this.send('STLS\r\n');
    if (!ready.startsWith('+OK')) throw new Error(`STLS refused: ${ready}`);
    const raw = this.#socket;
    raw.off('data', this.#onData);
    const secure = connectTls({ socket: raw as Socket, ca: certificates.ca, servername: 'localhost' });
    secure.on('error', () => {});
    await once(secure, 'secureConnect');
    secure.on('data', this.#onData);
    this.#socket = secure;
    return ready;
  }

  /** Drops the connection. */
  destroy(): void {
    this.#socket.destroy();
  }

  readonly #onData = (data: Buffer): void => {
    this.#text += data.toString('latin1');
  };

  async #wait(from: number, complete: Complete): Promise<void> {
    await until(() => this.#closed || complete(this.#text.slice(from)));
  }
}

const run = promisify(execFile);

/** True when a command is on the PATH; otherwise prints why the tests that need it are skipped. */
export function installed(command: string, why: string): boolean {
  try {
    execFileSync('sh', ['-c', `command -v ${command}`], { stdio: 'pipe' });
    return true;
  } catch {
    console.warn(`skipping ${why}: ${command} is not installed`);
    return false;
  }
}

/** Runs a command with a deadline and returns its output; a failure carries stdout and stderr. */
export async function command(
  file: string,
  args: readonly string[],
  env: NodeJS.ProcessEnv = process.env,
): Promise<{ stdout: string; stderr: string }> {
  return run(file, [...args], { timeout: 20_000, env, encoding: 'utf8' });
}
