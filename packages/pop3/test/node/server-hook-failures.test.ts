import { once } from 'node:events';
import { connect } from 'node:net';
import { PostwireError } from '@postwire/core';
import { describe, expect, it } from 'vitest';
import {
  Conversation,
  closeServersAfterEach,
  serverTls,
  startServer,
  until,
} from '../support/server-harness.js';

const servers = closeServersAfterEach();

describe('createPop3Server: hooks that throw', () => {
  it('reports an onAuth that throws to onError, for USER/PASS and AUTH alike', async () => {
    const failure = new Error('directory down');
    const errors: unknown[] = [];
    const { port } = await startServer(servers, {
      tls: serverTls,
      sasl: undefined,
      onAuth: () => {
        throw failure;
      },
      onError: (error) => errors.push(error),
    });
    const pop = await Conversation.open(port, { tls: true });
    await pop.send('USER alice\r\n');
    expect(await pop.send('PASS pw\r\n')).toBe('-ERR [SYS/TEMP] Temporary authentication failure\r\n');
    expect(await pop.send(`AUTH PLAIN ${Buffer.from('\0alice\0pw').toString('base64')}\r\n`)).toBe(
      '-ERR [SYS/TEMP] Temporary authentication failure\r\n',
    );
    expect(errors).toEqual([failure, failure]);
  });
});

describe('createPop3Server: hooks that never settle', () => {
  it('calls onClose once when the client leaves while onConnect has not settled', async () => {
    let closes = 0;
    let connects = 0;
    const { port } = await startServer(servers, {
      onConnect: () => {
        connects++;
        return new Promise(() => {});
      },
      onClose: () => {
        closes++;
      },
    });
    const socket = connect(port, '127.0.0.1');
    socket.on('error', () => {});
    await until(() => connects === 1);
    socket.destroy();
    await until(() => closes === 1, 2000);
    expect(closes).toBe(1);
  });
});

describe('createPop3Server: slow hooks', () => {
  it('case 53: the command deadline covers the client sending its command, not the login check answering it', async () => {
    const { port } = await startServer(servers, {
      commandTimeout: 300,
      sasl: undefined,
      onAuth: () => new Promise((resolve) => setTimeout(() => resolve(true), 500)),
      tls: serverTls,
    });
    const pop = await Conversation.open(port, { tls: true });
    expect(await pop.send('USER alice\r\n')).toMatch(/^\+OK/);
    // The command arrives in two pieces: the deadline runs from the first.
    pop.write('PASS p');
    expect(await pop.send('w\r\n')).toMatch(/^\+OK Maildrop locked and ready/);
  });
});

describe('createPop3Server: failures before the session starts', () => {
  it('reports a malformed PROXY header to onError, with the proxy’s address', async () => {
    const errors: { error: unknown; remoteAddress: string }[] = [];
    const { port } = await startServer(servers, {
      proxyProtocol: { trusted: ['127.0.0.1'] },
      onError: (error, connection) => errors.push({ error, remoteAddress: connection.remoteAddress }),
    });
    const socket = connect(port, '127.0.0.1');
    socket.on('error', () => {});
    socket.write('PROXY NONSENSE\r\n');
    await once(socket, 'close');
    await until(() => errors.length === 1, 2000);
    expect(errors).toEqual([{ error: expect.any(PostwireError), remoteAddress: '127.0.0.1' }]);
  });
});

describe('createPop3Server: close() with sessions in progress', () => {
  it('resolves once each maildrop is released and each onClose has settled', async () => {
    const events: string[] = [];
    const { port } = await startServer(servers, {
      maildrop: () => ({
        messages: [],
        retrieve: () => new Uint8Array(),
        update: async () => {},
        release: async () => {
          await new Promise((resolve) => setTimeout(resolve, 50));
          events.push('released');
        },
      }),
      onClose: async () => {
        await new Promise((resolve) => setTimeout(resolve, 50));
        events.push('onClose');
      },
    });
    const pop = await Conversation.open(port);
    expect(await pop.login()).toMatch(/^\+OK Maildrop locked and ready/m);
    await servers.pop()!.close();
    events.push('closed');
    expect(events).toEqual(['released', 'onClose', 'closed']);
  });
});
