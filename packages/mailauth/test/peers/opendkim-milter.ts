import { existsSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import * as net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePorts, type PeerProcess, spawnPeer } from '../../../core/test/support/peer-process.js';
import type { DkimCanonicalization } from './python-tools.js';

/**
 * OpenDKIM's milter daemon (Debian's `opendkim` package, 2.11.0~beta2) as a DKIM signer: unlike
 * `opendkim-testmsg` (rsa-sha1, relaxed/simple only), the daemon signs with the algorithm and
 * canonicalization of its config: rsa-sha256 and ed25519-sha256 (`opendkim -V` lists both), any `c=`.
 *
 * {@link startOpendkimMilter} runs one daemon in the foreground (`opendkim -f -x CONF -l`) from a
 * throwaway directory, listening on `inet:PORT@127.0.0.1` (a free high port), in signing mode only,
 * and stops it by its PID. {@link milterExchange} is a small milter client (the Sendmail milter
 * protocol, version 6, over node:net) that hands it one message as an MTA would (SMFIC_OPTNEG,
 * CONNECT, HELO, MAIL, RCPT, DATA, HEADER per field, EOH, BODY chunks, BODYEOB) and collects the
 * header modifications it asks for. See /work/shared/PEERS.md, "OpenDKIM milter".
 */

export const OPENDKIM = '/usr/sbin/opendkim';
/** How long the daemon gets to listen. */
const START_DEADLINE = 10_000;
/** How many ports are tried when another process takes the chosen one first. */
const PORT_ATTEMPTS = 5;
/** How long one milter conversation may take. */
const EXCHANGE_TIMEOUT = 10_000;

/** True when the OpenDKIM milter daemon is installed (`.ci/run` installs Debian's `opendkim`). */
export function opendkimMilterAvailable(): boolean {
  return existsSync(OPENDKIM);
}

/** Options of {@link startOpendkimMilter}: what the daemon signs with. */
export interface OpendkimMilterOptions {
  /** `Domain`: the From domain it signs for, and `d=`. */
  readonly domain: string;
  /** `Selector`: `s=`. */
  readonly selector: string;
  /** `KeyFile`: PEM, RSA (PKCS #1 or #8) or Ed25519 (PKCS #8, as `openssl genpkey` writes it). */
  readonly privateKeyPem: string;
  /** `SignatureAlgorithm`; it must fit the key. */
  readonly algorithm: 'rsa-sha256' | 'ed25519-sha256' | 'rsa-sha1';
  /** `Canonicalization`. */
  readonly canonicalization: DkimCanonicalization;
  /** `SignHeaders` (default: OpenDKIM's own list, RFC 6376 §5.4.1's fields that are present). */
  readonly signHeaders?: readonly string[];
  /** `OversignHeaders` (default none). */
  readonly oversignHeaders?: readonly string[];
}

/** A running OpenDKIM milter. */
export interface OpendkimMilter {
  readonly pid: number;
  readonly port: number;
  /** The config file's text, as the daemon read it. */
  readonly config: string;
  /** What the daemon wrote to stdout and stderr (with `-l`, its log lines too). */
  output(): string;
  /**
   * Hands `message` to the daemon and prepends the DKIM-Signature it returns. Rejects when it
   * returns no signature (it then also says why in {@link output}).
   */
  sign(message: Uint8Array): Promise<MilterSignature>;
  /** SIGTERM, then SIGKILL; waits for the exit and removes the directory. Idempotent. */
  stop(): Promise<void>;
}

/** What {@link OpendkimMilter.sign} made. */
export interface MilterSignature {
  /** `DKIM-Signature: …` as the milter returned it, every line end turned into CRLF, ending with CRLF. */
  readonly header: string;
  /** The value exactly as the milter returned it (no field name; its own line ends). */
  readonly rawValue: string;
  /** `header` followed by the message (with CRLF line ends, as the milter was given it). */
  readonly signed: Buffer;
  /** The whole conversation's result. */
  readonly exchange: MilterResult;
}

