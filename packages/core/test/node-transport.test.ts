import { createHash, X509Certificate } from 'node:crypto';
import type * as net from 'node:net';
import * as tls from 'node:tls';
import { afterEach, describe, expect, it } from 'vitest';
import {
  AbortError,
  ConnectionError,
  ErrorCode,
  InvalidArgumentError,
  TimeoutError,
  TlsError,
  type Transport,
  utf8,
} from '../src/index.js';
import { connect, NodeTransport } from '../src/node/index.js';
import { testCertificates } from './support/certs.js';
import {
  bounded,
  Cleanup,
  delay,
  listenRaw,
  rawConnect,
  SocketText,
  StreamText,
  waitFor,
} from './support/net.js';

const certs = testCertificates();
const cleanup = new Cleanup();
afterEach(() => cleanup.run());

/** A raw server, closed after the test; `onSocket` sees each accepted socket. */
async function rawServer(onSocket: (socket: net.Socket) => void = () => {}): Promise<number> {
  const { server, port } = await listenRaw(onSocket);
  cleanup.add(server, (s) => new Promise((resolve) => s.close(resolve)));
  return port;
}

/** A raw server that echoes every byte. */
function echoServer(): Promise<number> {
  return rawServer((socket) => socket.pipe(socket));
}

/** A TLS echo server (TLS 1.3 unless `maxVersion` says otherwise) whose sockets are offered to `onSecure`. */
async function tlsEchoServer(
  options: tls.TlsOptions = {},
  onSecure: (socket: tls.TLSSocket) => void = (socket) => socket.pipe(socket),
): Promise<number> {
  const server = tls.createServer({ cert: certs.cert, key: certs.key, ...options }, onSecure);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  cleanup.add(server, (s) => new Promise((resolve) => s.close(resolve)));
  return (server.address() as net.AddressInfo).port;
}

function track<T extends Transport>(transport: T): T {
  return cleanup.add(transport, (t) => t.close());
}

async function write(transport: Transport, text: string): Promise<void> {
  const writer = transport.writable.getWriter();
  await writer.write(utf8(text));
  writer.releaseLock();
}

async function rejection(promise: Promise<unknown>): Promise<unknown> {
  return promise.then(
    () => expect.unreachable('expected a rejection'),
    (error: unknown) => error,
  );
}

