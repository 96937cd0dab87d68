import { once } from 'node:events';
import type * as net from 'node:net';
import { Duplex } from 'node:stream';
import * as tls from 'node:tls';
import { afterEach, describe, expect, it } from 'vitest';
import { ConnectionError, TimeoutError, TlsError, type Transport } from '../src/index.js';
import { connect, type ServerConnection } from '../src/node/index.js';
import { testCertificates } from './support/certs.js';
import { startListener, writeText } from './support/listener.js';
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
const serverTls = { cert: certs.cert, key: certs.key };
const cleanup = new Cleanup();
afterEach(() => cleanup.run());

/** A raw server whose sockets go to `onSocket`, closed after the test. */
async function rawServer(onSocket: (socket: net.Socket) => void): Promise<number> {
  const { server, port } = await listenRaw(onSocket);
  cleanup.add(server, (s) => new Promise((resolve) => s.close(resolve)));
  return port;
}

/** Makes a raw accepted socket the server end of a TLS session. */
function serverTlsOver(socket: net.Socket): tls.TLSSocket {
  const secure = new tls.TLSSocket(socket, {
    isServer: true,
    secureContext: tls.createSecureContext(serverTls),
  });
  secure.on('error', () => {});
  return secure;
}

/** Runs `session` for the first connection a listener with STARTTLS accepts. */
async function startTlsListener(
  session: (connection: ServerConnection) => Promise<void>,
  options: { handshakeTimeout?: number } = {},
): Promise<{ port: number; done: Promise<void> }> {
  let finish!: (outcome: Promise<void>) => void;
  const done = new Promise<void>((resolve) => {
    finish = (outcome) => resolve(outcome);
  });
  const { port } = await startListener(cleanup, {
    startTls: serverTls,
    ...options,
    onConnection: (connection) => {
      finish(session(connection));
      return {};
    },
  });
  return { port, done };
}

describe('STARTTLS, client side (case 7)', () => {
  it('never reads the plaintext the server sent along with its go-ahead', async () => {
    const port = await rawServer(async (raw) => {
      await new SocketText(raw).until('STARTTLS\r\n');
      raw.write('220 Ready\r\n250 AUTH LOGIN\r\n');
      const secure = serverTlsOver(raw);
      secure.once('secure', () => secure.write('250 AUTH PLAIN\r\n'));
    });
    const transport = cleanup.add(await connect({ host: 'localhost', port, tls: { ca: certs.ca } }), (t) =>
      t.close(),
    );
    await writeText(transport, 'STARTTLS\r\n');
    const plain = new StreamText(transport.readable);
    expect(await plain.chunk()).toBe('220 Ready\r\n250 AUTH LOGIN\r\n');
    plain.reader.releaseLock();

    const secure = cleanup.add(await transport.startTls(), (t) => t.close());
    expect(secure.info).toMatchObject({ secure: true, authorized: true });
    expect(await transport.readable.getReader().read()).toEqual({ done: true, value: undefined });
    await expect(transport.writable.getWriter().write(new Uint8Array(1))).rejects.toBeInstanceOf(TlsError);
    expect(await new StreamText(secure.readable).until('\r\n')).toBe('250 AUTH PLAIN\r\n');
  });

  it('feeds plaintext that was not yet read to the handshake, which fails, never to the reader', async () => {
    const port = await rawServer(async (raw) => {
      await new SocketText(raw).until('STARTTLS\r\n');
      raw.write('220 Ready\r\n');
      await delay(30);
      raw.write('250 AUTH LOGIN\r\n');
      serverTlsOver(raw);
    });
    const transport = await connect({ host: 'localhost', port, tls: { ca: certs.ca } });
    await writeText(transport, 'STARTTLS\r\n');
    const plain = new StreamText(transport.readable);
    expect(await plain.until('\r\n')).toBe('220 Ready\r\n');
    plain.reader.releaseLock();
    await delay(100);
    await expect(transport.startTls()).rejects.toBeInstanceOf(TlsError);
    await expect(transport.closed).rejects.toBeInstanceOf(TlsError);
    await transport.close();
  });

  it('fails with a TlsError when the server certificate does not verify', async () => {
    const port = await rawServer(async (raw) => {
      await new SocketText(raw).until('STARTTLS\r\n');
      raw.write('220 Ready\r\n');
      serverTlsOver(raw);
    });
    const transport = await connect({ host: 'localhost', port });
    await writeText(transport, 'STARTTLS\r\n');
    const plain = new StreamText(transport.readable);
    await plain.until('\r\n');
    plain.reader.releaseLock();
    await expect(transport.startTls()).rejects.toBeInstanceOf(TlsError);
    await transport.close();
  });
});

