import { describe, expect, it } from 'vitest';
import { ClientConnection, connectClient } from '../src/client-connection.js';
import { ConnectionError, ErrorCode, ProtocolError, TlsError } from '../src/errors.js';
import type { Transport } from '../src/transport.js';

const encoder = new TextEncoder();
const decoder = new TextDecoder();

/** An in-memory transport: `send` is what the server says, `written` what the client wrote. */
function memoryTransport(options: { secure?: boolean; upgrade?: () => Promise<Transport> } = {}) {
  const written: string[] = [];
  let server!: ReadableStreamDefaultController<Uint8Array>;
  let closed = false;
  const transport: Transport = {
    readable: new ReadableStream<Uint8Array>({
      start(controller) {
        server = controller;
      },
    }),
    writable: new WritableStream<Uint8Array>({
      write(chunk) {
        written.push(decoder.decode(chunk));
      },
    }),
    closed: Promise.resolve(),
    info: { secure: options.secure ?? false },
    startTls: options.upgrade ?? (() => Promise.reject(new Error('no TLS'))),
    async close() {
      closed = true;
    },
  };
  return {
    transport,
    written,
    send: (text: string) => server.enqueue(encoder.encode(text)),
    end: () => server.close(),
    error: (error: Error) => server.error(error),
    isClosed: () => closed,
  };
}

function recorder() {
  const received: string[] = [];
  const failures: Error[] = [];
  return {
    received,
    failures,
    handler: {
      receive: (bytes: Uint8Array) => {
        received.push(decoder.decode(bytes));
      },
      failed: (error: Error) => {
        failures.push(error);
      },
    },
  };
}

const tick = () => new Promise((resolve) => setTimeout(resolve, 0));

describe('ClientConnection', () => {
  it('hands over what the server sends and writes what the client sends', async () => {
    const server = memoryTransport();
    const { received, handler } = recorder();
    const connection = new ClientConnection(server.transport, 'mx:25', handler);
    server.send('220 hello\r\n');
    await connection.write(encoder.encode('EHLO me\r\n'));
    await tick();
    expect(received).toEqual(['220 hello\r\n']);
    expect(server.written).toEqual(['EHLO me\r\n']);
    expect(connection.failure).toBeUndefined();
  });

  it('connects with the connector, passing on only the options given', async () => {
    const server = memoryTransport();
    const calls: unknown[] = [];
    const transport = await connectClient({
      connector: async (options) => {
        calls.push(options);
        return server.transport;
      },
      host: 'pop.example',
      port: 110,
      secure: false,
      timeout: 1000,
      signal: undefined,
    });
    expect(transport).toBe(server.transport);
    expect(calls).toStrictEqual([{ host: 'pop.example', port: 110, secure: false, timeout: 1000 }]);
  });

  it('fails once, with the first failure, when the server closes, and refuses writes after', async () => {
    const server = memoryTransport();
    const { failures, handler } = recorder();
    const connection = new ClientConnection(server.transport, 'mx:25', handler);
    server.end();
    await tick();
    expect(failures).toHaveLength(1);
    expect(failures[0]).toBeInstanceOf(ConnectionError);
    expect(failures[0]!.message).toContain('mx:25 closed the connection');
    expect(connection.fail(new ProtocolError('later'))).toBe(failures[0]);
    expect(failures).toHaveLength(1);
    await expect(connection.write(encoder.encode('x'))).rejects.toBe(failures[0]);
  });

  it('turns a read error into a connection error', async () => {
    const server = memoryTransport();
    const { failures, handler } = recorder();
    const connection = new ClientConnection(server.transport, 'mx:25', handler);
    server.error(new Error('reset by peer'));
    await tick();
    expect(connection.failure).toBeInstanceOf(ConnectionError);
    expect(failures).toEqual([connection.failure]);
  });

  it('stops reading once failed, and abort and close close the transport', async () => {
    const server = memoryTransport();
    const { received, handler } = recorder();
    const connection = new ClientConnection(server.transport, 'mx:25', handler);
    const failure = connection.abort(new ProtocolError('unsolicited reply'));
    expect(server.isClosed()).toBe(true);
    server.send('250 late\r\n');
    await tick();
    expect(received).toEqual([]);
    await connection.close(new ConnectionError(ErrorCode.ConnectionClosed, 'closed'));
    expect(connection.failure).toBe(failure);
  });

  it('pauses reading while the handler waits', async () => {
    const server = memoryTransport();
    const received: string[] = [];
    let release!: () => void;
    const connection = new ClientConnection(server.transport, 'pop:110', {
      receive: (bytes) => {
        received.push(decoder.decode(bytes));
        if (received.length === 1) return new Promise<void>((resolve) => (release = resolve));
        return undefined;
      },
      failed: () => {},
    });
    server.send('one');
    server.send('two');
    await tick();
    expect(received).toEqual(['one']);
    release();
    await tick();
    expect(received).toEqual(['one', 'two']);
    expect(connection.failure).toBeUndefined();
  });

  it('upgrades to TLS: the old streams end without failing, the decoder resets, then the new transport is read', async () => {
    const secure = memoryTransport({ secure: true });
    const plain = memoryTransport({ upgrade: async () => secure.transport });
    const events: string[] = [];
    const connection = new ClientConnection(plain.transport, 'mx:25', {
      receive: (bytes) => {
        events.push(decoder.decode(bytes));
      },
      failed: (error) => {
        events.push(`failed: ${error.message}`);
      },
    });
    secure.send('250 inside TLS\r\n');
    await connection.startTls(() => events.push('reset'));
    await tick();
    expect(events).toEqual(['reset', '250 inside TLS\r\n']);
    expect(connection.transport.info.secure).toBe(true);
    await connection.write(encoder.encode('EHLO me\r\n'));
    expect(secure.written).toEqual(['EHLO me\r\n']);
    expect(plain.written).toEqual([]);
  });
});