describe('connect', () => {
  it('round-trips bytes over plain TCP and reports the addresses', async () => {
    const port = await echoServer();
    const transport = track(await connect({ host: '127.0.0.1', port }));
    expect(transport.info).toMatchObject({ remoteAddress: '127.0.0.1', remotePort: port, secure: false });
    expect(transport.channelBinding?.('tls-exporter')).toBeUndefined();
    await write(transport, 'hello\r\n');
    const reader = new StreamText(transport.readable);
    expect(await reader.until('\r\n')).toBe('hello\r\n');
    reader.reader.releaseLock();
    await transport.close();
    await expect(transport.closed).resolves.toBeUndefined();
  });

  it('delivers received chunks as the socket gave them: Buffers, which are Uint8Arrays', async () => {
    const port = await echoServer();
    const transport = track(await connect({ host: '127.0.0.1', port }));
    await write(transport, 'x');
    const { value } = await transport.readable.getReader().read();
    expect(value).toBeInstanceOf(Uint8Array);
    expect(Buffer.isBuffer(value)).toBe(true);
  });

  it('round-trips bytes over implicit TLS, verifying against the given CA', async () => {
    const port = await tlsEchoServer();
    const transport = track(await connect({ host: 'localhost', port, secure: true, tls: { ca: certs.ca } }));
    expect(transport.info).toMatchObject({ secure: true, tlsProtocol: 'TLSv1.3', authorized: true });
    expect(transport.info.tlsCipher).toMatch(/^TLS_/);
    await write(transport, 'secret\r\n');
    expect(await new StreamText(transport.readable).until('\r\n')).toBe('secret\r\n');
  });

  it('checks the certificate of an IP address against its IP SAN', async () => {
    const port = await tlsEchoServer();
    const transport = track(await connect({ host: '127.0.0.1', port, secure: true, tls: { ca: certs.ca } }));
    expect(transport.info.authorized).toBe(true);
  });

  it('accepts a DER CA certificate', async () => {
    const port = await tlsEchoServer();
    const der = new Uint8Array(new X509Certificate(certs.ca).raw);
    const transport = track(await connect({ host: 'localhost', port, secure: true, tls: { ca: [der] } }));
    expect(transport.info.secure).toBe(true);
  });

  it('rejects a certificate the default store does not trust', async () => {
    const port = await tlsEchoServer();
    const error = await rejection(connect({ host: 'localhost', port, secure: true }));
    expect(error).toBeInstanceOf(TlsError);
    expect((error as TlsError).code).toBe(ErrorCode.Tls);
  });

  it('rejects a certificate for another name', async () => {
    const port = await tlsEchoServer();
    const error = await rejection(
      connect({ host: '127.0.0.1', port, secure: true, tls: { ca: certs.ca, servername: 'mail.example' } }),
    );
    expect(error).toBeInstanceOf(TlsError);
  });

  it('skips the checks only when told to', async () => {
    const port = await tlsEchoServer();
    const transport = track(
      await connect({ host: 'localhost', port, secure: true, tls: { rejectUnauthorized: false } }),
    );
    expect(transport.info).toMatchObject({ secure: true, authorized: false });
  });

  it('refuses TLS below the minimum version', async () => {
    const port = await tlsEchoServer({ maxVersion: 'TLSv1.2' });
    const error = await rejection(
      connect({ host: 'localhost', port, secure: true, tls: { ca: certs.ca, minVersion: 'TLSv1.3' } }),
    );
    expect(error).toBeInstanceOf(TlsError);
  });

  it('reports a refused connection as CONNECT_FAILED', async () => {
    const { server, port } = await listenRaw(() => {});
    await new Promise((resolve) => server.close(resolve));
    const error = await rejection(connect({ host: '127.0.0.1', port }));
    expect(error).toBeInstanceOf(ConnectionError);
    expect((error as ConnectionError).code).toBe(ErrorCode.ConnectFailed);
  });

  it('times out when the TLS handshake never completes', async () => {
    const port = await rawServer();
    const started = Date.now();
    const error = await rejection(connect({ host: '127.0.0.1', port, secure: true, timeout: 150 }));
    expect(error).toBeInstanceOf(TimeoutError);
    expect(Date.now() - started).toBeLessThan(5_000);
  });

  it('stops when its signal aborts, before or during the attempt', async () => {
    const port = await rawServer();
    const controller = new AbortController();
    const attempt = connect({ host: '127.0.0.1', port, secure: true, signal: controller.signal });
    setTimeout(() => controller.abort(new Error('user gave up')), 50);
    const error = await rejection(attempt);
    expect(error).toBeInstanceOf(AbortError);
    expect((error as AbortError).cause).toEqual(new Error('user gave up'));
    await expect(connect({ host: '127.0.0.1', port, signal: controller.signal })).rejects.toBeInstanceOf(
      AbortError,
    );
  });

  it('rejects a timeout that is not positive', async () => {
    await expect(connect({ host: '127.0.0.1', port: 1, timeout: 0 })).rejects.toBeInstanceOf(
      InvalidArgumentError,
    );
  });
});

