import { afterEach, describe, expect, it, vi } from 'vitest';
import { connect as denoConnect } from '../src/deno/connect.js';
import {
  AbortError,
  ConnectionError,
  ErrorCode,
  InvalidArgumentError,
  TimeoutError,
  TlsError,
} from '../src/errors.js';
import {
  connectSocket,
  type SocketRuntime,
  SocketTransport,
  type StreamSocket,
} from '../src/socket-transport.js';
import { testCertificates } from './support/certs.js';
import { bounded, waitFor } from './support/net.js';

const encoder = new TextEncoder();
const decoder = new TextDecoder();

/** A socket in memory: `send` is what the peer says, `written` what was written to it. */
function memorySocket(name: string, options: { closed?: Promise<void> } = {}) {
  const written: string[] = [];
  let peer!: ReadableStreamDefaultController<Uint8Array>;
  let closes = 0;
  const socket: StreamSocket & { name: string } = {
    name,
    readable: new ReadableStream<Uint8Array>({
      start(controller) {
        peer = controller;
      },
    }),
    writable: new WritableStream<Uint8Array>({ write: (chunk) => void written.push(decoder.decode(chunk)) }),
    ...(options.closed ? { closed: options.closed } : {}),
    close() {
      closes++;
      if (closes > 1) throw new Error('BadResource: closed already');
    },
  };
  return {
    socket,
    written,
    send: (text: string) => peer.enqueue(encoder.encode(text)),
    end: () => peer.close(),
    fail: (error: Error) => peer.error(error),
    closes: () => closes,
  };
}

/** A runtime whose sockets are in memory; `startTls` gives a second socket marked secure. */
function memoryRuntime(overrides: Partial<SocketRuntime> = {}) {
  const plain = memorySocket('plain');
  const secure = memorySocket('secure');
  const upgrades: string[] = [];
  const runtime: SocketRuntime = {
    open: async () => ({ socket: plain.socket, info: { secure: false, remoteAddress: '127.0.0.1' } }),
    startTls: async (socket, servername) => {
      upgrades.push(`${(socket as { name?: string }).name} ${servername}`);
      return { socket: secure.socket, info: { secure: true } };
    },
    ...overrides,
  };
  return { runtime, plain, secure, upgrades };
}

async function readText(stream: ReadableStream<Uint8Array>): Promise<string> {
  const { value } = await stream.getReader().read();
  return value ? decoder.decode(value) : '';
}

