import { InvalidArgumentError, ProtocolError } from '@postwire/core';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { parsePop3Capabilities } from '../../src/protocol/capabilities.js';
import {
  type Pop3Command,
  Pop3CommandError,
  parsePop3Command,
  serializePop3Command,
} from '../../src/protocol/command.js';
import {
  isPop3Continuation,
  parsePop3Status,
  parseScanListing,
  parseUniqueIdListing,
  serializePop3Status,
} from '../../src/protocol/response.js';

const word = fc.stringMatching(/^[\x21-\x7e]{1,40}$/);
const messageNumber = fc.integer({ min: 1, max: 2 ** 32 - 1 });
const command: fc.Arbitrary<Pop3Command> = fc.oneof(
  word.map((name) => ({ verb: 'USER', name }) as const),
  fc
    .stringMatching(/^[\x20-\x7e]{1,60}$/)
    .filter((password) => !password.startsWith(' '))
    .map((password) => ({ verb: 'PASS', password }) as const),
  fc
    .tuple(word, fc.stringMatching(/^[0-9a-f]{32}$/))
    .map(([name, digest]) => ({ verb: 'APOP', name, digest }) as const),
  fc
    .constantFrom('PLAIN', 'SCRAM-SHA-256', 'X-CUSTOM_1')
    .map((mechanism) => ({ verb: 'AUTH', mechanism }) as const),
  fc
    .tuple(fc.constantFrom('PLAIN'), fc.stringMatching(/^[A-Za-z0-9+/]{4,20}$/))
    .map(([mechanism, initialResponse]) => ({ verb: 'AUTH', mechanism, initialResponse }) as const),
  fc
    .constantFrom('LIST', 'UIDL')
    .chain((verb) =>
      fc
        .option(messageNumber, { nil: undefined })
        .map((message) => (message === undefined ? { verb } : { verb, message }) as Pop3Command),
    ),
  fc
    .tuple(fc.constantFrom('RETR', 'DELE'), messageNumber)
    .map(([verb, message]) => ({ verb, message }) as Pop3Command),
  fc
    .tuple(messageNumber, fc.integer({ min: 0, max: 100_000 }))
    .map(([message, lines]) => ({ verb: 'TOP', message, lines }) as const),
  fc
    .constantFrom('CAPA', 'STLS', 'UTF8', 'STAT', 'NOOP', 'RSET', 'QUIT')
    .map((verb) => ({ verb }) as Pop3Command),
  fc.constantFrom('en', 'de-CH', '*').map((language) => ({ verb: 'LANG', language }) as const),
);

describe('POP3 commands', () => {
  it('serialize then parse is the identity', () => {
    fc.assert(
      fc.property(command, (each) => {
        expect(parsePop3Command(serializePop3Command(each))).toEqual(each);
      }),
    );
  });

  it('reads verbs in any case and the password as the rest of the line', () => {
    expect(parsePop3Command('retr 7')).toEqual({ verb: 'RETR', message: 7 });
    expect(parsePop3Command('PASS two words ')).toEqual({ verb: 'PASS', password: 'two words ' });
    expect(parsePop3Command('auth')).toEqual({ verb: 'AUTH' });
  });

  it('refuses bad numbers, arguments and counts', () => {
    for (const line of [
      'RETR 0',
      'RETR 4294967296',
      'RETR x',
      'DELE',
      'STAT 1',
      'TOP 1',
      'USER',
      'XYZZY',
      `USER ${'a'.repeat(41)}`,
      'APOP u nothex',
      'AUTH PL@IN',
      'RETR 1\r\nDELE 1',
    ]) {
      expect(() => parsePop3Command(line), line).toThrow(Pop3CommandError);
    }
  });

  it('refuses to write a value that would break the line', () => {
    for (const each of [
      { verb: 'USER', name: 'a b' },
      { verb: 'USER', name: 'a\r\nDELE 1' },
      { verb: 'PASS', password: 'x\r\nDELE 1' },
      { verb: 'RETR', message: 0 },
      { verb: 'AUTH', mechanism: 'BAD MECH' },
    ] as Pop3Command[]) {
      expect(() => serializePop3Command(each)).toThrow(InvalidArgumentError);
    }
  });
});

