import { randomBytes } from 'node:crypto';
import { once } from 'node:events';
import type * as net from 'node:net';
import * as tls from 'node:tls';
import { constants, deflateRawSync, inflateRawSync } from 'node:zlib';
import { afterEach, describe, expect, it } from 'vitest';
import { concatBytes, decodeLatin1, ErrorCode, ProtocolError, TlsError, utf8 } from '../../src/index.js';
import { DeflateTransport, NodeTransport, type ServerConnection } from '../../src/node/index.js';
import { testCertificates } from '../support/certs.js';
import { compressedMebibyte, DeflatePeer, sendRepeated } from '../support/deflate-peer.js';
import { startListener } from '../support/listener.js';
import { bounded, Cleanup, listenRaw, rawConnect, SocketText, waitFor } from '../support/net.js';

const certs = testCertificates();
const cleanup = new Cleanup();
afterEach(() => cleanup.run());

/** A compressing server transport over the next accepted socket, and the client's compressing end. */
async function compressed(): Promise<{ transport: DeflateTransport; peer: DeflatePeer; client: net.Socket }> {
  let accepted: net.Socket | undefined;
  const { server, port } = await listenRaw((socket) => {
    accepted = socket;
  });
  cleanup.add(server, (s) => new Promise((resolve) => s.close(resolve)));
  const client = cleanup.add(await rawConnect(port), (s) => s.destroy());
  await waitFor(() => accepted, 'the accept');
  const inner = new NodeTransport(accepted!, { role: 'server' });
  const transport = cleanup.add(new DeflateTransport(inner), (t) => t.close());
  return { transport, peer: new DeflatePeer(client), client };
}

/** Reads until `count` bytes have arrived; returns them. */
async function readBytes(transport: DeflateTransport, count: number): Promise<Uint8Array> {
  const chunks: Uint8Array[] = [];
  let total = 0;
  while (total < count) {
    const chunk = await bounded(transport.read(), `byte ${total} of ${count}`);
    if (chunk === undefined) throw new Error(`the peer closed after ${total} bytes`);
    chunks.push(chunk);
    total += chunk.length;
  }
  return concatBytes(chunks);
}