describe('STARTTLS, server side (case 6)', () => {
  it('never reads plaintext pipelined after STARTTLS in the same segment', async () => {
    const seen: string[] = [];
    const { port, done } = await startTlsListener(async ({ transport }) => {
      const plain = new StreamText(transport.readable);
      seen.push(await plain.until('STARTTLS\r\n'));
      expect(plain.buffered).toBe('RSET\r\n');
      plain.reader.releaseLock();
      await writeText(transport, '220 Go ahead\r\n');
      const secure = await transport.startTls();
      expect(secure.info.secure).toBe(true);
      seen.push(await new StreamText(secure.readable).until('\r\n'));
    });
    const raw = cleanup.add(await rawConnect(port), (s) => s.destroy());
    const received = new SocketText(raw);
    raw.write('STARTTLS\r\nRSET\r\n');
    await received.until('220 Go ahead\r\n');
    const client = tls.connect({ socket: raw, ca: certs.ca, servername: 'localhost' });
    cleanup.add(client, (s) => s.destroy());
    await once(client, 'secureConnect');
    client.write('NOOP\r\n');
    await bounded(done, 'the session');
    expect(seen).toEqual(['STARTTLS\r\n', 'NOOP\r\n']);
  });

  it('feeds plaintext that was not yet read to the handshake, which fails', async () => {
    let sawStartTls!: () => void;
    const startTlsRead = new Promise<void>((resolve) => {
      sawStartTls = resolve;
    });
    let upgrade: Promise<Transport> | undefined;
    const { port, done } = await startTlsListener(async ({ transport }) => {
      const plain = new StreamText(transport.readable);
      await plain.until('STARTTLS\r\n');
      plain.reader.releaseLock();
      sawStartTls();
      await delay(100);
      await writeText(transport, '220 Go ahead\r\n');
      upgrade = transport.startTls();
      await expect(upgrade).rejects.toBeInstanceOf(TlsError);
      await expect(transport.closed).rejects.toBeInstanceOf(TlsError);
    });
    const raw = cleanup.add(await rawConnect(port), (s) => s.destroy());
    const received = new SocketText(raw);
    raw.write('STARTTLS\r\n');
    await bounded(startTlsRead, 'STARTTLS to be read');
    raw.write('RSET\r\n');
    await received.until('220 Go ahead\r\n');
    const client = tls.connect({ socket: raw, ca: certs.ca, servername: 'localhost' });
    client.on('error', () => {});
    cleanup.add(client, (s) => s.destroy());
    await bounded(done, 'the session');
  });

  it('ends the session on a TLS close_notify, and never reads the plaintext after it (case 5)', async () => {
    let secureText: string | undefined;
    let secureTransport: Transport | undefined;
    const { port, done } = await startTlsListener(async ({ transport }) => {
      const plain = new StreamText(transport.readable);
      await plain.until('STARTTLS\r\n');
      plain.reader.releaseLock();
      await writeText(transport, '220 Go ahead\r\n');
      secureTransport = await transport.startTls();
      const reader = new StreamText(secureTransport.readable);
      secureText = await reader.rest().catch(() => reader.buffered);
    });

    const raw = cleanup.add(await rawConnect(port, { allowHalfOpen: true }), (s) => s.destroy());
    let plaintext = '';
    let tunnel: Duplex | undefined;
    raw.on('data', (chunk: Buffer) => {
      if (tunnel) tunnel.push(chunk);
      else plaintext += chunk.toString('latin1');
    });
    raw.write('STARTTLS\r\n');
    await waitFor(() => plaintext.includes('220'), 'the go-ahead');
    tunnel = new Duplex({
      read() {},
      write(chunk, _encoding, callback) {
        raw.write(chunk, callback);
      },
      final(callback) {
        callback();
      },
    });
    const client = tls.connect({ socket: tunnel, ca: certs.ca, servername: 'localhost' });
    client.on('error', () => {});
    await once(client, 'secureConnect');
    client.write('MAIL FROM:<a@example.org>\r\n');
    await delay(20);
    client.end();
    await delay(20);
    raw.write('RSET\r\n');
    await bounded(done, 'the session').catch(() => {});
    expect(secureText).toBe('MAIL FROM:<a@example.org>\r\n');
    await bounded(
      secureTransport!.closed.catch(() => {}),
      'the connection to close',
    );
  });

  it('closes a STARTTLS handshake that stalls (case 54)', async () => {
    const { port, done } = await startTlsListener(
      async ({ transport }) => {
        const plain = new StreamText(transport.readable);
        await plain.until('STARTTLS\r\n');
        plain.reader.releaseLock();
        await writeText(transport, '220 Go ahead\r\n');
        await expect(transport.startTls()).rejects.toBeInstanceOf(TimeoutError);
      },
      { handshakeTimeout: 150 },
    );
    const raw = cleanup.add(await rawConnect(port), (s) => s.destroy());
    const received = new SocketText(raw);
    raw.write('STARTTLS\r\n');
    await received.until('220');
    await bounded(done, 'the session');
    await bounded(received.closed, 'the connection to close');
  });

  it('upgrades a Node client and a listener together, with matching channel bindings', async () => {
    let serverBinding: Uint8Array | undefined;
    const { port, done } = await startTlsListener(async ({ transport }) => {
      const plain = new StreamText(transport.readable);
      await plain.until('STARTTLS\r\n');
      plain.reader.releaseLock();
      expect(transport.channelBinding?.('tls-exporter')).toBeUndefined();
      await writeText(transport, '220 Go ahead\r\n');
      const secure = await transport.startTls();
      serverBinding = secure.channelBinding?.('tls-exporter');
      expect(transport.channelBinding?.('tls-exporter')).toEqual(serverBinding);
      await writeText(secure, '250 secure\r\n');
    });
    const client = cleanup.add(await connect({ host: 'localhost', port, tls: { ca: certs.ca } }), (t) =>
      t.close(),
    );
    await writeText(client, 'STARTTLS\r\n');
    const plain = new StreamText(client.readable);
    await plain.until('\r\n');
    plain.reader.releaseLock();
    const secure = await client.startTls();
    expect(await new StreamText(secure.readable).until('\r\n')).toBe('250 secure\r\n');
    await bounded(done, 'the session');
    expect(serverBinding?.length).toBe(32);
    expect(secure.channelBinding?.('tls-exporter')).toEqual(serverBinding);
  });

  it('refuses STARTTLS when the listener has no TLS settings for it', async () => {
    let outcome: unknown;
    const { port } = await startListener(cleanup, {
      onConnection: ({ transport }) => {
        outcome = transport.startTls().catch((error: unknown) => error);
        return {};
      },
    });
    const raw = cleanup.add(await rawConnect(port), (s) => s.destroy());
    await waitFor(() => outcome, 'the connection');
    expect(await outcome).toBeInstanceOf(TlsError);
    raw.destroy();
  });

  it('rejects startTls() once the connection is closed', async () => {
    const { port, done } = await startTlsListener(async ({ transport }) => {
      await transport.close();
      await expect(transport.startTls()).rejects.toBeInstanceOf(ConnectionError);
    });
    cleanup.add(await rawConnect(port), (s) => s.destroy());
    await bounded(done, 'the session');
  });
});