describe('NodeTransport', () => {
  it('keeps the sender waiting instead of buffering when nobody reads', async () => {
    let serverSocket: net.Socket | undefined;
    const port = await rawServer((socket) => {
      serverSocket = socket;
    });
    const client = cleanup.add(await rawConnect(port), (s) => s.destroy());
    await waitFor(() => serverSocket, 'the accept');
    const socket = serverSocket!;
    const transport = track(new NodeTransport(socket, { role: 'server' }));
    const total = 16 * 1024 * 1024;
    let drained = false;
    if (!client.write(Buffer.alloc(total, 0x61))) client.once('drain', () => (drained = true));
    await delay(200);
    expect(socket.isPaused()).toBe(true);
    expect(socket.bytesRead).toBeLessThan(512 * 1024);
    expect(client.writableLength).toBeGreaterThan(0);
    expect(drained).toBe(false);

    const reader = transport.readable.getReader();
    let received = 0;
    while (received < total) {
      const { value } = await bounded(reader.read(), 'the data');
      received += value?.length ?? 0;
    }
    expect(received).toBe(total);
  });

  it('holds a write until a peer that does not read makes room', async () => {
    const port = await rawServer((socket) => socket.pause());
    const transport = track(await connect({ host: '127.0.0.1', port }));
    const writer = transport.writable.getWriter();
    const chunk = new Uint8Array(1024 * 1024);
    let stalled = false;
    for (let i = 0; i < 64 && !stalled; i++) {
      stalled =
        (await Promise.race([writer.write(chunk).then(() => false), delay(100).then(() => true)])) === true;
    }
    expect(stalled).toBe(true);
    transport.destroy();
    await bounded(transport.closed, 'closed');
  });

  it('ends the readable when the peer closes, and resolves closed', async () => {
    const port = await rawServer((socket) => socket.end('bye\r\n'));
    const transport = track(await connect({ host: '127.0.0.1', port }));
    expect(await new StreamText(transport.readable).rest()).toBe('bye\r\n');
    await expect(bounded(transport.closed, 'closed')).resolves.toBeUndefined();
    const writer = transport.writable.getWriter();
    await expect(writer.write(utf8('late'))).rejects.toBeInstanceOf(ConnectionError);
  });

  it('errors the streams and rejects closed when the peer resets', async () => {
    const port = await rawServer((socket) => setTimeout(() => socket.resetAndDestroy(), 20));
    const transport = await connect({ host: '127.0.0.1', port });
    const reader = transport.readable.getReader();
    const error = await rejection(bounded(reader.read(), 'the reset'));
    expect(error).toBeInstanceOf(ConnectionError);
    expect((error as ConnectionError).code).toBe(ErrorCode.ConnectionClosed);
    await expect(transport.closed).rejects.toBe(error);
    await transport.close();
  });

  it('lets the writer end the connection gracefully', async () => {
    let received: SocketText | undefined;
    const port = await rawServer((socket) => {
      received = new SocketText(socket);
    });
    const transport = track(await connect({ host: '127.0.0.1', port }));
    const writer = transport.writable.getWriter();
    await writer.write(utf8('QUIT\r\n'));
    await writer.close();
    await bounded(received!.closed, 'the server side to close');
    expect(received!.text).toBe('QUIT\r\n');
    expect(await new StreamText(transport.readable).rest()).toBe('');
    await bounded(transport.closed, 'closed');
  });

  it('drops the connection when the peer does not close within the close timeout', async () => {
    let serverSocket: net.Socket | undefined;
    const port = await rawServer((socket) => {
      serverSocket = socket;
    });
    const client = cleanup.add(await rawConnect(port, { allowHalfOpen: true }), (s) => s.destroy());
    client.resume();
    await waitFor(() => serverSocket, 'the accept');
    const transport = new NodeTransport(serverSocket!, { role: 'server', closeTimeout: 100 });
    const started = Date.now();
    await bounded(transport.close(), 'close()');
    expect(Date.now() - started).toBeGreaterThanOrEqual(90);
    await transport.close();
    await expect(transport.startTls()).rejects.toBeInstanceOf(TlsError);
  });

  it('takes Infinity as the close timeout: waits for the peer however long it takes', async () => {
    let serverSocket: net.Socket | undefined;
    const port = await rawServer((socket) => {
      serverSocket = socket;
    });
    const client = cleanup.add(await rawConnect(port, { allowHalfOpen: true }), (s) => s.destroy());
    const peer = new SocketText(client);
    await waitFor(() => serverSocket, 'the accept');
    const transport = new NodeTransport(serverSocket!, {
      role: 'server',
      closeTimeout: Number.POSITIVE_INFINITY,
    });
    const closing = transport.close();
    await bounded(peer.ended, 'the FIN');
    await delay(50);
    expect(serverSocket!.destroyed).toBe(false);
    client.end();
    await bounded(closing, 'close()');
  });

  it('takes Infinity as the connect timeout, for the handshake of implicit TLS too', async () => {
    const port = await rawServer((socket) => {
      setTimeout(() => {
        const secure = new tls.TLSSocket(socket, {
          isServer: true,
          secureContext: tls.createSecureContext({ cert: certs.cert, key: certs.key }),
        });
        secure.on('error', () => {});
      }, 50);
    });
    const transport = track(
      await connect({
        host: 'localhost',
        port,
        secure: true,
        timeout: Number.POSITIVE_INFINITY,
        tls: { ca: certs.ca },
      }),
    );
    expect(transport.info.secure).toBe(true);
  });

  it('cannot start TLS without an upgrade, nor twice', async () => {
    const port = await tlsEchoServer();
    const secure = track(await connect({ host: 'localhost', port, secure: true, tls: { ca: certs.ca } }));
    await expect(secure.startTls()).rejects.toBeInstanceOf(TlsError);
    const plainPort = await echoServer();
    const plain = track(await connect({ host: '127.0.0.1', port: plainPort }));
    await plain.close();
    await expect(plain.startTls()).rejects.toBeInstanceOf(ConnectionError);
  });

  it('stops reading but keeps the connection when the readable is cancelled', async () => {
    const port = await echoServer();
    const transport = track(await connect({ host: '127.0.0.1', port }));
    await transport.readable.cancel();
    await write(transport, 'still open');
    await transport.close();
  });

  describe('channel bindings', () => {
    it('exports the same tls-exporter value on both sides of TLS 1.3', async () => {
      let server: NodeTransport | undefined;
      const port = await tlsEchoServer({}, (socket) => {
        server = track(new NodeTransport(socket, { role: 'server' }));
      });
      const client = track(await connect({ host: 'localhost', port, secure: true, tls: { ca: certs.ca } }));
      await waitFor(() => server, 'the server transport');
      const exporter = client.channelBinding('tls-exporter');
      expect(exporter).toBeInstanceOf(Uint8Array);
      expect(exporter?.length).toBe(32);
      expect(server!.channelBinding('tls-exporter')).toEqual(exporter);
      expect(client.channelBinding('tls-unique')).toBeUndefined();

      const certificateHash = new Uint8Array(
        createHash('sha256').update(new X509Certificate(certs.cert).raw).digest(),
      );
      expect(client.channelBinding('tls-server-end-point')).toEqual(certificateHash);
      expect(server!.channelBinding('tls-server-end-point')).toEqual(certificateHash);
    });

    it('exports tls-unique on TLS 1.2, and no tls-exporter', async () => {
      let server: NodeTransport | undefined;
      const port = await tlsEchoServer({ maxVersion: 'TLSv1.2' }, (socket) => {
        server = track(new NodeTransport(socket, { role: 'server' }));
      });
      const client = track(await connect({ host: 'localhost', port, secure: true, tls: { ca: certs.ca } }));
      await waitFor(() => server, 'the server transport');
      expect(client.info.tlsProtocol).toBe('TLSv1.2');
      const unique = client.channelBinding('tls-unique');
      expect(unique?.length).toBeGreaterThan(0);
      expect(server!.channelBinding('tls-unique')).toEqual(unique);
      expect(client.channelBinding('tls-exporter')).toBeUndefined();
    });
  });
});
