import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { InvalidMailboxNameError, type InvalidNameReason } from '../src/errors.js';
import {
  canonicalMailboxName,
  canonicalUserName,
  isInbox,
  MAX_MAILBOX_NAME_OCTETS,
  MAX_NAME_COMPONENT_OCTETS,
  parentNames,
} from '../src/names.js';

function expectRejected(canonical: (name: string) => string, name: string, reason: InvalidNameReason): void {
  let thrown: unknown;
  try {
    canonical(name);
  } catch (error) {
    thrown = error;
  }
  expect(thrown, JSON.stringify(name)).toBeInstanceOf(InvalidMailboxNameError);
  expect((thrown as InvalidMailboxNameError).reason, JSON.stringify(name)).toBe(reason);
}

/** The outcome of a call: the result, or the reason it was refused. */
function outcome(canonical: (name: string) => string, name: string): string {
  try {
    return `ok:${canonical(name)}`;
  } catch (error) {
    if (!(error instanceof InvalidMailboxNameError)) throw error;
    return `refused:${error.reason}`;
  }
}

/** Strings rich in the characters that matter here, any UTF-16 units (lone surrogates too), and any text. */
const anyName = fc.oneof(
  fc.string({
    unit: fc.constantFrom(
      '.',
      '/',
      '\\',
      '~',
      '*',
      '%',
      'a',
      'I',
      'n',
      'b',
      'o',
      'x',
      'é',
      'e\u0301',
      '\u0000',
      '\ud800',
    ),
    maxLength: 24,
  }),
  fc.string({
    unit: fc.integer({ min: 0, max: 0xffff }).map((code) => String.fromCharCode(code)),
    maxLength: 24,
  }),
  fc.string({ unit: 'binary', maxLength: 24 }),
);

