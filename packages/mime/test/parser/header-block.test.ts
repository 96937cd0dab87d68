import { decodeLatin1, utf8 } from '@postwire/core';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { defaultMimeLimits } from '../../src/limits.js';
import { parseHeaderBlock } from '../../src/parser/header-block.js';

const latin1 = (text: string) => Uint8Array.from(text, (char) => char.charCodeAt(0));
const codes = (block: { defects: { code: string }[] }) => block.defects.map((defect) => defect.code);
const summary = (block: ReturnType<typeof parseHeaderBlock>) =>
  block.fields.map((field) => [field.name, field.value] as const);

describe('parseHeaderBlock', () => {
  it('splits fields, keeps folds in values and raw bytes without the line ending', () => {
    const input = utf8('Subject: hello\r\n world\r\nFrom: a@b\r\n\r\nbody');
    const block = parseHeaderBlock(input);
    expect(summary(block)).toEqual([
      ['Subject', ' hello\r\n world'],
      ['From', ' a@b'],
    ]);
    expect(block.fields[0]!.key).toBe('subject');
    expect(decodeLatin1(block.fields[0]!.raw)).toBe('Subject: hello\r\n world');
    expect(block.fields[1]!.raw.buffer).toBe(input.buffer);
    expect(block.bodyOffset).toBe(input.length - 4);
    expect(block.defects).toEqual([]);
  });

  it('accepts bare LF and mixed line endings', () => {
    const block = parseHeaderBlock(utf8('A: 1\nB: 2\r\n\tmore\nC:3\n\nrest'));
    expect(summary(block)).toEqual([
      ['A', ' 1'],
      ['B', ' 2\r\n\tmore'],
      ['C', '3'],
    ]);
    expect(block.bodyOffset).toBe(22);
  });

  it('reads a block without a blank line to its end', () => {
    const block = parseHeaderBlock(utf8('A: 1\r\nB: 2'));
    expect(summary(block)).toEqual([
      ['A', ' 1'],
      ['B', ' 2'],
    ]);
    expect(block.bodyOffset).toBe(10);
  });

  it('gives an empty block when the input starts with a blank line', () => {
    expect(parseHeaderBlock(utf8('\r\nbody'))).toEqual({ fields: [], defects: [], bodyOffset: 2 });
    expect(parseHeaderBlock(utf8('\nbody')).bodyOffset).toBe(1);
    expect(parseHeaderBlock(new Uint8Array(0)).bodyOffset).toBe(0);
  });

  it('decodes values as UTF-8 when valid (RFC 6532), else as Latin-1', () => {
    const block = parseHeaderBlock(
      new Uint8Array([...utf8('Subject: caf\u00e9\r\n'), ...latin1('X-Old: caf\u00e9\r\n\r\n')]),
    );
    expect(summary(block)).toEqual([
      ['Subject', ' caf\u00e9'],
      ['X-Old', ' caf\u00e9'],
    ]);
  });

  it('skips a junk line followed by a field, such as an mbox or HTTP request line', () => {
    const block = parseHeaderBlock(utf8('POST / HTTP/1.1\r\nHost: x\r\nnot a field\r\nA: 1\r\n\r\n'));
    expect(summary(block)).toEqual([
      ['Host', ' x'],
      ['A', ' 1'],
    ]);
    expect(codes(block)).toEqual(['invalid-header-line', 'invalid-header-line']);
  });

  it('skips a junk line followed by the blank line', () => {
    const block = parseHeaderBlock(utf8('A: 1\r\njunk\r\n\r\nbody'));
    expect(summary(block)).toEqual([['A', ' 1']]);
    expect(block.bodyOffset).toBe(14);
    expect(codes(block)).toEqual(['invalid-header-line']);
  });

  it('starts the body at a junk line followed by another or by the end (no header separator)', () => {
    const noHeader = parseHeaderBlock(utf8('hello world\r\nsecond line\r\n\r\nmore'));
    expect(noHeader.fields).toEqual([]);
    expect(noHeader.bodyOffset).toBe(0);
    expect(codes(noHeader)).toEqual(['missing-header-separator']);
    const late = parseHeaderBlock(utf8('A: 1\r\nhello'));
    expect(summary(late)).toEqual([['A', ' 1']]);
    expect(late.bodyOffset).toBe(6);
  });

  it('treats a name with a space as junk and a name with a control byte as a dropped field', () => {
    const block = parseHeaderBlock(latin1('Bad Name: x\r\nA\u0000B: y\r\nC\u00e9: z\r\nD: 1\r\n\r\n'));
    expect(summary(block)).toEqual([['D', ' 1']]);
    expect(codes(block)).toEqual(['invalid-header-line', 'invalid-header-name', 'invalid-header-name']);
  });

  it('treats an empty name as junk', () => {
    const block = parseHeaderBlock(utf8(': x\r\nA: 1\r\n\r\n'));
    expect(summary(block)).toEqual([['A', ' 1']]);
  });

  it('applies maxHeaderCount and maxHeaderSize', () => {
    const limits = { maxHeaderCount: 2, maxHeaderSize: 12 };
    const block = parseHeaderBlock(utf8('A: 1\r\nB: 0123456789abcdef\r\nC: 3\r\nD: 4\r\n\r\n'), limits);
    expect(summary(block)).toEqual([
      ['A', ' 1'],
      ['B', ' 012345678'],
    ]);
    expect(codes(block)).toEqual(['limit-maxHeaderSize', 'limit-maxHeaderCount']);
  });

  describe('case 33: ambiguous From fields stay visible and flagged', () => {
    it('` From:` as the first line', () => {
      const block = parseHeaderBlock(utf8(' From: a@evil\r\nTo: b@x\r\n\r\n'));
      expect(summary(block)).toEqual([
        ['From', ' a@evil'],
        ['To', ' b@x'],
      ]);
      expect(decodeLatin1(block.fields[0]!.raw)).toBe(' From: a@evil');
      expect(codes(block)).toEqual(['leading-whitespace']);
    });

    it('`From :` with whitespace before the colon', () => {
      const block = parseHeaderBlock(utf8('From : a@evil\r\nFrom: b@good\r\n\r\n'));
      expect(block.fields.map((field) => field.key)).toEqual(['from', 'from']);
      expect(codes(block)).toEqual(['space-before-colon']);
    });

    it('`From\\r\\n :` with a folded colon', () => {
      const block = parseHeaderBlock(utf8('From\r\n : a@evil\r\nTo: b@x\r\n\r\n'));
      expect(summary(block)).toEqual([
        ['From', ' a@evil'],
        ['To', ' b@x'],
      ]);
      expect(codes(block)).toEqual(['space-before-colon']);
    });
  });

  describe('case 41: hostile header blocks', () => {
    it('drops a 2 KB name and a name holding NUL', () => {
      const block = parseHeaderBlock(utf8(`${'X'.repeat(2048)}: 1\r\nA\0B: 2\r\nC: 3\r\n\r\n`));
      expect(summary(block)).toEqual([['C', ' 3']]);
      expect(codes(block)).toEqual(['invalid-header-name', 'invalid-header-name']);
    });

    it('cuts one 20 MB field at maxHeaderSize', () => {
      const big = new Uint8Array(20 * 1024 * 1024 + 16).fill(0x61);
      big.set(utf8('Subject: '));
      big.set(utf8('\r\n\r\n'), big.length - 4);
      const block = parseHeaderBlock(big);
      expect(block.fields).toHaveLength(1);
      expect(block.fields[0]!.raw.length).toBe(defaultMimeLimits.maxHeaderSize);
      expect(codes(block)).toEqual(['limit-maxHeaderSize']);
      expect(block.bodyOffset).toBe(big.length);
    });

    it('keeps the first maxHeaderCount of 500k header lines', () => {
      const block = parseHeaderBlock(utf8(`${'X-A: 1\r\n'.repeat(500_000)}\r\n`));
      expect(block.fields).toHaveLength(defaultMimeLimits.maxHeaderCount);
      expect(codes(block)).toEqual(['limit-maxHeaderCount']);
    });

    it('stays linear on 500k folded lines and on 500k lines without a colon', () => {
      const folded = parseHeaderBlock(utf8(`A: x${'\r\n y'.repeat(500_000)}\r\n\r\n`));
      expect(folded.fields).toHaveLength(1);
      const junk = parseHeaderBlock(utf8('junk\r\n'.repeat(500_000)));
      expect(junk.bodyOffset).toBe(0);
    });
  });

  it('property: the raw bytes of every field lie inside the block, in order, and parse back alike', () => {
    const name = fc.stringMatching(/^[A-Za-z][A-Za-z0-9-]{0,10}$/);
    const value = fc.stringMatching(/^[ -9;-~]{0,20}$/);
    const eol = fc.constantFrom('\r\n', '\n');
    const field = fc.tuple(name, value, fc.option(value), eol);
    fc.assert(
      fc.property(fc.array(field, { maxLength: 8 }), (fields) => {
        const text = fields
          .map(([n, v, fold, e]) => `${n}:${v}${fold === null ? '' : `${e} x${fold}`}${e}`)
          .join('');
        const input = utf8(`${text}\r\nbody`);
        const block = parseHeaderBlock(input);
        expect(block.fields.map((f) => f.name)).toEqual(fields.map(([n]) => n));
        let last = 0;
        for (const f of block.fields) {
          expect(f.raw.byteOffset).toBeGreaterThanOrEqual(last);
          last = f.raw.byteOffset + f.raw.length;
          const again = parseHeaderBlock(f.raw).fields[0]!;
          expect([again.name, again.value]).toEqual([f.name, f.value]);
        }
        expect(block.bodyOffset).toBe(input.length - 4);
      }),
    );
  });
});
