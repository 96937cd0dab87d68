import { afterEach, describe, expect, it } from 'vitest';
import { utf8 } from '../../src/index.js';
import {
  type GoodbyeReason,
  listenerSettings,
  NodeTransport,
  type ServerConnection,
} from '../../src/node/index.js';
import { startListener } from '../support/listener.js';
import { bounded, Cleanup, delay, rawConnect, SocketText } from '../support/net.js';

const cleanup = new Cleanup();
afterEach(() => cleanup.run());

/** A handler that greets and echoes through the transport's read() and write(), without streams. */
function fastEchoSession(goodbyes: GoodbyeReason[]) {
  return (connection: ServerConnection) => {
    const { transport } = connection;
    void (async () => {
      await transport.write(utf8('220 hello\r\n'));
      for (;;) {
        const chunk = await transport.read().catch(() => undefined);
        if (chunk === undefined) break;
        await transport.write(chunk).catch(() => {});
      }
    })();
    return {
      async goodbye(reason: GoodbyeReason) {
        goodbyes.push(reason);
        await transport.write(utf8(`421 ${reason}\r\n`));
      },
    };
  };
}

describe('createListener with the transport fast path', () => {
  it('hands the protocol a NodeTransport, whose read() and write() push the idle deadline back', async () => {
    const goodbyes: GoodbyeReason[] = [];
    let seen: ServerConnection | undefined;
    const session = fastEchoSession(goodbyes);
    const { port } = await startListener(cleanup, {
      idleTimeout: 150,
      onConnection: (connection) => {
        seen = connection;
        return session(connection);
      },
    });
    const peer = new SocketText(cleanup.add(await rawConnect(port), (s) => s.destroy()));
    await peer.until('220 hello\r\n');
    expect(seen?.transport).toBeInstanceOf(NodeTransport);
    for (let i = 0; i < 3; i++) {
      await delay(100);
      peer.socket.write(`NOOP ${i}\r\n`);
      await peer.until(`NOOP ${i}\r\n`);
    }
    expect(goodbyes).toEqual([]);
    await peer.until('421 idle\r\n');
    await bounded(peer.closed, 'the connection to close');
    expect(goodbyes).toEqual(['idle']);
  });
});

describe('listenerSettings', () => {
  it("keeps the listener's settings that are set, and nothing else of a server's options", () => {
    const onData = () => undefined;
    expect(
      listenerSettings({
        host: '127.0.0.1',
        port: 0,
        idleTimeout: 5000,
        maxConnectionsPerIp: undefined,
        proxyProtocol: false,
        ...({ onData, hostname: 'mx' } as object),
      }),
    ).toEqual({ host: '127.0.0.1', port: 0, idleTimeout: 5000, proxyProtocol: false });
  });
});