describe('canonicalMailboxName', () => {
  it('case 20: refuses .., ../x, ./x, a//b, /etc/passwd, ~root, controls, U+2028, U+FEFF and over-long names', () => {
    const cases: [string, InvalidNameReason][] = [
      ['..', 'dot-component'],
      ['../x', 'dot-component'],
      ['./x', 'dot-component'],
      ['a//b', 'empty-component'],
      ['/etc/passwd', 'empty-component'],
      ['~root', 'forbidden-character'],
      ['a\u0000b', 'control-character'],
      ['a\tb', 'control-character'],
      ['a\r\nb', 'control-character'],
      ['\u001b[31m', 'control-character'],
      ['a\u007f', 'control-character'],
      ['a\u0085', 'control-character'],
      ['a\u009f', 'control-character'],
      ['a\u2028b', 'control-character'],
      ['a\u2029b', 'control-character'],
      ['\ufeffINBOX', 'control-character'],
      ['a'.repeat(MAX_NAME_COMPONENT_OCTETS + 1), 'component-too-long'],
      [`INBOX/${'é'.repeat(128)}`, 'component-too-long'],
      [Array(17).fill('a'.repeat(255)).join('/'), 'too-long'],
    ];
    for (const [name, reason] of cases) expectRejected(canonicalMailboxName, name, reason);
  });

  it('case 23: Café in NFC and in NFD is one mailbox', () => {
    const nfc = 'Caf\u00e9';
    const nfd = 'Cafe\u0301';
    expect(canonicalMailboxName(nfd)).toBe(nfc);
    expect(canonicalMailboxName(nfc)).toBe(nfc);
    expect(canonicalMailboxName(`INBOX/${nfd}/${nfd}`)).toBe(`INBOX/${nfc}/${nfc}`);
  });

  it('refuses empty names and components, dot components, wildcards and backslashes', () => {
    const cases: [string, InvalidNameReason][] = [
      ['', 'empty'],
      ['/', 'empty-component'],
      ['a/', 'empty-component'],
      ['/a', 'empty-component'],
      ['.', 'dot-component'],
      ['a/./b', 'dot-component'],
      ['a/..', 'dot-component'],
      ['~', 'forbidden-character'],
      ['~peter/mail', 'forbidden-character'],
      ['a\\b', 'forbidden-character'],
      ['..\\x', 'forbidden-character'],
      ['*', 'forbidden-character'],
      ['a%', 'forbidden-character'],
    ];
    for (const [name, reason] of cases) expectRejected(canonicalMailboxName, name, reason);
  });

  it('refuses lone surrogates and noncharacters', () => {
    for (const name of [
      '\ud800',
      'a\udc00',
      '\udc00\ud800',
      '\ufffe',
      '\uffff',
      '\ufdd0',
      '\u{1fffe}',
      '\u{10ffff}',
    ]) {
      expectRejected(canonicalMailboxName, name, 'control-character');
    }
  });

  it('counts lengths in UTF-8 octets, up to and including the limits', () => {
    expect(canonicalMailboxName('a'.repeat(255))).toBe('a'.repeat(255));
    expect(canonicalMailboxName('é'.repeat(127))).toBe('é'.repeat(127));
    expect(canonicalMailboxName('😀'.repeat(63))).toBe('😀'.repeat(63));
    expectRejected(canonicalMailboxName, '😀'.repeat(64), 'component-too-long');
    // 40 components of 100 octets and one of 56, with 40 delimiters: exactly 4096 octets.
    const longest = [...Array(40).fill('a'.repeat(100)), 'b'.repeat(56)].join('/');
    expect(new TextEncoder().encode(longest).length).toBe(MAX_MAILBOX_NAME_OCTETS);
    expect(canonicalMailboxName(longest)).toBe(longest);
    expectRejected(canonicalMailboxName, `${longest}b`, 'too-long');
  });

  it('writes a first component that is INBOX in any ASCII case as INBOX', () => {
    expect(canonicalMailboxName('inbox')).toBe('INBOX');
    expect(canonicalMailboxName('InBoX/Sub')).toBe('INBOX/Sub');
    expect(canonicalMailboxName('inbox/inbox')).toBe('INBOX/inbox');
    expect(canonicalMailboxName('Archive/Inbox')).toBe('Archive/Inbox');
    expect(canonicalMailboxName('Inboxes')).toBe('Inboxes');
    // Dotless ı and long ſ upper-case to ASCII letters, but are not ASCII.
    expect(canonicalMailboxName('\u0131nbox')).toBe('\u0131nbox');
    expect(canonicalMailboxName('inbo\u017f')).toBe('inbo\u017f');
  });

  it('accepts ordinary names as they are', () => {
    for (const name of [
      'Sent',
      'Archive/2026',
      'a.b',
      '...',
      '.hidden',
      'a~b',
      'x/~y',
      'Tom & Jerry',
      '台北/日本語',
    ]) {
      expect(canonicalMailboxName(name)).toBe(name);
    }
  });

  it('property: never returns a name that could leave the directory, and is idempotent', () => {
    fc.assert(
      fc.property(anyName, (name) => {
        let canonical: string;
        try {
          canonical = canonicalMailboxName(name);
        } catch (error) {
          expect(error).toBeInstanceOf(InvalidMailboxNameError);
          return;
        }
        const components = canonical.split('/');
        expect(components).not.toContain('.');
        expect(components).not.toContain('..');
        expect(components).not.toContain('');
        expect(canonical.startsWith('/')).toBe(false);
        expect(canonical).not.toContain('\\');
        expect(canonical).not.toContain('\u0000');
        expect(canonical).toBe(canonical.normalize('NFC'));
        expect(canonicalMailboxName(canonical)).toBe(canonical);
      }),
      { numRuns: 2000 },
    );
  });

  it('property: names that differ only by NFC and NFD have one outcome', () => {
    fc.assert(
      fc.property(anyName, (name) => {
        expect(outcome(canonicalMailboxName, name.normalize('NFD'))).toBe(
          outcome(canonicalMailboxName, name),
        );
      }),
      { numRuns: 1000 },
    );
  });
});