describe('connectSocket and SocketTransport', () => {
  it('reads and writes a plain socket, then upgrades it for the servername: the old streams end', async () => {
    const { runtime, plain, secure, upgrades } = memoryRuntime();
    const transport = await connectSocket(runtime, {
      host: '127.0.0.1',
      port: 143,
      tls: { servername: 'localhost' },
    });
    expect(transport.info).toEqual({ secure: false, remoteAddress: '127.0.0.1' });
    plain.send('* OK hello\r\n');
    const reader = transport.readable.getReader();
    expect(decoder.decode((await reader.read()).value)).toBe('* OK hello\r\n');
    const writer = transport.writable.getWriter();
    await writer.write(encoder.encode('A STARTTLS\r\n'));
    expect(plain.written).toEqual(['A STARTTLS\r\n']);
    const pending = reader.read();
    reader.releaseLock();
    writer.releaseLock();
    await expect(pending).rejects.toThrow();
    const upgraded = await transport.startTls();
    expect(upgrades).toEqual(['plain localhost']);
    expect(upgraded.info.secure).toBe(true);
    await transport.closed;
    secure.send('* OK secure\r\n');
    expect(await readText(upgraded.readable)).toBe('* OK secure\r\n');
    await expect(upgraded.startTls()).rejects.toBeInstanceOf(ConnectionError);
    await transport.close();
    expect(plain.closes()).toBe(0);
    await upgraded.close();
    expect(secure.closes()).toBe(1);
  });

  it('with secure, upgrades at once (checking the host when no servername is given)', async () => {
    const { runtime, upgrades } = memoryRuntime();
    const transport = await connectSocket(runtime, { host: 'imap.example', port: 993, secure: true });
    expect(upgrades).toEqual(['plain imap.example']);
    expect(transport.info.secure).toBe(true);
  });

  it('settles closed when the peer ends the stream or fails, and after close()', async () => {
    const first = memoryRuntime();
    const ended = await connectSocket(first.runtime, { host: 'h', port: 1 });
    first.plain.end();
    expect(await readText(ended.readable)).toBe('');
    await expect(ended.closed).resolves.toBeUndefined();
    await ended.close();
    expect(first.plain.closes()).toBe(0);

    const second = memoryRuntime();
    const failed = await connectSocket(second.runtime, { host: 'h', port: 1 });
    second.plain.fail(new Error('reset by peer'));
    await expect(readText(failed.readable)).rejects.toMatchObject({ code: ErrorCode.ConnectionClosed });
    await expect(failed.closed).rejects.toMatchObject({ code: ErrorCode.ConnectionClosed });
    await expect(failed.writable.getWriter().write(new Uint8Array(1))).rejects.toBeInstanceOf(
      ConnectionError,
    );

    const third = memoryRuntime();
    const closing = await connectSocket(third.runtime, { host: 'h', port: 1 });
    await closing.close();
    await closing.close();
    await expect(closing.closed).resolves.toBeUndefined();
    expect(third.plain.closes()).toBe(1);
    expect(await readText(closing.readable)).toBe('');
  });

  it("follows the runtime's own closed promise, and a failed write fails the transport", async () => {
    let reject!: (error: Error) => void;
    const closed = new Promise<void>((_resolve, fail) => {
      reject = fail;
    });
    const socket = memorySocket('plain', { closed });
    const transport = await connectSocket(
      { open: async () => ({ socket: socket.socket, info: { secure: false } }), startTls: vi.fn() },
      { host: 'h', port: 1 },
    );
    reject(new Error('gone'));
    await expect(transport.closed).rejects.toMatchObject({ code: ErrorCode.ConnectionClosed });

    const broken: StreamSocket = {
      readable: new ReadableStream(),
      writable: new WritableStream({
        write: () => {
          throw new Error('EPIPE');
        },
      }),
      close: () => {},
    };
    const failing = await connectSocket(
      { open: async () => ({ socket: broken, info: { secure: false } }), startTls: vi.fn() },
      { host: 'h', port: 1 },
    );
    await expect(failing.writable.getWriter().write(new Uint8Array(1))).rejects.toMatchObject({
      code: ErrorCode.ConnectionClosed,
    });
    await expect(failing.closed).rejects.toBeInstanceOf(ConnectionError);
  });

  it('closes the socket even when the peer never takes a pending write', async () => {
    let closes = 0;
    let writing = false;
    const stuck: StreamSocket = {
      readable: new ReadableStream(),
      writable: new WritableStream({
        write: () => {
          writing = true;
          return new Promise<void>(() => {});
        },
      }),
      close: () => {
        closes++;
      },
    };
    const transport = new SocketTransport(stuck, { info: { secure: false }, closeTimeout: 10 });
    void transport.writable
      .getWriter()
      .write(encoder.encode('a large reply'))
      .catch(() => {});
    await bounded(
      waitFor(() => writing, 'the write'),
      'the write',
    );
    await bounded(transport.close(), 'close()');
    expect(closes).toBe(1);
    await expect(transport.closed).resolves.toBeUndefined();
  });

  it('maps failures: connect, handshake, timeout, abort, a bad timeout', async () => {
    const refused = memoryRuntime({ open: () => Promise.reject(new Error('ECONNREFUSED')) });
    await expect(connectSocket(refused.runtime, { host: 'h', port: 1 })).rejects.toMatchObject({
      code: ErrorCode.ConnectFailed,
      message: 'cannot connect to h:1: ECONNREFUSED',
    });
    const badTls = memoryRuntime({ startTls: () => Promise.reject(new Error('invalid peer certificate')) });
    await expect(connectSocket(badTls.runtime, { host: 'h', port: 1, secure: true })).rejects.toBeInstanceOf(
      TlsError,
    );
    expect(badTls.plain.closes()).toBe(1);
    const typed = memoryRuntime({ startTls: () => Promise.reject(new TlsError(ErrorCode.Tls, 'typed')) });
    await expect(connectSocket(typed.runtime, { host: 'h', port: 1, secure: true })).rejects.toThrow('typed');

    const upgradeFails = memoryRuntime({ startTls: () => Promise.reject(new Error('handshake failed')) });
    const plain = await connectSocket(upgradeFails.runtime, { host: 'h', port: 1 });
    await expect(plain.startTls()).rejects.toBeInstanceOf(TlsError);
    await expect(plain.closed).rejects.toBeInstanceOf(TlsError);

    const late = memorySocket('late');
    let open!: () => void;
    const slow: SocketRuntime = {
      open: () =>
        new Promise((resolve) => {
          open = () => resolve({ socket: late.socket, info: { secure: false } });
        }),
      startTls: vi.fn(),
    };
    await expect(connectSocket(slow, { host: 'h', port: 1, timeout: 10 })).rejects.toBeInstanceOf(
      TimeoutError,
    );
    open();
    await vi.waitFor(() => expect(late.closes()).toBe(1));

    const controller = new AbortController();
    const aborted = connectSocket(
      { open: () => new Promise(() => {}), startTls: vi.fn() },
      { host: 'h', port: 1, signal: controller.signal },
    );
    controller.abort(new Error('stop'));
    await expect(aborted).rejects.toBeInstanceOf(AbortError);
    await expect(
      connectSocket(memoryRuntime().runtime, { host: 'h', port: 1, signal: AbortSignal.abort() }),
    ).rejects.toBeInstanceOf(AbortError);
    await expect(
      connectSocket(memoryRuntime().runtime, { host: 'h', port: 1, timeout: 0 }),
    ).rejects.toBeInstanceOf(InvalidArgumentError);
  });
});

