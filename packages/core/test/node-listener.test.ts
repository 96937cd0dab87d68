import { X509Certificate } from 'node:crypto';
import { once } from 'node:events';
import * as tls from 'node:tls';
import { afterEach, describe, expect, it, vi } from 'vitest';
import {
  ErrorCode,
  InvalidArgumentError,
  PostwireError,
  type ProxyHeader,
  serializeProxyHeader,
  TimeoutError,
} from '../src/index.js';
import {
  connect,
  createListener,
  type GoodbyeReason,
  LiveSessions,
  type RefusedConnection,
  type ServerConnection,
} from '../src/node/index.js';
import { testCertificates } from './support/certs.js';
import { startListener, writeText } from './support/listener.js';
import { bounded, Cleanup, delay, rawConnect, SocketText, StreamText, waitFor } from './support/net.js';

const certs = testCertificates();
const serverTls = { cert: certs.cert, key: certs.key };
const cleanup = new Cleanup();
afterEach(() => cleanup.run());

/** Connects a raw client and collects what it receives. */
async function client(port: number, options: { allowHalfOpen?: boolean } = {}): Promise<SocketText> {
  const socket = cleanup.add(await rawConnect(port, options), (s) => s.destroy());
  return new SocketText(socket);
}

/** A handler that greets, echoes lines back, and says goodbye with the reason. */
function echoSession(goodbyes: GoodbyeReason[] = []) {
  return (connection: ServerConnection) => {
    const writer = connection.transport.writable.getWriter();
    void (async () => {
      await writer.write(new TextEncoder().encode(`220 hello ${connection.remoteAddress}\r\n`));
      const reader = connection.transport.readable.getReader();
      for (;;) {
        const { value, done } = await reader.read().catch(() => ({ value: undefined, done: true }));
        if (done) break;
        await writer.write(value).catch(() => {});
      }
    })();
    return {
      async goodbye(reason: GoodbyeReason) {
        goodbyes.push(reason);
        await writer.write(new TextEncoder().encode(`421 ${reason}\r\n`));
      },
    };
  };
}

function v1Header(address: string, port: number): ProxyHeader {
  return {
    version: 1,
    command: 'proxy',
    family: 'inet',
    protocol: 'stream',
    source: { address, port },
    destination: { address: '127.0.0.1', port: 25 },
    tlvs: [],
  };
}

