import { InvalidArgumentError } from '@postwire/core';
import { describe, expect, it } from 'vitest';
import { createPop3Server } from '../../src/node/server.js';
import {
  Conversation,
  closeServersAfterEach,
  saslOptions,
  startServer,
  until,
} from '../support/server-harness.js';

const servers = closeServersAfterEach();

describe('createPop3Server: the login timeout (case 53)', () => {
  it('ends a client that keeps talking without logging in within loginTimeout, as Dovecot', async () => {
    const { port } = await startServer(servers, { loginTimeout: 300 });
    const pop = await Conversation.open(port);
    expect(await pop.send('CAPA\r\n', (text) => text.endsWith('\r\n.\r\n'))).toMatch(/^\+OK/);
    await until(() => pop.isClosed, 2000);
    expect(pop.isClosed).toBe(true);
    expect(pop.text).toMatch(/\r\n-ERR Disconnected for inactivity\r\n$/);
  });

  it('stops once the client has logged in', async () => {
    const { port } = await startServer(servers, { loginTimeout: 300 });
    const pop = await Conversation.open(port);
    expect(await pop.login()).toMatch(/\+OK Maildrop locked and ready/);
    await new Promise((resolve) => setTimeout(resolve, 500));
    expect(await pop.send('NOOP\r\n')).toBe('+OK\r\n');
  });

  it('refuses a loginTimeout that is not a positive integer, before any connection', () => {
    for (const loginTimeout of [0, -1, 1.5]) {
      expect(
        () =>
          createPop3Server({
            hostname: 'pop.test',
            sasl: saslOptions,
            maildrop: () => ({}) as never,
            loginTimeout,
          }),
        String(loginTimeout),
      ).toThrow(InvalidArgumentError);
    }
  });
});