describe('POP3 responses', () => {
  it('parses status lines with response codes, and writes them back', () => {
    expect(parsePop3Status('+OK 2 320')).toEqual({ ok: true, text: '2 320' });
    expect(parsePop3Status('-ERR [IN-USE] Mailbox locked')).toEqual({
      ok: false,
      code: 'IN-USE',
      text: 'Mailbox locked',
    });
    expect(parsePop3Status('-err [sys/temp]')).toEqual({ ok: false, code: 'SYS/TEMP', text: '' });
    expect(parsePop3Status('+OK')).toEqual({ ok: true, text: '' });
    expect(() => parsePop3Status('* OK')).toThrow(ProtocolError);
    const decode = (bytes: Uint8Array) => new TextDecoder().decode(bytes);
    expect(decode(serializePop3Status({ ok: false, code: 'LOGIN-DELAY', text: 'wait' }))).toBe(
      '-ERR [LOGIN-DELAY] wait\r\n',
    );
    expect(decode(serializePop3Status({ ok: true, text: '' }))).toBe('+OK\r\n');
    expect(() => serializePop3Status({ ok: true, text: 'x\r\n+OK' })).toThrow(InvalidArgumentError);
    fc.assert(
      fc.property(
        fc.boolean(),
        fc.option(fc.constantFrom('IN-USE', 'SYS/PERM', 'AUTH'), { nil: undefined }),
        fc.stringMatching(/^[\x20-\x7e]*$/),
        (ok, code, text) => {
          const status = code === undefined ? { ok, text: text.trim() } : { ok, code, text: text.trim() };
          const line = decode(serializePop3Status(status)).slice(0, -2);
          if (!/^\[/.test(status.text) || code !== undefined) expect(parsePop3Status(line)).toEqual(status);
        },
      ),
    );
  });

  it('case 27: parses listings and refuses malformed unique ids', () => {
    expect(parseScanListing('3 1200')).toEqual({ message: 3, size: 1200 });
    expect(parseUniqueIdListing('1 whqtswO00WBw418f9t5JxYwZ')).toEqual({
      message: 1,
      uid: 'whqtswO00WBw418f9t5JxYwZ',
    });
    for (const line of ['1', '1 ', `1 ${'x'.repeat(71)}`, '1 caf\u00e9', '1 a b', '0 abc', 'x abc']) {
      expect(() => parseUniqueIdListing(line), line).toThrow(ProtocolError);
    }
    expect(() => parseScanListing('1 -5')).toThrow(ProtocolError);
  });

  it('knows a SASL continuation', () => {
    expect(isPop3Continuation('+ ')).toBe(true);
    expect(isPop3Continuation('+')).toBe(true);
    expect(isPop3Continuation('+OK')).toBe(false);
  });

  it('reads CAPA', () => {
    const capabilities = parsePop3Capabilities([
      'TOP',
      'UIDL',
      'SASL PLAIN scram-sha-256',
      'RESP-CODES',
      'PIPELINING',
      'EXPIRE NEVER',
      'LOGIN-DELAY 900',
      'IMPLEMENTATION Postwire pop3',
      'STLS',
      'UTF8 USER',
      'USER',
    ]);
    expect(capabilities).toMatchObject({
      top: true,
      uidl: true,
      user: true,
      sasl: ['PLAIN', 'SCRAM-SHA-256'],
      respCodes: true,
      pipelining: true,
      stls: true,
      utf8: true,
      expire: 'never',
      loginDelay: 900,
      implementation: 'Postwire pop3',
    });
    expect(parsePop3Capabilities(['EXPIRE 30 USER']).expire).toBe(30);
  });
});