describe('createListener', () => {
  it('serves connections and reports the client address', async () => {
    let seen: ServerConnection | undefined;
    const session = echoSession();
    const { listener, port } = await startListener(cleanup, {
      onConnection: (connection) => {
        seen = connection;
        return session(connection);
      },
    });
    const peer = await client(port);
    await peer.until('220 hello 127.0.0.1\r\n');
    peer.socket.write('NOOP\r\n');
    await peer.until('NOOP\r\n');
    expect(listener.connections).toBe(1);
    expect(seen).toMatchObject({ id: 1, remoteAddress: '127.0.0.1', remotePort: peer.socket.localPort });
    expect(seen?.proxy).toBeUndefined();
    peer.socket.end();
    await bounded(seen!.transport.closed, 'the connection to close');
    await delay(10);
    expect(listener.connections).toBe(0);
  });

  it('serves implicit TLS', async () => {
    const { port } = await startListener(cleanup, { tls: serverTls, onConnection: echoSession() });
    const transport = cleanup.add(
      await connect({ host: 'localhost', port, secure: true, tls: { ca: certs.ca } }),
      (t) => t.close(),
    );
    expect(await new StreamText(transport.readable).until('\r\n')).toBe('220 hello 127.0.0.1\r\n');
  });

  it('verifies client certificates when asked to', async () => {
    let authorized: boolean | undefined;
    const errors: unknown[] = [];
    const { port } = await startListener(cleanup, {
      tls: { ...serverTls, ca: certs.ca, requestCert: true },
      onConnection: (connection) => {
        authorized = connection.transport.info.authorized;
        return echoSession()(connection);
      },
      onError: (error) => errors.push(error),
    });
    const der = (pem: string) =>
      new Uint8Array(Buffer.from(pem.replace(/-----[^-]+-----|\s/g, ''), 'base64'));
    const transport = cleanup.add(
      await connect({
        host: 'localhost',
        port,
        secure: true,
        tls: { ca: certs.ca, cert: new Uint8Array(new X509Certificate(certs.cert).raw), key: der(certs.key) },
      }),
      (t) => t.close(),
    );
    await new StreamText(transport.readable).until('\r\n');
    expect(authorized).toBe(true);

    const anonymous = cleanup.add(
      await connect({ host: 'localhost', port, secure: true, tls: { ca: certs.ca } }),
      (t) => t.close(),
    );
    await new StreamText(anonymous.readable).rest().catch(() => {});
    await waitFor(() => errors.length > 0, 'the refusal');
    expect(errors[0]).toMatchObject({ code: ErrorCode.Tls });
  });

  it('refuses connections over the total limit, letting the protocol say why', async () => {
    const refused: RefusedConnection[] = [];
    const { listener, port } = await startListener(cleanup, {
      maxConnections: 2,
      onConnection: echoSession(),
      onRefused: async (connection) => {
        refused.push(connection);
        await writeText(connection.transport, '421 too many connections\r\n');
      },
    });
    const first = await client(port);
    const second = await client(port);
    await first.until('220');
    await second.until('220');
    const third = await client(port);
    await third.until('421 too many connections\r\n');
    await bounded(third.closed, 'the refused connection to close');
    expect(third.text).not.toContain('220');
    expect(refused).toMatchObject([{ reason: 'max-connections', remoteAddress: '127.0.0.1' }]);
    expect(listener.connections).toBe(2);
  });

  it('refuses connections over the per-address limit, and counts them down on close', async () => {
    const reasons: string[] = [];
    const { port } = await startListener(cleanup, {
      maxConnectionsPerIp: 1,
      onConnection: echoSession(),
      onRefused: ({ reason }) => {
        reasons.push(reason);
      },
    });
    const first = await client(port);
    await first.until('220');
    const second = await client(port);
    await bounded(second.closed, 'the refused connection to close');
    expect(second.text).toBe('');
    expect(reasons).toEqual(['max-connections-per-ip']);
    first.socket.end();
    await first.closed;
    await delay(20);
    const third = await client(port);
    await third.until('220');
  });

  it('says goodbye and closes after the idle timeout, which traffic pushes back', async () => {
    const goodbyes: GoodbyeReason[] = [];
    const { port } = await startListener(cleanup, { idleTimeout: 150, onConnection: echoSession(goodbyes) });
    const peer = await client(port);
    await peer.until('220');
    await delay(100);
    peer.socket.write('NOOP\r\n');
    await delay(100);
    expect(goodbyes).toEqual([]);
    await peer.until('421 idle\r\n');
    await bounded(peer.closed, 'the connection to close');
    expect(goodbyes).toEqual(['idle']);
  });

  it('says goodbye when a command deadline passes (case 53)', async () => {
    const goodbyes: GoodbyeReason[] = [];
    const session = echoSession(goodbyes);
    const { port } = await startListener(cleanup, {
      commandTimeout: 100,
      onConnection: (connection) => {
        connection.commandDeadline.reset();
        return session(connection);
      },
    });
    const peer = await client(port);
    for (let i = 0; i < 4; i++) {
      peer.socket.write('N');
      await delay(40);
    }
    await peer.until('421 timeout\r\n');
    expect(goodbyes).toEqual(['timeout']);
  });

  it('shuts down gracefully, saying goodbye to every connection', async () => {
    const goodbyes: GoodbyeReason[] = [];
    const listener = createListener({ onConnection: echoSession(goodbyes) });
    const { port } = await listener.listen();
    const peers = await Promise.all([client(port), client(port), client(port)]);
    await Promise.all(peers.map((peer) => peer.until('220')));
    await bounded(listener.close({ timeout: 1_000 }), 'the shutdown');
    expect(goodbyes).toEqual(['shutdown', 'shutdown', 'shutdown']);
    for (const peer of peers) {
      expect(peer.text).toMatch(/421 shutdown\r\n$/);
      await bounded(peer.closed, 'the connection to close');
    }
    expect(listener.connections).toBe(0);
    await expect(rawConnect(port)).rejects.toThrow();
    expect(listener.close()).toBe(listener.close());
  });

  it('drops connections that outlast the shutdown timeout', async () => {
    const goodbye = vi.fn(() => new Promise<void>(() => {}));
    const listener = createListener({ goodbyeTimeout: 5_000, onConnection: () => ({ goodbye }) });
    const { port } = await listener.listen();
    const peer = await client(port, { allowHalfOpen: true });
    await delay(20);
    const started = Date.now();
    await bounded(listener.close({ timeout: 100 }), 'the shutdown');
    // Well under the 5 s goodbye timeout: the shutdown timeout ended it.
    expect(Date.now() - started).toBeLessThan(3_000);
    expect(goodbye).toHaveBeenCalledWith('shutdown');
    await bounded(peer.ended, 'the connection to close');
    expect(listener.connections).toBe(0);
  });

  it('bounds a goodbye that never finishes, and a client that never closes', async () => {
    const { listener, port } = await startListener(cleanup, {
      idleTimeout: 50,
      goodbyeTimeout: 50,
      closeTimeout: 50,
      onConnection: () => ({ goodbye: () => new Promise<void>(() => {}) }),
    });
    const peer = await client(port, { allowHalfOpen: true });
    await bounded(peer.ended, 'the connection to close', 1_000);
    await delay(100);
    expect(listener.connections).toBe(0);
  });

  it('closes a connection whose handler fails, and reports the error', async () => {
    const errors: unknown[] = [];
    const { port } = await startListener(cleanup, {
      onConnection: () => Promise.reject(new Error('backend down')),
      onError: (error, address) => errors.push([error, address]),
    });
    const peer = await client(port);
    await waitFor(() => errors.length > 0, 'the report');
    await bounded(peer.closed, 'the connection to close');
    expect(errors).toEqual([[new Error('backend down'), '127.0.0.1']]);
  });

  it('closes stalled implicit-TLS handshakes (case 54)', async () => {
    const errors: unknown[] = [];
    const { port } = await startListener(cleanup, {
      tls: serverTls,
      handshakeTimeout: 100,
      onConnection: echoSession(),
      onError: (error) => errors.push(error),
    });
    const peer = await client(port);
    const started = Date.now();
    await bounded(peer.closed, 'the stalled connection to close');
    expect(Date.now() - started).toBeLessThan(5_000);
    await waitFor(() => errors.length > 0, 'the report');
    expect(errors).toEqual([expect.any(TimeoutError)]);
  });

  it('takes Infinity as the handshake timeout: a slow TLS client still gets its session', async () => {
    const errors: unknown[] = [];
    const { port } = await startListener(cleanup, {
      tls: serverTls,
      handshakeTimeout: Number.POSITIVE_INFINITY,
      onConnection: echoSession(),
      onError: (error) => errors.push(error),
    });
    const raw = cleanup.add(await rawConnect(port), (s) => s.destroy());
    await delay(50);
    const secure = tls.connect({ socket: raw, ca: certs.ca, servername: 'localhost' });
    secure.on('error', () => {});
    await bounded(once(secure, 'secureConnect'), 'the handshake');
    expect(await new SocketText(secure).until('220 hello')).toContain('220 hello 127.0.0.1');
    expect(errors).toEqual([]);
  });

  it('rejects options that make no sense', () => {
    const onConnection = () => ({});
    expect(() => createListener({ idleTimeout: -1, onConnection })).toThrow(InvalidArgumentError);
    expect(() => createListener({ proxyProtocol: { trusted: ['nowhere'] }, onConnection })).toThrow(
      InvalidArgumentError,
    );
    expect(() => createListener({ proxyProtocol: { trusted: ['10.0.0.0/33'] }, onConnection })).toThrow(
      InvalidArgumentError,
    );
  });

  it('fails to listen on a port in use', async () => {
    const { port } = await startListener(cleanup, { onConnection: () => ({}) });
    const second = createListener({ port, onConnection: () => ({}) });
    await expect(second.listen()).rejects.toMatchObject({ code: 'EADDRINUSE' });
    await second.close();
  });
});

