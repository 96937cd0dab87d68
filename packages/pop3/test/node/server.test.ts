import { describe, expect, it } from 'vitest';
import {
  Conversation,
  closeServersAfterEach,
  deliver,
  inboxTexts,
  multiLine,
  serverTls,
  startServer,
  statusLines,
  until,
} from '../support/server-harness.js';

const servers = closeServersAfterEach();

const FIRST = 'Subject: first\r\n\r\n.dot\r\nbody\r\n';
const SECOND = 'Subject: second\r\n\r\nhello\r\n';

describe('createPop3Server: a session over TCP', () => {
  it('answers a whole pipelined session in order, and deletes at QUIT', async () => {
    const { port, store } = await startServer(servers);
    const [first, second] = await deliver(store, 'alice', FIRST, SECOND);
    const pop = await Conversation.open(port);
    expect(pop.text).toBe('+OK pop.test POP3 server ready\r\n');
    const answer = await pop.send(
      'USER alice\r\nPASS secret\r\nSTAT\r\nUIDL\r\nRETR 1\r\nDELE 1\r\nQUIT\r\n',
      statusLines(7),
    );
    expect(answer).toBe(
      `+OK Send your password\r\n+OK Maildrop locked and ready, 2 messages (${FIRST.length + SECOND.length} octets)\r\n` +
        `+OK 2 ${FIRST.length + SECOND.length}\r\n+OK Unique-ID listing follows\r\n1 ${first}\r\n2 ${second}\r\n.\r\n` +
        `+OK ${FIRST.length} octets\r\nSubject: first\r\n\r\n..dot\r\nbody\r\n.\r\n+OK Message 1 deleted\r\n` +
        '+OK pop.test signing off (1 message left)\r\n',
    );
    await pop.closed;
    expect(await inboxTexts(store, 'alice')).toEqual([SECOND]);
  });

  it('streams a large message whole, and many pipelined RETRs in order', async () => {
    const { port, store } = await startServer(servers);
    const line = `${'x'.repeat(70)}\r\n.${'y'.repeat(20)}\r\n`;
    const big = `Subject: big\r\n\r\n${line.repeat(15_000)}`;
    const small = Array.from({ length: 40 }, (_, index) => `Subject: ${index}\r\n\r\nbody ${index}\r\n`);
    await deliver(store, 'alice', big, ...small);
    const pop = await Conversation.open(port);
    await pop.login();
    const retrieved = await pop.send('RETR 1\r\n', multiLine);
    expect(retrieved).toBe(`+OK ${big.length} octets\r\n${big.replaceAll('\r\n.', '\r\n..')}.\r\n`);
    const commands = small.map((_, index) => `RETR ${index + 2}\r\n`).join('');
    const all = await pop.send(commands, (text) => (text.match(/\r\n\.\r\n/g) ?? []).length === small.length);
    expect(all).toBe(small.map((text) => `+OK ${text.length} octets\r\n${text}.\r\n`).join(''));
  });

  it('case 25: DELE and then a dropped connection deletes nothing, and the lock is released', async () => {
    const { port, store } = await startServer(servers);
    await deliver(store, 'alice', FIRST, SECOND);
    const pop = await Conversation.open(port);
    await pop.login();
    expect(await pop.send('DELE 1\r\nDELE 2\r\n', statusLines(2))).toContain('+OK Message 2 deleted');
    pop.destroy();
    await pop.closed;
    const next = await Conversation.open(port);
    let login = await next.login();
    for (let i = 0; i < 100 && login.includes('IN-USE'); i++) {
      await new Promise((resolve) => setTimeout(resolve, 10));
      login = await next.login();
    }
    expect(login).toContain('+OK Maildrop locked and ready, 2 messages');
    expect(await inboxTexts(store, 'alice')).toEqual([FIRST, SECOND]);
  });

  it('case 25: the idle timeout ends the session with -ERR and deletes nothing', async () => {
    const { port, store } = await startServer(servers, { idleTimeout: 150 });
    await deliver(store, 'alice', FIRST);
    const pop = await Conversation.open(port);
    await pop.login();
    await pop.send('DELE 1\r\n');
    await pop.closed;
    expect(pop.text.endsWith('+OK Message 1 deleted\r\n-ERR Disconnected for inactivity\r\n')).toBe(true);
    expect(await inboxTexts(store, 'alice')).toEqual([FIRST]);
  });

  it('case 25: QUIT in AUTHORIZATION deletes nothing', async () => {
    const { port, store } = await startServer(servers);
    await deliver(store, 'alice', FIRST);
    const pop = await Conversation.open(port);
    expect(await pop.send('USER alice\r\nQUIT\r\n', statusLines(2))).toBe(
      '+OK Send your password\r\n+OK pop.test signing off\r\n',
    );
    await pop.closed;
    expect(await inboxTexts(store, 'alice')).toEqual([FIRST]);
  });

  it('case 26: a second session on the same maildrop gets -ERR [IN-USE] until the first ends', async () => {
    const { port, store } = await startServer(servers);
    await deliver(store, 'alice', FIRST);
    const first = await Conversation.open(port);
    await first.login();
    const second = await Conversation.open(port);
    expect(await second.login()).toBe(
      '+OK Send your password\r\n-ERR [IN-USE] Maildrop is locked by another session\r\n',
    );
    await first.send('QUIT\r\n');
    await first.closed;
    expect(await second.login()).toContain('+OK Maildrop locked and ready, 1 message');
  });

  it('case 27: UIDL is the same in every session, and a deleted id is not listed again', async () => {
    const { port, store } = await startServer(servers);
    const ids = await deliver(store, 'alice', FIRST, SECOND);
    const uidl = async (then = 'QUIT\r\n') => {
      const pop = await Conversation.open(port);
      await pop.login();
      const listing = await pop.send('UIDL\r\n', multiLine);
      await pop.send(then, statusLines(then.split('\r\n').length - 1));
      await pop.closed;
      return listing;
    };
    const listing = `+OK Unique-ID listing follows\r\n1 ${ids[0]}\r\n2 ${ids[1]}\r\n.\r\n`;
    expect(await uidl()).toBe(listing);
    expect(await uidl('DELE 1\r\nQUIT\r\n')).toBe(listing);
    const [third] = await deliver(store, 'alice', FIRST);
    expect(third).not.toBe(ids[0]);
    expect(await uidl()).toBe(`+OK Unique-ID listing follows\r\n1 ${ids[1]}\r\n2 ${third}\r\n.\r\n`);
  });

  it('case 29 and 45: before STLS, USER and AUTH PLAIN are refused; inside TLS they work', async () => {
    const { port, store } = await startServer(servers, {
      startTls: serverTls,
      sasl: { verifiers: { lookupPassword: (user) => (user === 'alice' ? 'secret' : undefined) } },
    });
    await deliver(store, 'alice', FIRST);
    const pop = await Conversation.open(port);
    const capa = await pop.send('CAPA\r\n', multiLine);
    expect(capa).not.toMatch(/\r\nUSER\r\n/);
    expect(capa).toContain('\r\nSASL SCRAM-SHA-256 SCRAM-SHA-1 CRAM-MD5\r\n');
    expect(capa).toContain('\r\nSTLS\r\n');
    const refused = '-ERR [AUTH] Cleartext authentication disallowed on non-secure connections\r\n';
    expect(await pop.send('USER alice\r\n')).toBe(refused);
    expect(await pop.send('AUTH PLAIN AGFsaWNlAHNlY3JldA==\r\n')).toBe(refused);
    await pop.startTls();
    const secure = await pop.send('CAPA\r\n', multiLine);
    expect(secure).toContain('\r\nUSER\r\n');
    expect(secure).toContain(
      '\r\nSASL SCRAM-SHA-256-PLUS SCRAM-SHA-256 SCRAM-SHA-1-PLUS SCRAM-SHA-1 CRAM-MD5 PLAIN LOGIN\r\n',
    );
    expect(secure).not.toContain('STLS');
    expect(await pop.send('AUTH PLAIN AGFsaWNlAHNlY3JldA==\r\n')).toContain('+OK Maildrop locked and ready');
  });

  it('case 50: a long line gets -ERR and the session goes on; past the hard cap the server closes', async () => {
    const { port } = await startServer(servers);
    const pop = await Conversation.open(port);
    expect(await pop.send(`NOOP ${'x'.repeat(600)}\r\n`)).toBe('-ERR Line too long\r\n');
    expect(await pop.send('CAPA\r\n', multiLine)).toContain('+OK Capability list follows');
    expect(await pop.send(`NOOP ${'x'.repeat(20_000)}\r\n`)).toBe('-ERR Line too long\r\n');
    await pop.closed;
  });

  it('a failed STLS handshake ends the connection, reported to onError', async () => {
    const errors: unknown[] = [];
    const { port } = await startServer(servers, {
      startTls: serverTls,
      onError: (error) => errors.push(error),
    });
    const pop = await Conversation.open(port);
    expect(await pop.send('STLS\r\n')).toBe('+OK Begin TLS negotiation\r\n');
    pop.write('this is not a TLS ClientHello\r\n');
    await pop.closed;
    await until(() => errors.length > 0);
    expect(errors).toHaveLength(1);
  });

  it('implicit TLS: no STLS offered, and USER/PASS inside it', async () => {
    const { port, store } = await startServer(servers, { tls: serverTls, startTls: serverTls });
    await deliver(store, 'alice', SECOND);
    const pop = await Conversation.open(port, { tls: true });
    const capa = await pop.send('CAPA\r\n', multiLine);
    expect(capa).toContain('\r\nUSER\r\n');
    expect(capa).not.toContain('STLS');
    await pop.login();
    expect(await pop.send('RETR 1\r\n', multiLine)).toBe(`+OK ${SECOND.length} octets\r\n${SECOND}.\r\n`);
  });

  it('refuses connections over the per-address limit with -ERR [SYS/TEMP]', async () => {
    const { port } = await startServer(servers, { maxConnectionsPerIp: 1 });
    const first = await Conversation.open(port);
    const second = await Conversation.open(port);
    expect(second.text).toBe('-ERR [SYS/TEMP] Too many connections, try again later\r\n');
    await second.closed;
    expect(await first.send('QUIT\r\n')).toBe('+OK pop.test signing off\r\n');
  });

  it('LOGIN-DELAY: announced, and a login too soon after the last is refused once the password is right', async () => {
    const { port, store } = await startServer(servers, { loginDelay: 300 });
    await deliver(store, 'alice', FIRST);
    const first = await Conversation.open(port);
    expect(await first.send('CAPA\r\n', multiLine)).toContain('\r\nLOGIN-DELAY 300\r\n');
    expect(await first.login()).toContain('+OK Maildrop locked');
    await first.send('QUIT\r\n');
    const second = await Conversation.open(port);
    expect(await second.login('wrong')).toContain('-ERR [AUTH] Authentication failed');
    expect(await second.login()).toBe(
      '+OK Send your password\r\n-ERR [LOGIN-DELAY] Logged in too recently\r\n',
    );
  });

  it('shutdown ends every session with -ERR [SYS/TEMP] and deletes nothing', async () => {
    const { port, store } = await startServer(servers);
    await deliver(store, 'alice', FIRST);
    const pop = await Conversation.open(port);
    await pop.login();
    await pop.send('DELE 1\r\n');
    await servers.pop()!.close();
    await pop.closed;
    expect(pop.text.endsWith('-ERR [SYS/TEMP] Server shutting down\r\n')).toBe(true);
    expect(await inboxTexts(store, 'alice')).toEqual([FIRST]);
  });

  it('ends a command that trickles in too slowly', async () => {
    const { port } = await startServer(servers, { commandTimeout: 100 });
    const pop = await Conversation.open(port);
    pop.write('NOO');
    await pop.closed;
    expect(pop.text).toBe('+OK pop.test POP3 server ready\r\n-ERR Disconnected for inactivity\r\n');
  });
});