/**
 * Starts `opendkim -f -x CONF -l` for one key, algorithm and canonicalization, and resolves once it
 * accepts connections on its port. Check {@link opendkimMilterAvailable} first.
 *
 * The config (a `Mode s` daemon that asks no DNS): `Socket inet:PORT@127.0.0.1`, `Domain`, `Selector`,
 * `KeyFile` (mode 0600), `SignatureAlgorithm`, `Canonicalization`, `Background no`, `Syslog no`,
 * `PidFile` in the directory, `RequireSafeKeys no` (it otherwise refuses a key under /tmp, writable by
 * all: `/tmp can be read or written by other users`, exit 78), `UserID` only when not root (as root
 * it stays root), `InternalHosts 127.0.0.1` (the default: a client from there is signed for).
 */
export async function startOpendkimMilter(options: OpendkimMilterOptions): Promise<OpendkimMilter> {
  const dir = await mkdtemp(join(tmpdir(), 'pw-opendkim-milter-'));
  const keyFile = join(dir, 'key.pem');
  await writeFile(keyFile, options.privateKeyPem, { mode: 0o600 });
  let lastFailure = '';
  for (let attempt = 0; attempt < PORT_ATTEMPTS; attempt++) {
    const [port] = await freePorts(1);
    const config = [
      'Mode s',
      `Socket inet:${port}@127.0.0.1`,
      `Domain ${options.domain}`,
      `Selector ${options.selector}`,
      `KeyFile ${keyFile}`,
      `SignatureAlgorithm ${options.algorithm}`,
      `Canonicalization ${options.canonicalization}`,
      ...(options.signHeaders ? [`SignHeaders ${options.signHeaders.join(',')}`] : []),
      ...(options.oversignHeaders ? [`OversignHeaders ${options.oversignHeaders.join(',')}`] : []),
      'InternalHosts 127.0.0.1',
      'Background no',
      'Syslog no',
      'RequireSafeKeys no',
      `PidFile ${join(dir, 'opendkim.pid')}`,
      '',
    ].join('\n');
    const configFile = join(dir, 'opendkim.conf');
    await writeFile(configFile, config);
    const peer = spawnPeer(OPENDKIM, ['-f', '-x', configFile, '-l']);
    const stop = async (): Promise<void> => {
      const stopped = peer.stop(); // SIGTERM now, SIGKILL after 5 s
      // libmilter notices the signal only when its accept loop wakes up, which on its own takes ~4.5 s:
      // a connection wakes it at once (the daemon then exits 0 in ~0.1 s).
      while (peer.running()) {
        await Promise.race([poke(port!), stopped]);
        await Promise.race([new Promise((resolve) => setTimeout(resolve, 50)), stopped]);
      }
      await stopped;
      await rm(dir, { recursive: true, force: true });
    };
    try {
      await waitUntilListening(peer, port!, Date.now() + START_DEADLINE);
      return {
        pid: peer.pid,
        port: port!,
        config,
        output: () => peer.output(),
        sign: async (message) => {
          const exchange = await milterExchange(port!, message);
          const signature = exchange.modifications.find(
            (m) => m.kind !== 'change' && m.name.toLowerCase() === 'dkim-signature',
          );
          if (!signature) {
            throw new Error(
              `OpenDKIM returned no DKIM-Signature (${exchange.verdict}):\n${JSON.stringify(exchange.modifications)}\n${peer.output()}`,
            );
          }
          const header = `${signature.name}:${toCrlf(signature.value)}\r\n`;
          return {
            header,
            rawValue: signature.value,
            signed: Buffer.concat([Buffer.from(header, 'latin1'), exchange.message]),
            exchange,
          };
        },
        stop,
      };
    } catch (error) {
      const exited = !peer.running();
      await peer.stop();
      await new Promise((resolve) => setTimeout(resolve, 50)); // its last words may still be in the pipe
      lastFailure = `${(error as Error).message}\n${peer.output()}`;
      // Exited at once with `smfi_opensocket() failed`: most likely the port was taken after the check
      // (a bad config fails each time the same way, so that is not tried again).
      if (!exited || !/smfi_opensocket\(\) failed|address already in use/i.test(peer.output())) break;
    }
  }
  await rm(dir, { recursive: true, force: true });
  throw new Error(`opendkim did not start: ${lastFailure}`);
}

