import { createSaslServer } from '@postwire/sasl';
import { createMemoryStore } from '@postwire/store';
import { describe, expect, it } from 'vitest';
import { ImapServerSession } from '../../src/index.js';
import { Driver, loggedIn, PASSWORD } from './driver.js';

describe('ImapServerSession: limits', () => {
  it('case 12: a literal too large for memory, or for 32 bits, gets no `+`: BAD [TOOBIG], then BYE', async () => {
    for (const size of ['999999999', '99999999999999999999999']) {
      const driver = new Driver();
      await driver.start();
      const answer = await driver.send(`a LOGIN {${size}}\r\n`);
      expect(answer).toMatch(/^a BAD \[TOOBIG\] .*\r\n\* BYE Too big command, disconnecting\r\n$/);
      expect(answer).not.toContain('+ ');
      expect(driver.closed).toBe(true);
    }
  });

  it('case 13: {5000+} under LITERAL- is BAD [TOOBIG], then BYE', async () => {
    const driver = new Driver({ nonSyncLiterals: 'minus' });
    await driver.start();
    expect(await driver.send('a LOGIN {5000+}\r\n')).toMatch(/^a BAD \[TOOBIG\] .*\r\n\* BYE /);
  });

  it('case 14: more than 1,000 literals in one command is [TOOBIG]', async () => {
    const driver = await loggedIn();
    const answer = await driver.send(`a STATUS ${'{1+}\r\nx '.repeat(1001)}\r\n`);
    expect(answer).toMatch(/^a BAD \[TOOBIG\] .*\r\n\* BYE /);
  });

  it('case 14: more than 1 MiB of literals in one command is [TOOBIG], before the last is held', async () => {
    const driver = await loggedIn();
    const literal = `TEXT {100000+}\r\n${'x'.repeat(100_000)}`;
    const answer = await driver.send(`a SEARCH ${Array(11).fill(literal).join(' ')}\r\n`);
    expect(answer).toMatch(/^a BAD \[TOOBIG\] .*\r\n\* BYE /);
    expect(driver.closed).toBe(true);
  });

  it('case 16: the open-only form without LF is held only up to the line cap, before and after login', async () => {
    const before = new Driver();
    await before.start();
    expect(await before.send(`a NOOP ${'('.repeat(4000)}`)).toBe('');
    expect(await before.send('\r\nb NOOP\r\n')).toMatch(/^a BAD .*\r\nb OK NOOP completed\r\n$/);
    const after = await loggedIn();
    expect(await after.send(`a NOOP ${'('.repeat(4000)}`)).toBe('');
    expect(await after.send('('.repeat(70_000))).toMatch(/^\* BAD \[TOOBIG\] .*\r\n\* BYE /);
    expect(after.closed).toBe(true);
  });

  it('case 16: NOT ×10k and ( ×4000 in SEARCH are a depth error; NOT ×100k passes the line cap', async () => {
    const driver = await loggedIn();
    await driver.send('s SELECT INBOX\r\n');
    expect(await driver.send(`a SEARCH ${'NOT '.repeat(10_000)}ALL\r\n`)).toBe('a BAD Too deeply nested\r\n');
    expect(await driver.send(`b SEARCH ${'('.repeat(4000)}ALL${')'.repeat(4000)}\r\n`)).toBe(
      'b BAD Too deeply nested\r\n',
    );
    expect(await driver.send('c NOOP\r\n')).toBe('c OK NOOP completed\r\n');
    expect(await driver.send(`d SEARCH ${'NOT '.repeat(100_000)}ALL\r\n`)).toMatch(
      /^\* BAD \[TOOBIG\] .*\r\n\* BYE /,
    );
  });

  it('case 22: malformed modified UTF-7 names are BAD and touch nothing; `&-` round-trips', async () => {
    const driver = await loggedIn();
    for (const name of ['&', '&Jjo', '&Jjo!', '&AGE-', '&U,BTFw-&ZeVnLIqe-', '&2D0-'])
      for (const command of ['CREATE', 'SELECT', 'DELETE'])
        expect(await driver.send(`a ${command} "${name}"\r\n`)).toBe(
          'a BAD Invalid modified UTF-7 in mailbox name\r\n',
        );
    expect(await driver.send('b CREATE "a&-b"\r\n')).toMatch(
      /^b OK \[MAILBOXID \(\w+\)\] CREATE completed\r\n$/,
    );
    expect(await driver.send('c LIST "" "*"\r\n')).toContain('* LIST (\\HasNoChildren) "/" a&-b\r\n');
    expect((await (await driver.store.user('alice')).list()).map((m) => m.name).sort()).toEqual([
      'INBOX',
      'a&b',
    ]);
  });

  it('case 23: Café in NFC and in NFD is one mailbox; a fullwidth login reaches the same mail', async () => {
    const driver = await loggedIn();
    expect(await driver.send('a ENABLE UTF8=ACCEPT\r\nb CREATE "Caf\u00e9"\r\n')).toMatch(
      /b OK \[MAILBOXID \(\w+\)\] CREATE completed\r\n$/,
    );
    expect(await driver.send('c CREATE "Cafe\u0301"\r\n')).toMatch(/^c NO \[ALREADYEXISTS\] /);
    expect(await driver.send('d SELECT "Cafe\u0301"\r\n')).toMatch(/d OK \[READ-WRITE\] /);
    expect(await driver.send('e LIST "" "Caf*"\r\n')).toBe(
      '* LIST (\\HasNoChildren) "/" "Caf\u00e9"\r\ne OK List completed\r\n',
    );
    // A user database that takes fullwidth forms as ordinary ones: ａｌｉｃｅ is alice, with one mail root.
    const sasl = createSaslServer({
      verifiers: { lookupPassword: (user) => (user.normalize('NFKC') === 'alice' ? PASSWORD : undefined) },
      allowCleartext: true,
    });
    const wide = new Driver({}, sasl, driver.store);
    await wide.start();
    expect(await wide.send(`a LOGIN "\uff41\uff4c\uff49\uff43\uff45" ${PASSWORD}\r\n`)).toMatch(/^a OK /);
    expect(await wide.send('b CREATE Wide\r\n')).toMatch(/^b OK \[MAILBOXID \(\w+\)\] CREATE completed\r\n$/);
    expect((await (await driver.store.user('alice')).list()).map((m) => m.name)).toContain('Wide');
    // Without such a database the fullwidth name is nobody.
    const strict = new Driver({}, undefined, createMemoryStore());
    await strict.start();
    expect(await strict.send(`a LOGIN "\uff41\uff4c\uff49\uff43\uff45" ${PASSWORD}\r\n`)).toBe(
      'a NO [AUTHENTICATIONFAILED] Authentication failed\r\n',
    );
  });

  it('case 16: deep nesting is a BAD, before and after login, and the session goes on', async () => {
    const driver = new Driver();
    await driver.start();
    expect(await driver.send(`a NOOP ${'('.repeat(4000)}${')'.repeat(4000)}\r\n`)).toMatch(/^a BAD /);
    expect(await driver.send('b NOOP\r\n')).toBe('b OK NOOP completed\r\n');
    const after = await loggedIn();
    expect(await after.send(`a ID ${'('.repeat(4000)}${')'.repeat(4000)}\r\n`)).toMatch(/^a BAD /);
    expect(await after.send(`b LIST ${'('.repeat(4000)}\r\n`)).toMatch(/^b BAD /);
    expect(after.closed).toBe(false);
  });

  it('case 50: a line over 8 KiB before login, or over 64 KiB after, is refused and the session ends', async () => {
    const driver = new Driver();
    await driver.start();
    expect(await driver.send(`a LOGIN ${'x'.repeat(9000)} y\r\n`)).toBe(
      '* BAD [TOOBIG] Command too long\r\n* BYE Too big command before login, disconnecting\r\n',
    );
    expect(driver.closed).toBe(true);
    const after = await loggedIn();
    expect(await after.send(`a CREATE ${'x'.repeat(9000)}\r\n`)).toMatch(/^a NO /);
    expect(await after.send(`b CREATE ${'x'.repeat(70_000)}\r\n`)).toMatch(
      /^\* BAD \[TOOBIG\] .*\r\n\* BYE /,
    );
    expect(after.closed).toBe(true);
  });

  it('a bad command whose echoed text holds a bare CR, a NUL or a trailing {n} is answered BAD', async () => {
    const driver = await loggedIn();
    expect(await driver.send('s SELECT INBOX\r\n')).toMatch(/\r\ns OK /);
    expect(await driver.send('a FETCH 1:* (FLAGS\r X)\r\n')).toBe('a BAD Unknown FETCH item FLAGS?\r\n');
    expect(await driver.send('b FETCH 1:* (FLAGS\0)\r\n')).toBe('b BAD Unknown FETCH item FLAGS?\r\n');
    expect(await driver.send('c FETCH 1:* (X{5})\r\n')).toMatch(/^c BAD Unknown FETCH item X\{5\}\S+\r\n$/);
    expect(await driver.send('d NOOP\r\n')).toBe('d OK NOOP completed\r\n');
  });

  it('a bad command echoing non-ASCII gets ? for each octet without UTF-8, the characters with it', async () => {
    const driver = await loggedIn();
    expect(await driver.send('s SELECT INBOX\r\n')).toMatch(/\r\ns OK /);
    expect(await driver.send('a FETCH 1:* (FLAGS\u00e9)\r\n')).toBe('a BAD Unknown FETCH item FLAGS??\r\n');
    const utf8 = await loggedIn();
    expect(await utf8.send('e ENABLE UTF8=ACCEPT\r\n')).toMatch(/\r\ne OK /);
    expect(await utf8.send('s SELECT INBOX\r\n')).toMatch(/\r\ns OK /);
    expect(await utf8.send('a FETCH 1:* (FLAGS\u00e9)\r\n')).toBe('a BAD Unknown FETCH item FLAGS\u00e9\r\n');
  });

  it('case 51: before login, the third bad command ends the session with BYE', async () => {
    const driver = new Driver();
    await driver.start();
    expect(await driver.send('a BOGUS\r\nb BOGUS\r\nc BOGUS\r\nd NOOP\r\n')).toBe(
      'a BAD Unknown command BOGUS\r\nb BAD Unknown command BOGUS\r\n' +
        'c BAD Unknown command BOGUS\r\n* BYE Too many invalid IMAP commands\r\n',
    );
    expect(driver.closed).toBe(true);
  });

  it('case 51: after login, the 20th bad command ends the session with BYE', async () => {
    const driver = await loggedIn();
    let output = '';
    for (let i = 0; i < 19; i++) output += await driver.send(`t${i} BOGUS\r\n`);
    expect(output.match(/ BAD /g)).toHaveLength(19);
    expect(driver.closed).toBe(false);
    expect(await driver.send('x\r\n')).toBe(
      'x BAD Missing space\r\n* BYE Too many invalid IMAP commands\r\n',
    );
    expect(driver.closed).toBe(true);
  });

  it('case 15: an APPEND message over the limit gets NO [TOOBIG] before `+`, an empty one NO', async () => {
    const driver = await loggedIn({ limits: { maxStreamedLiteralSize: 10 } });
    expect(await driver.send('a APPEND INBOX {11}\r\n')).toBe('a NO [TOOBIG] Message too big\r\n');
    expect(await driver.send('b APPEND INBOX {0}\r\n')).toBe("b NO Can't save a zero byte message\r\n");
    expect(await driver.send('c APPEND INBOX {0+}\r\n\r\n')).toBe("c NO Can't save a zero byte message\r\n");
    expect(await driver.send('d NOOP\r\n')).toBe('d OK NOOP completed\r\n');
    expect((await (await driver.store.user('alice')).status('INBOX')).messages).toBe(0);
    expect(() => new ImapServerSession({ limits: { badCommands: 0 } })).toThrow(/badCommands/);
  });

  it('case 15: a MULTIAPPEND whose later message is over the limit stores nothing, and the next command is answered', async () => {
    const driver = await loggedIn({ limits: { maxStreamedLiteralSize: 10 } });
    expect(await driver.send('a APPEND INBOX {3+}\r\nabc {11}\r\n')).toBe(
      'a NO [TOOBIG] Message too big\r\n',
    );
    expect(await driver.send('b NOOP\r\n')).toBe('b OK NOOP completed\r\n');
    expect(await driver.send('c APPEND INBOX {3+}\r\nabc {11+}\r\n')).toBe(
      'c BAD [TOOBIG] Literal too big\r\n* BYE Too big command, disconnecting\r\n',
    );
    expect((await (await driver.store.user('alice')).status('INBOX')).messages).toBe(0);
  });
});
