import type * as net from 'node:net';
import * as tls from 'node:tls';
import { afterEach, describe, expect, it } from 'vitest';
import { ConnectionError, decodeLatin1, TlsError, utf8 } from '../../src/index.js';
import { connect, NodeTransport } from '../../src/node/index.js';
import { testCertificates } from '../support/certs.js';
import { bounded, Cleanup, delay, listenRaw, rawConnect, SocketText, waitFor } from '../support/net.js';

const certs = testCertificates();
const cleanup = new Cleanup();
afterEach(() => cleanup.run());

/** A raw server, closed after the test; `onSocket` sees each accepted socket. */
async function rawServer(onSocket: (socket: net.Socket) => void = () => {}): Promise<number> {
  const { server, port } = await listenRaw(onSocket);
  cleanup.add(server, (s) => new Promise((resolve) => s.close(resolve)));
  return port;
}

/** A server transport over the next accepted socket, and the raw client connected to it. */
async function serverTransport(
  options: ConstructorParameters<typeof NodeTransport>[1] = {},
): Promise<{ transport: NodeTransport; client: net.Socket; socket: net.Socket }> {
  let accepted: net.Socket | undefined;
  const port = await rawServer((socket) => {
    accepted = socket;
  });
  const client = cleanup.add(await rawConnect(port), (s) => s.destroy());
  // The client reads (and drops) whatever comes, so that it sees the server close.
  client.resume();
  await waitFor(() => accepted, 'the accept');
  const socket = accepted!;
  const transport = cleanup.add(new NodeTransport(socket, { role: 'server', ...options }), (t) => t.close());
  return { transport, client, socket };
}

/** Reads with `read()` until `text` has arrived; returns everything read. */
async function readUntil(transport: NodeTransport, text: string): Promise<string> {
  let received = '';
  while (!received.includes(text)) {
    const chunk = await bounded(transport.read(), JSON.stringify(text));
    if (chunk === undefined) throw new Error(`the peer closed before ${JSON.stringify(text)}`);
    received += decodeLatin1(chunk);
  }
  return received;
}

/** Whether `promise` has settled once the callbacks due now have run. */
async function settledNow(promise: Promise<unknown>): Promise<boolean> {
  let settled = false;
  promise.then(
    () => {
      settled = true;
    },
    () => {
      settled = true;
    },
  );
  await new Promise((resolve) => setImmediate(resolve));
  return settled;
}

describe('NodeTransport read() and write()', () => {
  it('round-trips bytes without the web streams, handing on the socket’s Buffers', async () => {
    const { transport, client } = await serverTransport();
    const received = new SocketText(client);
    await transport.write(utf8('220 ready\r\n'));
    await received.until('220 ready\r\n');
    client.write('EHLO x\r\n');
    const chunk = await bounded(transport.read(), 'the chunk');
    expect(Buffer.isBuffer(chunk)).toBe(true);
    const text = decodeLatin1(chunk!);
    expect(text.endsWith('\r\n') ? text : text + (await readUntil(transport, '\r\n'))).toBe('EHLO x\r\n');
  });

  it('resolves a write at once when the socket hands it straight to the operating system', async () => {
    const { transport } = await serverTransport();
    let settled = false;
    void transport.write(utf8('250 ok\r\n')).then(() => {
      settled = true;
    });
    await Promise.resolve();
    expect(settled).toBe(true);
  });

  it('holds a write until a peer that does not read makes room', async () => {
    const { transport, client } = await serverTransport();
    client.pause();
    const written = transport.write(new Uint8Array(32 * 1024 * 1024));
    expect(await settledNow(written)).toBe(false);
    client.resume();
    await expect(bounded(written, 'the write')).resolves.toBeUndefined();
  });

  it('holds a chunk that arrives while nobody reads, pausing the socket until the next read', async () => {
    const { transport, client, socket } = await serverTransport();
    client.write('one\r\n');
    expect(await readUntil(transport, 'one\r\n')).toBe('one\r\n');
    expect(socket.isPaused()).toBe(false);
    client.write('two\r\n');
    await waitFor(() => socket.isPaused(), 'the socket to pause');
    expect(await readUntil(transport, 'two\r\n')).toBe('two\r\n');
    client.write('three\r\n');
    expect(await readUntil(transport, 'three\r\n')).toBe('three\r\n');
  });

  it('returns undefined once the peer has closed, and on every read after', async () => {
    const { transport, client } = await serverTransport();
    client.end('bye\r\n');
    expect(await readUntil(transport, 'bye\r\n')).toBe('bye\r\n');
    expect(await bounded(transport.read(), 'the end')).toBeUndefined();
    expect(await transport.read()).toBeUndefined();
    await bounded(transport.closed, 'closed');
    await expect(transport.write(utf8('late'))).rejects.toBeInstanceOf(ConnectionError);
  });

  it('rejects a read with the error that closed the connection', async () => {
    const { transport, client } = await serverTransport();
    const read = transport.read();
    client.resetAndDestroy();
    const error = await bounded(read, 'the reset').then(
      () => expect.unreachable('expected a rejection'),
      (reason: unknown) => reason,
    );
    expect(error).toBeInstanceOf(ConnectionError);
    await expect(transport.closed).rejects.toBe(error);
    await expect(transport.read()).rejects.toBe(error);
  });

  it('allows one read at a time', async () => {
    const { transport, client } = await serverTransport();
    const first = transport.read();
    await expect(transport.read()).rejects.toBeInstanceOf(TypeError);
    client.write('x');
    expect(decodeLatin1((await bounded(first, 'the chunk'))!)).toBe('x');
  });

  it('ends a read in progress on close()', async () => {
    const { transport } = await serverTransport();
    const read = transport.read();
    await transport.close();
    expect(await read).toBeUndefined();
  });

  it('creates each web stream once, on first use, over the same bytes', async () => {
    const { transport, client } = await serverTransport();
    expect(transport.readable).toBe(transport.readable);
    expect(transport.writable).toBe(transport.writable);
    client.write('first\r\n');
    expect(await readUntil(transport, 'first\r\n')).toBe('first\r\n');
    client.write('second\r\n');
    const { value } = await bounded(transport.readable.getReader().read(), 'the stream');
    expect(decodeLatin1(value!)).toBe('second\r\n');
  });

  it('ends reads and refuses writes after STARTTLS, and hands unread plaintext to the handshake', async () => {
    const port = await rawServer(async (raw) => {
      await new SocketText(raw).until('STARTTLS\r\n');
      raw.write('220 Ready\r\n');
      await delay(30);
      raw.write('250 plaintext\r\n');
      const secure = new tls.TLSSocket(raw, {
        isServer: true,
        secureContext: tls.createSecureContext({ cert: certs.cert, key: certs.key }),
      });
      secure.on('error', () => {});
    });
    const transport = await connect({ host: 'localhost', port, tls: { ca: certs.ca } });
    await transport.write(utf8('STARTTLS\r\n'));
    expect(await readUntil(transport, '220 Ready\r\n')).toBe('220 Ready\r\n');
    await delay(100);
    const upgrade = transport.startTls();
    expect(await transport.read()).toBeUndefined();
    await expect(transport.write(utf8('NOOP\r\n'))).rejects.toBeInstanceOf(TlsError);
    await expect(upgrade).rejects.toBeInstanceOf(TlsError);
    await transport.close();
  });
});