describe('canonicalUserName', () => {
  it('case 23: fullwidth ａｄｍｉｎ logs in as admin', () => {
    expect(canonicalUserName('ａｄｍｉｎ')).toBe('admin');
    expect(canonicalUserName('ＡＤＭＩＮ')).toBe('admin');
    expect(canonicalUserName('ADMIN')).toBe('admin');
    expect(canonicalUserName('Admin')).toBe('admin');
  });

  it('maps width, case and normalisation as UsernameCaseMapped does', () => {
    expect(canonicalUserName('alice@example.com')).toBe('alice@example.com');
    expect(canonicalUserName('Alice@Example.COM')).toBe('alice@example.com');
    expect(canonicalUserName('ａｌｉｃｅ＠ｅｘａｍｐｌｅ．ｃｏｍ')).toBe('alice@example.com');
    // Halfwidth katakana with a halfwidth voiced mark compose to one character.
    expect(canonicalUserName('\uff76\uff9e')).toBe('\u30ac');
    expect(canonicalUserName('Cafe\u0301')).toBe('caf\u00e9');
    expect(canonicalUserName('CAF\u00c9')).toBe('caf\u00e9');
    // toLowerCase, not case folding: ß stays ß (RFC 8265 §3.3.1).
    expect(canonicalUserName('Fußball')).toBe('fußball');
    expect(canonicalUserName('π')).toBe('π');
    expect(canonicalUserName('a.b')).toBe('a.b');
  });

  it('refuses names that are empty, too long, hidden, or hold separators, spaces or controls', () => {
    const cases: [string, InvalidNameReason][] = [
      ['', 'empty'],
      ['a'.repeat(MAX_NAME_COMPONENT_OCTETS + 1), 'too-long'],
      ['é'.repeat(128), 'too-long'],
      ['.', 'dot-component'],
      ['..', 'dot-component'],
      ['.hidden', 'dot-component'],
      ['\uff0e\uff0e', 'dot-component'],
      ['a/b', 'forbidden-character'],
      ['../root', 'forbidden-character'],
      ['a\\b', 'forbidden-character'],
      ['a\uff0fb', 'forbidden-character'],
      ['a b', 'forbidden-character'],
      ['a\u3000b', 'forbidden-character'],
      ['a\u00a0b', 'forbidden-character'],
      ['ad\u200bmin', 'forbidden-character'],
      ['admin\u00ad', 'forbidden-character'],
      ['a\u0378', 'forbidden-character'],
      ['a\u0000', 'control-character'],
      ['a\tb', 'control-character'],
      ['a\u007f', 'control-character'],
      ['a\u2028', 'control-character'],
      ['\ufeffadmin', 'control-character'],
      ['\ud800', 'control-character'],
      ['\ufffe', 'control-character'],
    ];
    for (const [name, reason] of cases) expectRejected(canonicalUserName, name, reason);
    expect(canonicalUserName('a'.repeat(MAX_NAME_COMPONENT_OCTETS))).toBe(
      'a'.repeat(MAX_NAME_COMPONENT_OCTETS),
    );
  });

  it('property: the result is one path component and is idempotent', () => {
    fc.assert(
      fc.property(anyName, (name) => {
        let canonical: string;
        try {
          canonical = canonicalUserName(name);
        } catch (error) {
          expect(error).toBeInstanceOf(InvalidMailboxNameError);
          return;
        }
        expect(canonical).not.toBe('');
        expect(canonical.startsWith('.')).toBe(false);
        expect(canonical).not.toMatch(/[/\\\u0000]/);
        expect(canonicalUserName(canonical)).toBe(canonical);
        expect(canonicalUserName(canonical.normalize('NFD'))).toBe(canonical);
      }),
      { numRuns: 2000 },
    );
  });
});

describe('parentNames and isInbox', () => {
  it('lists the ancestors of a name, outermost first', () => {
    expect(parentNames('a/b/c')).toEqual(['a', 'a/b']);
    expect(parentNames('INBOX/Sub')).toEqual(['INBOX']);
    expect(parentNames('INBOX')).toEqual([]);
  });

  it('recognises INBOX in any ASCII case only', () => {
    expect(isInbox('INBOX')).toBe(true);
    expect(isInbox('inbox')).toBe(true);
    expect(isInbox('InBox')).toBe(true);
    expect(isInbox('INBOX/Sub')).toBe(false);
    expect(isInbox('\u0131nbox')).toBe(false);
    expect(isInbox('ＩＮＢＯＸ')).toBe(false);
  });
});