describe('createListener with the PROXY protocol', () => {
  it('reports the declared client and passes on the bytes after the header', async () => {
    let seen: ServerConnection | undefined;
    const { port } = await startListener(cleanup, {
      proxyProtocol: { trusted: ['127.0.0.0/8', '::1'] },
      onConnection: (connection) => {
        seen = connection;
        return echoSession()(connection);
      },
    });
    const peer = await client(port);
    peer.socket.write(
      Buffer.concat([serializeProxyHeader(v1Header('203.0.113.9', 40000)), Buffer.from('EHLO x\r\n')]),
    );
    const text = await peer.until('EHLO x\r\n');
    expect(text).toBe('220 hello 203.0.113.9\r\nEHLO x\r\n');
    expect(seen).toMatchObject({ remoteAddress: '203.0.113.9', remotePort: 40000, proxy: { version: 1 } });
  });

  it('reads a version 2 header sent in pieces, with TLVs', async () => {
    let seen: ServerConnection | undefined;
    const { port } = await startListener(cleanup, {
      proxyProtocol: { trusted: ['127.0.0.1'] },
      onConnection: (connection) => {
        seen = connection;
        return echoSession()(connection);
      },
    });
    const header: ProxyHeader = {
      version: 2,
      command: 'proxy',
      family: 'inet6',
      protocol: 'stream',
      source: { address: '2001:db8::7', port: 5555 },
      destination: { address: '2001:db8::1', port: 143 },
      tlvs: [{ type: 0x02, value: new TextEncoder().encode('imap.example') }],
    };
    const bytes = serializeProxyHeader(header);
    const peer = await client(port);
    peer.socket.write(bytes.subarray(0, 10));
    await delay(20);
    peer.socket.write(bytes.subarray(10));
    await peer.until('220 hello 2001:db8::7\r\n');
    expect(seen?.proxy).toEqual(header);
  });

  it('keeps the real address for a LOCAL header', async () => {
    const { port } = await startListener(cleanup, {
      proxyProtocol: { trusted: ['127.0.0.1'] },
      onConnection: echoSession(),
    });
    const peer = await client(port);
    peer.socket.write(
      serializeProxyHeader({ version: 2, command: 'local', family: 'unspec', protocol: 'unspec', tlvs: [] }),
    );
    await peer.until('220 hello 127.0.0.1\r\n');
  });

  it('counts the per-address limit on the declared address', async () => {
    const { port } = await startListener(cleanup, {
      proxyProtocol: { trusted: ['127.0.0.1'] },
      maxConnectionsPerIp: 1,
      onConnection: echoSession(),
      onRefused: (connection) => writeText(connection.transport, `421 ${connection.remoteAddress}\r\n`),
    });
    const first = await client(port);
    first.socket.write(serializeProxyHeader(v1Header('198.51.100.1', 1)));
    await first.until('220');
    const other = await client(port);
    other.socket.write(serializeProxyHeader(v1Header('198.51.100.2', 1)));
    await other.until('220 hello 198.51.100.2');
    const again = await client(port);
    again.socket.write(serializeProxyHeader(v1Header('198.51.100.1', 2)));
    await again.until('421 198.51.100.1\r\n');
  });

  it('reads the header before an implicit-TLS handshake', async () => {
    const { port } = await startListener(cleanup, {
      tls: serverTls,
      proxyProtocol: { trusted: ['127.0.0.1'] },
      onConnection: echoSession(),
    });
    const peer = await client(port);
    peer.socket.write(serializeProxyHeader(v1Header('192.0.2.44', 1234)));
    const secure = tls.connect({ socket: peer.socket, ca: certs.ca, servername: 'localhost' });
    cleanup.add(secure, (s) => s.destroy());
    const [line] = await bounded(once(secure, 'data'), 'the greeting');
    expect(String(line)).toBe('220 hello 192.0.2.44\r\n');
  });

  it('closes connections from untrusted addresses without serving them', async () => {
    const errors: unknown[] = [];
    const onConnection = vi.fn(() => ({}));
    const { port } = await startListener(cleanup, {
      proxyProtocol: { trusted: ['10.0.0.0/8'] },
      onConnection,
      onError: (error) => errors.push(error),
    });
    const peer = await client(port);
    peer.socket.write(serializeProxyHeader(v1Header('203.0.113.9', 1)));
    await bounded(peer.closed, 'the connection to close');
    await waitFor(() => errors.length > 0, 'the report');
    expect(onConnection).not.toHaveBeenCalled();
    expect(errors[0]).toBeInstanceOf(PostwireError);
    expect(errors[0]).toMatchObject({ code: ErrorCode.ProxyProtocol });
  });

  it('closes connections with a malformed header, or none', async () => {
    const errors: unknown[] = [];
    const onConnection = vi.fn(() => ({}));
    const { port } = await startListener(cleanup, {
      proxyProtocol: { trusted: ['127.0.0.1'] },
      onConnection,
      onError: (error) => errors.push(error),
    });
    const malformed = await client(port);
    malformed.socket.write('PROXY TCP4 1.2.3.4\r\n');
    await bounded(malformed.closed, 'the connection to close');
    const missing = await client(port);
    missing.socket.write('EHLO x\r\n');
    await bounded(missing.closed, 'the connection to close');
    const early = await client(port);
    early.socket.end('PROXY TCP4');
    await bounded(early.closed, 'the connection to close');
    await waitFor(() => errors.length === 3, 'the reports');
    expect(onConnection).not.toHaveBeenCalled();
    expect(errors.map((error) => (error as PostwireError).code)).toEqual([
      ErrorCode.ProxyProtocol,
      ErrorCode.ProxyProtocol,
      ErrorCode.ConnectionClosed,
    ]);
  });

  it('closes a connection whose header never comes', async () => {
    const errors: unknown[] = [];
    const { port } = await startListener(cleanup, {
      proxyProtocol: { trusted: ['127.0.0.1'] },
      handshakeTimeout: 100,
      onConnection: () => ({}),
      onError: (error) => errors.push(error),
    });
    const peer = await client(port);
    peer.socket.write('PROXY ');
    await bounded(peer.closed, 'the connection to close');
    await waitFor(() => errors.length > 0, 'the report');
    expect(errors).toEqual([expect.any(TimeoutError)]);
  });

  it('keeps the real address when the header declares a UNIX socket', async () => {
    const { port } = await startListener(cleanup, {
      proxyProtocol: { trusted: ['127.0.0.1'] },
      onConnection: echoSession(),
    });
    const peer = await client(port);
    peer.socket.write(
      serializeProxyHeader({
        version: 2,
        command: 'proxy',
        family: 'unix',
        protocol: 'stream',
        source: { address: '/run/client.sock', port: 0 },
        destination: { address: '/run/server.sock', port: 0 },
        tlvs: [],
      }),
    );
    await peer.until('220 hello 127.0.0.1\r\n');
  });
});

describe('LiveSessions', () => {
  const noop = (): void => {};

  it('resolves ended() once the last session has ended, and at once with none', async () => {
    const sessions = new LiveSessions();
    await sessions.ended(Number.POSITIVE_INFINITY);
    sessions.add();
    sessions.add();
    let ended = false;
    const waiting = sessions.ended(Number.POSITIVE_INFINITY).then(() => {
      ended = true;
    });
    await sessions.end(noop, noop);
    await new Promise((resolve) => setImmediate(resolve));
    expect(ended).toBe(false);
    await sessions.end(noop, noop);
    await waiting;
    expect(ended).toBe(true);
  });

  it('gives up waiting after the time given', async () => {
    const sessions = new LiveSessions();
    sessions.add();
    await sessions.ended(0);
    await sessions.end(noop, noop);
  });

  it('hands an error onClose throws to onError, and still counts the session ended', async () => {
    const sessions = new LiveSessions();
    sessions.add();
    const errors: unknown[] = [];
    await sessions.end(
      () => {
        throw new Error('onClose failed');
      },
      (error) => errors.push(error),
    );
    expect(errors).toEqual([new Error('onClose failed')]);
    await sessions.ended(Number.POSITIVE_INFINITY);
  });
});