describe('ClientConnection: holding reads before a TLS upgrade', () => {
  /** A transport that counts the reads asked of it (pulls), and gives one chunk per pull from `chunks`. */
  function countingTransport(chunks: string[], upgrade?: () => Promise<Transport>) {
    let pulls = 0;
    const transport: Transport = {
      readable: new ReadableStream<Uint8Array>(
        {
          pull(controller) {
            pulls++;
            const chunk = chunks.shift();
            if (chunk !== undefined) controller.enqueue(encoder.encode(chunk));
            // No chunk: the pull stays pending, as a socket read does until data comes.
            else return new Promise<void>(() => {});
          },
        },
        { highWaterMark: 0 },
      ),
      writable: new WritableStream<Uint8Array>(),
      closed: Promise.resolve(),
      info: { secure: false },
      startTls: upgrade ?? (() => Promise.reject(new Error('no TLS'))),
      async close() {},
    };
    return { transport, pulls: () => pulls };
  }

  /** A connection whose session holds reading once it has the first chunk (the answer to STARTTLS). */
  function holdingAfterFirstChunk(transport: Transport) {
    const received: string[] = [];
    const connection: ClientConnection = new ClientConnection(transport, 'imap.example:143', {
      receive: (bytes) => {
        received.push(decoder.decode(bytes));
        if (received.length === 1) connection.holdReading();
      },
      failed: () => {},
    });
    return { connection, received };
  }

  it('asks for no more bytes once a receive holds reading, until startTls; the old transport is never read again', async () => {
    const secure = countingTransport(['* OK secure\r\n']);
    const plain = countingTransport(['A1 OK begin TLS\r\n', '* injected\r\n'], async () => secure.transport);
    const { connection, received } = holdingAfterFirstChunk(plain.transport);
    await tick();
    expect(received).toEqual(['A1 OK begin TLS\r\n']);
    expect(plain.pulls()).toBe(1);
    await connection.startTls(() => {});
    await tick();
    expect(received).toEqual(['A1 OK begin TLS\r\n', '* OK secure\r\n']);
    expect(plain.pulls()).toBe(1);
  });

  it('reads on after resumeReading (the server refused the upgrade)', async () => {
    const plain = countingTransport(['A1 NO not now\r\n', '* later\r\n']);
    const { connection, received } = holdingAfterFirstChunk(plain.transport);
    await tick();
    expect(received).toEqual(['A1 NO not now\r\n']);
    connection.resumeReading();
    await tick();
    expect(received).toEqual(['A1 NO not now\r\n', '* later\r\n']);
  });

  it('fails the connection with the handshake error when the upgrade fails, and closes the transport', async () => {
    const handshake = new TlsError(ErrorCode.Tls, 'certificate has expired');
    const plain = countingTransport(['A1 OK begin TLS\r\n'], () => Promise.reject(handshake));
    let closed = false;
    plain.transport.close = async () => {
      closed = true;
    };
    const failures: Error[] = [];
    const connection: ClientConnection = new ClientConnection(plain.transport, 'imap.example:143', {
      receive: () => connection.holdReading(),
      failed: (error) => {
        failures.push(error);
      },
    });
    await tick();
    await expect(connection.startTls(() => {})).rejects.toBe(handshake);
    expect(connection.failure).toBe(handshake);
    expect(failures).toEqual([handshake]);
    expect(closed).toBe(true);
    await expect(connection.write(encoder.encode('A2 NOOP\r\n'))).rejects.toBe(handshake);
  });
});