describe('DeflateTransport', () => {
  it('round-trips raw DEFLATE with a peer that uses node:zlib', async () => {
    const { transport, peer } = await compressed();
    await peer.send('a1 SELECT INBOX\r\n');
    expect(decodeLatin1(await readBytes(transport, 17))).toBe('a1 SELECT INBOX\r\n');
    await transport.write(utf8('* 3 EXISTS\r\na1 OK [READ-WRITE] Select completed\r\n'));
    await peer.until('a1 OK [READ-WRITE] Select completed\r\n');
    expect(peer.text).toBe('* 3 EXISTS\r\na1 OK [READ-WRITE] Select completed\r\n');
  });

  it('flushes every write, so the peer decodes each one before the next is written', async () => {
    const { transport, peer } = await compressed();
    let expected = '';
    for (let i = 1; i <= 5; i++) {
      const line = `* ${i} FETCH (FLAGS (\\Seen))\r\n`;
      expected += line;
      await transport.write(utf8(line));
      expect(await peer.until(line)).toBe(expected);
    }
    // A write of nothing sends nothing and resolves at once.
    await transport.write(new Uint8Array(0));
  });

  it('carries a mebibyte of incompressible bytes each way, in order', async () => {
    const { transport, peer } = await compressed();
    const up = randomBytes(1 << 20);
    void peer.send(up);
    expect(Buffer.from(await readBytes(transport, up.length)).equals(up)).toBe(true);

    const down = randomBytes(1 << 20);
    const writes: Promise<void>[] = [];
    for (let offset = 0; offset < down.length; offset += 64 * 1024)
      writes.push(transport.write(down.subarray(offset, offset + 64 * 1024)));
    await bounded(Promise.all(writes), 'the writes', 5_000);
    await waitFor(() => peer.text.length >= down.length, 'the inflated bytes', 5_000);
    expect(Buffer.from(peer.text, 'latin1').equals(down)).toBe(true);
  });

  it('inflates a 1 GiB bomb only as fast as it is read (case 18)', async () => {
    const { transport, client } = await compressed();
    const piece = compressedMebibyte();
    const sending = sendRepeated(client, piece, 1024);
    // Read 3 MiB of the gigabyte, then stop: the transport holds at most a small margin beyond it.
    const read = await readBytes(transport, 3 << 20);
    await new Promise((resolve) => setTimeout(resolve, 100));
    expect(transport.bytesInflated - read.length).toBeLessThanOrEqual(64 * 1024);
    expect(transport.bytesInflated).toBeLessThan(4 << 20);
    transport.destroy();
    await bounded(sending, 'the sender to stop');
  });

  it('rejects reads with a ProtocolError on a corrupt stream, and still closes cleanly', async () => {
    const { transport, client } = await compressed();
    // Block type 3 does not exist.
    client.write(Buffer.from([0xff, 0xff, 0xff, 0xff]));
    const failure = await bounded(transport.read(), 'the failure').catch((error: unknown) => error);
    expect(failure).toBeInstanceOf(ProtocolError);
    expect((failure as ProtocolError).code).toBe(ErrorCode.Protocol);
    await expect(transport.read()).rejects.toBe(failure);
    const received = new SocketText(client);
    await transport.write(utf8('* BYE\r\n'));
    await bounded(transport.close(), 'the close');
    await bounded(received.closed, 'the client to see the close');
    expect(
      inflateRawSync(Buffer.from(received.text, 'latin1'), {
        finishFlush: constants.Z_SYNC_FLUSH,
      }).toString(),
    ).toBe('* BYE\r\n');
    await expect(transport.write(utf8('late'))).rejects.toThrow(/closed/);
  });

  it('ends reads when the peer closes without a final block', async () => {
    const { transport, client } = await compressed();
    client.end(deflateRawSync(Buffer.from('a LOGOUT\r\n'), { finishFlush: constants.Z_SYNC_FLUSH }));
    expect(decodeLatin1(await readBytes(transport, 10))).toBe('a LOGOUT\r\n');
    expect(await bounded(transport.read(), 'the end')).toBeUndefined();
    expect(await transport.read()).toBeUndefined();
  });

  it('compresses inside TLS after STARTTLS, and keeps the TLS channel binding', async () => {
    let served: Promise<void> | undefined;
    const serve = async (connection: ServerConnection): Promise<void> => {
      const secure = await connection.transport.startTls();
      const transport = new DeflateTransport(secure);
      expect(transport.info.secure).toBe(true);
      expect(transport.channelBinding('tls-exporter')).toEqual(secure.channelBinding('tls-exporter'));
      await expect(transport.startTls()).rejects.toBeInstanceOf(TlsError);
      const line = decodeLatin1(await readBytes(transport, 8));
      await transport.write(utf8(`echo ${line}`));
      await transport.close();
    };
    const { port } = await startListener(cleanup, {
      startTls: { cert: certs.cert, key: certs.key },
      onConnection: (connection) => {
        served = serve(connection);
        return {};
      },
    });
    const raw = cleanup.add(await rawConnect(port), (s) => s.destroy());
    const client = tls.connect({ socket: raw, ca: certs.ca, servername: 'localhost' });
    client.on('error', () => {});
    cleanup.add(client, (s) => s.destroy());
    await once(client, 'secureConnect');
    const peer = new DeflatePeer(client);
    await peer.send('a NOOP\r\n');
    await peer.until('echo a NOOP\r\n');
    await bounded(served!, 'the server');
  });

  it('offers the web streams over read() and write()', async () => {
    const { transport, peer } = await compressed();
    const writer = transport.writable.getWriter();
    await writer.write(utf8('* OK streams\r\n'));
    writer.releaseLock();
    await peer.until('* OK streams\r\n');
    await peer.send('x\r\n');
    const reader = transport.readable.getReader();
    const { value } = await bounded(reader.read(), 'the chunk');
    expect(decodeLatin1(value!)).toBe('x\r\n');
    reader.releaseLock();
    await expect(Promise.all([transport.read(), transport.read()])).rejects.toThrow(/already pending/);
  });
});
