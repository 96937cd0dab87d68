import { InvalidArgumentError } from '@postwire/core';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { parsePop3Capabilities, serializePop3Capabilities } from '../../src/protocol/capabilities.js';
import { parsePop3Command } from '../../src/protocol/command.js';
import {
  formatScanListing,
  formatUniqueIdListing,
  parseScanListing,
  parseUniqueIdListing,
  serializePop3MultiLine,
} from '../../src/protocol/response.js';

const decoder = new TextDecoder();

describe('the wire grammar the server writes', () => {
  it('writes a multi-line response with dot-stuffing and the final dot', () => {
    expect(
      decoder.decode(serializePop3MultiLine({ ok: true, text: 'List follows' }, ['1 20', '.hidden', ''])),
    ).toBe('+OK List follows\r\n1 20\r\n..hidden\r\n\r\n.\r\n');
    expect(decoder.decode(serializePop3MultiLine({ ok: true, text: '' }, []))).toBe('+OK\r\n.\r\n');
    expect(() => serializePop3MultiLine({ ok: true, text: '' }, ['a\r\n.'])).toThrow(InvalidArgumentError);
  });

  it('writes listings the client reads back, and refuses a malformed unique id (case 27)', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 2 ** 32 - 1 }),
        fc.integer({ min: 0, max: 2 ** 40 }),
        fc.stringMatching(/^[\x21-\x7e]{1,70}$/),
        (message, size, uid) => {
          expect(parseScanListing(formatScanListing({ message, size }))).toEqual({ message, size });
          expect(parseUniqueIdListing(formatUniqueIdListing({ message, uid }))).toEqual({ message, uid });
        },
      ),
    );
    for (const uid of ['', 'a b', 'x'.repeat(71), 'caf\u00e9']) {
      expect(() => formatUniqueIdListing({ message: 1, uid })).toThrow(InvalidArgumentError);
    }
  });

  it('writes CAPA lines the client reads back', () => {
    const lines = serializePop3Capabilities([
      ['TOP'],
      ['SASL', ['PLAIN', 'SCRAM-SHA-256']],
      ['EXPIRE', ['NEVER']],
    ]);
    expect(lines).toEqual(['TOP', 'SASL PLAIN SCRAM-SHA-256', 'EXPIRE NEVER']);
    const read = parsePop3Capabilities(lines);
    expect([read.top, read.sasl, read.expire]).toEqual([true, ['PLAIN', 'SCRAM-SHA-256'], 'never']);
    expect(() => serializePop3Capabilities([['BAD NAME']])).toThrow(InvalidArgumentError);
    expect(() => serializePop3Capabilities([['X', ['a\r\nb']]])).toThrow(InvalidArgumentError);
  });

  it("reads AUTH's initial response past RFC 2449's 40 characters (RFC 5034 §4), but no other long argument", () => {
    const initialResponse = 'A'.repeat(200);
    expect(parsePop3Command(`AUTH PLAIN ${initialResponse}`)).toEqual({
      verb: 'AUTH',
      mechanism: 'PLAIN',
      initialResponse,
    });
    expect(() => parsePop3Command(`AUTH ${'A'.repeat(41)}`)).toThrow('Argument too long');
    expect(() => parsePop3Command(`USER ${'a'.repeat(41)}`)).toThrow('Argument too long');
  });
});