describe('@postwire/core/deno', () => {
  afterEach(() => {
    delete (globalThis as { Deno?: unknown }).Deno;
  });

  /** A Deno namespace over memory sockets, recording what the adapter asked of it. */
  function fakeDeno() {
    const calls: unknown[] = [];
    const conn = (secure: boolean) => ({
      ...memorySocket(secure ? 'tls' : 'tcp').socket,
      remoteAddr: { hostname: '127.0.0.1', port: 143 },
      localAddr: { hostname: '127.0.0.1', port: 50000 },
      setNoDelay: (on: boolean) => calls.push(['setNoDelay', on]),
      handshake: async () => calls.push(['handshake']),
    });
    const deno = {
      connect: async (options: unknown) => {
        calls.push(['connect', options]);
        return conn(false);
      },
      startTls: async (_conn: unknown, options: unknown) => {
        calls.push(['startTls', options]);
        return conn(true);
      },
    };
    (globalThis as { Deno?: unknown }).Deno = deno;
    return calls;
  }

  it('connects with Deno.connect and upgrades with Deno.startTls, with the CA as PEM', async () => {
    const calls = fakeDeno();
    const { ca } = testCertificates();
    const der = Uint8Array.from(atob(ca.replace(/-----[^-]+-----|\s/g, '')), (c) => c.charCodeAt(0));
    const transport = await denoConnect({
      host: '127.0.0.1',
      port: 993,
      secure: true,
      tls: { ca: [der], servername: 'localhost' },
    });
    expect(transport.info).toEqual({
      secure: true,
      remoteAddress: '127.0.0.1',
      remotePort: 143,
      localAddress: '127.0.0.1',
      localPort: 50000,
    });
    expect(calls[0]).toEqual(['connect', { hostname: '127.0.0.1', port: 993, transport: 'tcp' }]);
    expect(calls[1]).toEqual(['setNoDelay', true]);
    const [, options] = calls[2] as [string, { hostname: string; caCerts: string[] }];
    expect(options.hostname).toBe('localhost');
    expect(options.caCerts[0]!.replace(/\s/g, '')).toBe(ca.replace(/\s/g, ''));
    expect(calls[3]).toEqual(['handshake']);
  });

  it('refuses what Deno cannot do per connection, and runs on Deno only', async () => {
    fakeDeno();
    await expect(
      denoConnect({ host: 'h', port: 1, tls: { rejectUnauthorized: false } }),
    ).rejects.toBeInstanceOf(InvalidArgumentError);
    await expect(denoConnect({ host: 'h', port: 1, tls: { cert: 'x', key: 'y' } })).rejects.toBeInstanceOf(
      InvalidArgumentError,
    );
    delete (globalThis as { Deno?: unknown }).Deno;
    await expect(denoConnect({ host: 'h', port: 1 })).rejects.toThrow('runs on Deno only');
  });
});

describe('@postwire/core/connect where no runtime condition matched', () => {
  it('refuses to connect: a browser has no TCP sockets', async () => {
    const { connect } = await import('../src/no-sockets/index.js');
    await expect(connect({ host: 'h', port: 1 })).rejects.toThrow('this runtime has no TCP sockets');
  });
});
