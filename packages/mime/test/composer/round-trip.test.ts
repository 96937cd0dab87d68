import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { type ComposeOptions, composeMessage, type Mailbox, parseMessageSync } from '../../src/index.js';

/** Printable text without control characters; any Unicode, including astral characters. */
const anyText = fc
  .string({ unit: 'grapheme', minLength: 1, maxLength: 60 })
  .map((text) => text.replace(/[\u0000-\u001f\u007f-\u009f\u2028\u2029]/g, ' ').trim())
  .filter((text) => text !== '');
const headerText = anyText;
/** A display name: an `@` or `<` in one is flagged by the parser as a possible spoof (case 33), by design. */
const displayName = anyText.filter((text) => !/[@<>]/.test(text));

const atom = fc.stringMatching(/^[a-z0-9][a-z0-9._+-]{0,15}[a-z0-9]$/).filter((text) => !text.includes('..'));
const domain = fc.constantFrom(
  'example.com',
  'mail.example.org',
  'xn--mnchen-3ya.example',
  'sub.domain.test',
);
const mailbox = fc
  .record({ name: fc.oneof(fc.constant(''), displayName), local: atom, domain })
  .map(({ name, local, domain }): Mailbox => ({ name, address: `${local}@${domain}` }));

/** Body text with any line breaks; the composer sends them as CRLF. */
const bodyText = fc.string({ unit: 'grapheme', maxLength: 400 }).map((text) => text.replace(/\u0000/g, ''));

const attachment = fc.record({
  content: fc.uint8Array({ maxLength: 3000 }),
  filename: headerText.map((name) => `${name.replace(/[\\/"]/g, '_')}.bin`),
});

const messages = fc.record(
  {
    from: mailbox,
    to: fc.array(mailbox, { minLength: 1, maxLength: 4 }),
    cc: fc.array(mailbox, { maxLength: 3 }),
    subject: headerText,
    text: bodyText,
    html: fc.option(
      bodyText.map((text) => `<p>${text}</p>`),
      { nil: undefined },
    ),
    attachments: fc.array(attachment, { maxLength: 3 }),
    smtputf8: fc.boolean(),
    eightBit: fc.boolean(),
  },
  { requiredKeys: ['from', 'to', 'cc', 'subject', 'text', 'attachments', 'smtputf8', 'eightBit'] },
);

const crlf = (text: string) => text.replace(/\r\n|\r|\n/g, '\r\n');
const plain = (list: readonly { name: string; address: string }[]) =>
  list.map(({ name, address }) => ({ name, address }));

describe('compose then parse', () => {
  it('property: parseMessage(composeMessage(m)) gives back the fields, bodies and every attachment byte', async () => {
    await fc.assert(
      fc.asyncProperty(messages, async (input) => {
        const options: ComposeOptions = { ...input, html: input.html };
        const composed = composeMessage(options);
        const parsed = parseMessageSync(await composed.bytes());
        expect(parsed.defects).toEqual([]);
        expect(plain(parsed.from as Mailbox[])).toEqual([input.from]);
        expect(plain(parsed.to as Mailbox[])).toEqual(input.to);
        expect(plain(parsed.cc as Mailbox[])).toEqual(input.cc);
        expect(parsed.subject).toBe(input.subject);
        expect(`<${parsed.messageId}>`).toBe(composed.messageId);
        expect(crlf(parsed.text ?? '')).toBe(crlf(input.text));
        if (input.html !== undefined) expect(crlf(parsed.html ?? '')).toBe(crlf(input.html));
        expect(parsed.attachments.map((a) => ({ filename: a.filename, content: a.content }))).toEqual(
          input.attachments.map((a) => ({ filename: a.filename, content: a.content })),
        );
      }),
      { numRuns: 150 },
    );
  });
});
