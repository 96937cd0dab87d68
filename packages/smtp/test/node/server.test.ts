import { connect as connectTcp, type Socket } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { createSmtpServer, type SmtpServer, type SmtpServerOptions } from '../../src/node/server.js';

const servers: SmtpServer[] = [];
afterEach(async () => {
  for (const server of servers.splice(0)) await server.close();
});

async function start(options: Partial<SmtpServerOptions> = {}): Promise<number> {
  const server = createSmtpServer({ hostname: 'mx.test', ...options });
  servers.push(server);
  return (await server.listen()).port;
}

/** A raw client that collects what the server says and notices when it closes. */
function client(port: number): { socket: Socket; said: () => string; closed: Promise<void> } {
  const socket = connectTcp(port, '127.0.0.1');
  let text = '';
  socket.on('data', (data) => {
    text += data.toString();
  });
  const closed = new Promise<void>((resolve) => socket.on('close', () => resolve()));
  return { socket, said: () => text, closed };
}

async function until(condition: () => boolean, ms = 3000): Promise<void> {
  for (const start = Date.now(); !condition() && Date.now() - start < ms; ) {
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

describe('createSmtpServer', () => {
  it('case 53: a client stalled in the middle of a command gets 421 4.4.2 and is closed', async () => {
    const port = await start({ commandTimeout: 200 });
    const { socket, said, closed } = client(port);
    await until(() => said().startsWith('220 '));
    socket.write('EHLO slow');
    await closed;
    expect(said()).toMatch(/\r\n421 4\.4\.2 mx\.test Timeout exceeded\r\n$/);
  });

  it('keeps a client that is idle between commands (only the idle timeout applies then)', async () => {
    const port = await start({ commandTimeout: 200 });
    const { socket, said } = client(port);
    await until(() => said().startsWith('220 '));
    socket.write('NOOP\r\n');
    await until(() => said().includes('250 2.0.0 OK'));
    await new Promise((resolve) => setTimeout(resolve, 400));
    socket.write('NOOP\r\n');
    await until(() => said().split('250 2.0.0 OK').length === 3);
    expect(said().split('250 2.0.0 OK')).toHaveLength(3);
    socket.destroy();
  });

  it('case 54: a connection over the per-address limit gets 421 and is closed', async () => {
    const port = await start({ maxConnectionsPerIp: 1 });
    const first = client(port);
    await until(() => first.said().startsWith('220 '));
    const second = client(port);
    await second.closed;
    expect(second.said()).toBe('421 4.7.0 Too many connections, try again later\r\n');
    first.socket.destroy();
  });

  it('says 421 4.3.2 to every session when it closes', async () => {
    const port = await start();
    const { said, closed } = client(port);
    await until(() => said().startsWith('220 '));
    await servers.pop()!.close();
    await closed;
    expect(said()).toMatch(/421 4\.3\.2 mx\.test Service shutting down\r\n$/);
  });

  it('a shutdown while onData stores a message that ended lets the client hear its real answer, then 421', async () => {
    let storing: () => void = () => {};
    const stored = new Promise<void>((resolve) => {
      storing = resolve;
    });
    let finish: () => void = () => {};
    const port = await start({
      onData: async (message) => {
        for await (const _ of message) {
          // Read to the end.
        }
        storing();
        await new Promise<void>((resolve) => {
          finish = resolve;
        });
      },
    });
    const { socket, said, closed } = client(port);
    await until(() => said().startsWith('220 '));
    socket.write('EHLO c\r\n');
    await until(() => said().includes('250 '));
    socket.write('MAIL FROM:<a@x.test>\r\nRCPT TO:<b@x.test>\r\nDATA\r\n');
    await until(() => said().includes('354 '));
    socket.write('Subject: hi\r\n\r\nHello.\r\n.\r\n');
    await stored;
    const closing = servers.pop()!.close();
    // The goodbye runs while the message is being stored.
    await new Promise((resolve) => setImmediate(resolve));
    finish();
    await closing;
    await closed;
    expect(said()).toMatch(/\r\n250 2\.0\.0 [^\r\n]*\r\n421 4\.3\.2 mx\.test Service shutting down\r\n$/);
  });

  it('case 53: the command deadline covers the client sending its message, not onData storing it', async () => {
    let stored: () => void = () => {};
    const storing = new Promise<void>((resolve) => {
      stored = resolve;
    });
    const port = await start({
      commandTimeout: 200,
      onData: async (message) => {
        for await (const _ of message) {
          // Read to the end.
        }
        await storing;
      },
    });
    const { socket, said } = client(port);
    await until(() => said().startsWith('220 '));
    socket.write('EHLO c\r\n');
    await until(() => said().includes('250 '));
    socket.write('MAIL FROM:<a@x.test>\r\nRCPT TO:<b@x.test>\r\nDATA\r\n');
    await until(() => said().includes('354 '));
    socket.write('Subject: hi\r\n\r\nHello.\r\n.\r\n');
    // Storing takes longer than the command deadline.
    await new Promise((resolve) => setTimeout(resolve, 400));
    stored();
    await until(() => said().includes('250 2.0.0 Message accepted'));
    socket.write('QUIT\r\n');
    await until(() => said().includes('221 '));
    expect(said()).not.toMatch(/421/);
    expect(said()).toMatch(/\r\n250 2\.0\.0 Message accepted\r\n221 /);
    socket.destroy();
  });

  it('answers 451 4.3.0 after the message when onData fails before reading it, without holding the client', async () => {
    const errors: unknown[] = [];
    const port = await start({
      onData: async () => {
        throw new Error('storage down');
      },
      onError: (error) => errors.push(error),
    });
    const { socket, said } = client(port);
    await until(() => said().startsWith('220 '));
    socket.write('EHLO c\r\n');
    await until(() => said().includes('250 '));
    socket.write('MAIL FROM:<a@b.test>\r\nRCPT TO:<c@d.test>\r\nDATA\r\n');
    await until(() => said().includes('354 '));
    socket.write(`Subject: x\r\n\r\n${'line of text\r\n'.repeat(5000)}.\r\n`);
    await until(() => said().includes('451 '));
    expect(said()).toMatch(/354 [^\r]*\r\n451 4\.3\.0 Temporary failure, try again later\r\n$/);
    expect(errors).toHaveLength(1);
    socket.destroy();
  });

  it('answers 451 4.3.0 when a hook throws, so that the mail is retried, never lost', async () => {
    const errors: unknown[] = [];
    const port = await start({
      onRcptTo: () => {
        throw new Error('database down');
      },
      onError: (error) => errors.push(error),
    });
    const { socket, said } = client(port);
    await until(() => said().startsWith('220 '));
    socket.write('EHLO c\r\n');
    await until(() => said().includes('250 '));
    socket.write('MAIL FROM:<a@b.test>\r\nRCPT TO:<c@d.test>\r\n');
    await until(() => said().includes('451 '));
    expect(said()).toContain('451 4.3.0 Temporary failure, try again later\r\n');
    expect(errors).toHaveLength(1);
    socket.destroy();
  });
});