/** Connects to 127.0.0.1:`port` and hangs up at once; never fails. */
function poke(port: number): Promise<void> {
  return new Promise((resolve) => {
    const socket = net.connect({ host: '127.0.0.1', port });
    socket.once('connect', () => {
      socket.destroy();
      resolve();
    });
    socket.once('error', () => resolve());
  });
}

async function waitUntilListening(peer: PeerProcess, port: number, deadline: number): Promise<void> {
  for (;;) {
    if (!peer.running()) throw new Error('opendkim exited');
    const accepted = await new Promise<boolean>((resolve) => {
      const socket = net.connect({ host: '127.0.0.1', port });
      socket.once('connect', () => {
        socket.destroy();
        resolve(true);
      });
      socket.once('error', () => resolve(false));
    });
    if (accepted) return;
    if (Date.now() >= deadline) throw new Error(`opendkim did not listen on 127.0.0.1:${port} in time`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

/** Every bare LF (and existing CRLF) as CRLF. */
function toCrlf(text: string): string {
  return text.replace(/\r?\n/g, '\r\n');
}

// The milter protocol (Sendmail's libmilter/mfdef.h; protocol version 6).
const SMFI_VERSION = 6;
/** Commands, MTA to filter. */
const SMFIC = {
  OPTNEG: 'O',
  MACRO: 'D',
  CONNECT: 'C',
  HELO: 'H',
  MAIL: 'M',
  RCPT: 'R',
  DATA: 'T',
  HEADER: 'L',
  EOH: 'N',
  BODY: 'B',
  BODYEOB: 'E',
  QUIT: 'Q',
} as const;
/** Protocol flags: steps the filter does not want (NO…) or will not reply to (NR…). */
const SMFIP = {
  NOCONNECT: 0x1,
  NOHELO: 0x2,
  NOMAIL: 0x4,
  NORCPT: 0x8,
  NOBODY: 0x10,
  NOHDRS: 0x20,
  NOEOH: 0x40,
  NR_HDR: 0x80,
  NOUNKNOWN: 0x100,
  NODATA: 0x200,
  SKIP: 0x400,
  RCPT_REJ: 0x800,
  NR_CONN: 0x1000,
  NR_HELO: 0x2000,
  NR_MAIL: 0x4000,
  NR_RCPT: 0x8000,
  NR_DATA: 0x10000,
  NR_UNKN: 0x20000,
  NR_EOH: 0x40000,
  NR_BODY: 0x80000,
  HDR_LEADSPC: 0x100000,
} as const;
/** Every protocol flag above: what this client can honour. */
const ALL_PROTOCOL_FLAGS = Object.values(SMFIP).reduce((all, flag) => all | flag, 0);
/** Actions the MTA allows (SMFIF_ADDHDRS … SMFIF_SETSYMLIST): all of them. */
const ALL_ACTIONS = 0x1ff;
/** The largest body chunk (MILTER_CHUNK_SIZE). */
const CHUNK_SIZE = 65_535;

/** A header modification the filter asked for at end of message. */
export type MilterModification =
  /** SMFIR_ADDHEADER: append. */
  | { readonly kind: 'add'; readonly name: string; readonly value: string }
  /** SMFIR_INSHEADER: insert at `index` (0: before the first field). */
  | { readonly kind: 'insert'; readonly index: number; readonly name: string; readonly value: string }
  /** SMFIR_CHGHEADER: change the `index`th (1-based) field named `name`; an empty value deletes it. */
  | { readonly kind: 'change'; readonly index: number; readonly name: string; readonly value: string };

/** How a {@link milterExchange} went. */
export interface MilterResult {
  /** The filter's negotiated version, actions and protocol flags. */
  readonly negotiated: { readonly version: number; readonly actions: number; readonly protocol: number };
  /** The final reply: `accept` (SMFIR_ACCEPT), `continue`, `reject`, `tempfail`, `discard`, or a reply code. */
  readonly verdict: string;
  /** Header modifications, in the order they came. */
  readonly modifications: readonly MilterModification[];
  /** Other replies at end of message (SMFIR_* letters other than header modifications and progress). */
  readonly otherActions: readonly string[];
  /** The message as it was handed over: CRLF line ends. */
  readonly message: Buffer;
}

/** The envelope {@link milterExchange} gives the filter. */
export interface MilterEnvelope {
  readonly helo?: string;
  readonly mailFrom?: string;
  readonly rcptTo?: string;
  /** The SMTP client's address (an internal host makes OpenDKIM sign): default 127.0.0.1. */
  readonly clientAddress?: string;
}

/**
 * One message through a milter at 127.0.0.1:`port`, as an MTA passes it: the header fields split at
 * the first empty line, each field's name and its value (everything after the colon, leading white
 * space and folding kept, when the filter negotiated SMFIP_HDR_LEADSPC; without it one leading space
 * is dropped, as Sendmail does), folded lines joined with LF as Postfix and Sendmail pass them, then
 * the body with CRLF line ends in chunks. A message with bare LFs is first turned into CRLF (as SMTP
 * would have carried it). Honours the filter's NO…/NR… protocol flags.
 */
export async function milterExchange(
  port: number,
  input: Uint8Array,
  envelope: MilterEnvelope = {},
): Promise<MilterResult> {
  const message = Buffer.from(Buffer.from(input).toString('latin1').replace(/\r?\n/g, '\r\n'), 'latin1');
  const text = message.toString('latin1');
  const split = text.indexOf('\r\n\r\n');
  const headerText = split < 0 ? text : text.slice(0, split + 2);
  const body = split < 0 ? Buffer.alloc(0) : message.subarray(split + 4);
  const fields: { name: string; value: string }[] = [];
  for (const line of headerText.split('\r\n').slice(0, -1)) {
    const last = fields[fields.length - 1];
    if ((line.startsWith(' ') || line.startsWith('\t')) && last) {
      last.value += `\n${line}`;
    } else {
      const colon = line.indexOf(':');
      if (colon <= 0) throw new Error(`milterExchange: not a header field: ${JSON.stringify(line)}`);
      fields.push({ name: line.slice(0, colon), value: line.slice(colon + 1) });
    }
  }

  const connection = await MilterConnection.open(port);
  try {
    // SMFIC_OPTNEG: version, the actions this MTA allows, the protocol steps it can leave out.
    const optneg = Buffer.alloc(12);
    optneg.writeUInt32BE(SMFI_VERSION, 0);
    optneg.writeUInt32BE(ALL_ACTIONS, 4);
    optneg.writeUInt32BE(ALL_PROTOCOL_FLAGS, 8);
    connection.send(SMFIC.OPTNEG, optneg);
    const reply = await connection.read();
    if (reply.command !== 'O' || reply.data.length < 12) {
      throw new Error(`milter: bad SMFIC_OPTNEG reply ${JSON.stringify(reply.command)}`);
    }
    const negotiated = {
      version: reply.data.readUInt32BE(0),
      actions: reply.data.readUInt32BE(4),
      protocol: reply.data.readUInt32BE(8),
    };
    const flags = negotiated.protocol;
    const has = (flag: number): boolean => (flags & flag) !== 0;
    /** Sends one step unless the filter asked to leave it out; reads the reply unless it said it gives none. */
    const step = async (skip: number, noReply: number, command: string, data: Buffer): Promise<string> => {
      if (has(skip)) return 'continue';
      connection.send(command, data);
      if (has(noReply)) return 'continue';
      return finalReply(await connection.readSkippingProgress());
    };
    const cstrings = (...strings: string[]): Buffer =>
      Buffer.concat(strings.map((s) => Buffer.from(`${s}\0`, 'latin1')));
    const macros = (forCommand: string, pairs: Record<string, string>): void => {
      connection.send(
        SMFIC.MACRO,
        Buffer.concat([Buffer.from(forCommand), cstrings(...Object.entries(pairs).flat())]),
      );
    };
    const done = (verdict: string): MilterResult => ({
      negotiated,
      verdict,
      modifications: [],
      otherActions: [],
      message,
    });

    const clientAddress = envelope.clientAddress ?? '127.0.0.1';
    macros(SMFIC.CONNECT, { j: 'mx.postwire.test', '{daemon_name}': 'postwire-test' });
    const connectData = Buffer.concat([
      cstrings('localhost'),
      Buffer.from(net.isIPv6(clientAddress) ? '6' : '4'),
      Buffer.from([0x30, 0x39]), // the client's port, 12345
      cstrings(clientAddress),
    ]);
    let verdict = await step(SMFIP.NOCONNECT, SMFIP.NR_CONN, SMFIC.CONNECT, connectData);
    if (verdict !== 'continue') return done(verdict);
    verdict = await step(
      SMFIP.NOHELO,
      SMFIP.NR_HELO,
      SMFIC.HELO,
      cstrings(envelope.helo ?? 'client.postwire.test'),
    );
    if (verdict !== 'continue') return done(verdict);
    macros(SMFIC.MAIL, { i: 'PWTEST01', '{mail_addr}': envelope.mailFrom ?? 'alice@example.test' });
    verdict = await step(
      SMFIP.NOMAIL,
      SMFIP.NR_MAIL,
      SMFIC.MAIL,
      cstrings(`<${envelope.mailFrom ?? 'alice@example.test'}>`),
    );
    if (verdict !== 'continue') return done(verdict);
    verdict = await step(
      SMFIP.NORCPT,
      SMFIP.NR_RCPT,
      SMFIC.RCPT,
      cstrings(`<${envelope.rcptTo ?? 'bob@example.org'}>`),
    );
    if (verdict !== 'continue') return done(verdict);
    verdict = await step(SMFIP.NODATA, SMFIP.NR_DATA, SMFIC.DATA, Buffer.alloc(0));
    if (verdict !== 'continue') return done(verdict);
    for (const { name, value } of fields) {
      // Without SMFIP_HDR_LEADSPC an MTA drops the one space after the colon (the filter adds it back).
      const passed = has(SMFIP.HDR_LEADSPC) ? value : value.replace(/^ /, '');
      verdict = await step(SMFIP.NOHDRS, SMFIP.NR_HDR, SMFIC.HEADER, cstrings(name, passed));
      if (verdict !== 'continue') return done(verdict);
    }
    verdict = await step(SMFIP.NOEOH, SMFIP.NR_EOH, SMFIC.EOH, Buffer.alloc(0));
    if (verdict !== 'continue') return done(verdict);
    for (let offset = 0; offset < body.length; offset += CHUNK_SIZE) {
      verdict = await step(
        SMFIP.NOBODY,
        SMFIP.NR_BODY,
        SMFIC.BODY,
        body.subarray(offset, offset + CHUNK_SIZE),
      );
      if (verdict === 'skip') break;
      if (verdict !== 'continue') return done(verdict);
    }
    connection.send(SMFIC.BODYEOB, Buffer.alloc(0));
    const modifications: MilterModification[] = [];
    const otherActions: string[] = [];
    for (;;) {
      const { command, data } = await connection.readSkippingProgress();
      if (command === 'h') {
        const [name, value] = cstringsOf(data);
        modifications.push({ kind: 'add', name: name!, value: value! });
      } else if (command === 'i' || command === 'm') {
        const index = data.readUInt32BE(0);
        const [name, value] = cstringsOf(data.subarray(4));
        modifications.push({
          kind: command === 'i' ? 'insert' : 'change',
          index,
          name: name!,
          value: value!,
        });
      } else if ('acrtdy'.includes(command)) {
        verdict = finalReply({ command, data });
        break;
      } else {
        otherActions.push(command);
      }
    }
    connection.send(SMFIC.QUIT, Buffer.alloc(0));
    return { negotiated, verdict, modifications, otherActions, message };
  } finally {
    connection.close();
  }
}

/** The NUL-terminated strings of a reply. */
function cstringsOf(data: Buffer): string[] {
  const text = data.toString('latin1');
  return (text.endsWith('\0') ? text.slice(0, -1) : text).split('\0');
}

function finalReply({ command, data }: { command: string; data: Buffer }): string {
  switch (command) {
    case 'c':
      return 'continue';
    case 'a':
      return 'accept';
    case 'r':
      return 'reject';
    case 't':
      return 'tempfail';
    case 'd':
      return 'discard';
    case 's':
      return 'skip';
    case 'y':
      return `reply ${cstringsOf(data)[0]}`;
    default:
      throw new Error(`milter: unexpected reply ${JSON.stringify(command)}`);
  }
}

/** One milter connection: packets of a 4-byte length, a command letter and data. */
class MilterConnection {
  private buffered = Buffer.alloc(0);
  private waiting: (() => void) | undefined;
  private failure: Error | undefined;
  private readonly timer: ReturnType<typeof setTimeout>;

  private constructor(private readonly socket: net.Socket) {
    socket.on('data', (chunk: Buffer) => {
      this.buffered = Buffer.concat([this.buffered, chunk]);
      this.wake();
    });
    socket.on('error', (error) => this.fail(error));
    socket.on('close', () => this.fail(new Error('milter: the filter closed the connection')));
    this.timer = setTimeout(() => {
      this.fail(new Error(`milter: no answer within ${EXCHANGE_TIMEOUT} ms`));
      socket.destroy();
    }, EXCHANGE_TIMEOUT);
  }

  static open(port: number): Promise<MilterConnection> {
    return new Promise((resolve, reject) => {
      const socket = net.connect({ host: '127.0.0.1', port });
      socket.once('connect', () => {
        socket.removeListener('error', reject);
        resolve(new MilterConnection(socket));
      });
      socket.once('error', reject);
    });
  }

  send(command: string, data: Buffer): void {
    const header = Buffer.alloc(5);
    header.writeUInt32BE(data.length + 1, 0);
    header.write(command, 4, 'latin1');
    this.socket.write(Buffer.concat([header, data]));
  }

  async read(): Promise<{ command: string; data: Buffer }> {
    for (;;) {
      if (this.buffered.length >= 4) {
        const length = this.buffered.readUInt32BE(0);
        if (this.buffered.length >= 4 + length) {
          const packet = this.buffered.subarray(4, 4 + length);
          this.buffered = this.buffered.subarray(4 + length);
          return { command: String.fromCharCode(packet[0]!), data: packet.subarray(1) };
        }
      }
      if (this.failure) throw this.failure;
      await new Promise<void>((resolve) => {
        this.waiting = resolve;
      });
    }
  }

  /** Reads the next reply that is not SMFIR_PROGRESS. */
  async readSkippingProgress(): Promise<{ command: string; data: Buffer }> {
    for (;;) {
      const reply = await this.read();
      if (reply.command !== 'p') return reply;
    }
  }

  close(): void {
    clearTimeout(this.timer);
    this.socket.destroy();
  }

  private fail(error: Error): void {
    this.failure ??= error;
    this.wake();
  }

  private wake(): void {
    const waiting = this.waiting;
    this.waiting = undefined;
    waiting?.();
  }
}
