import { InvalidArgumentError } from '@postwire/core';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { SmtpExtensionError } from '../../src/client/errors.js';
import { describeMessage, planTransaction, type SmtpSendEnvelope } from '../../src/client/transaction.js';
import { parseEhloReply, type SmtpCapabilities } from '../../src/protocol/capabilities.js';
import { parseCommand, serializeCommand } from '../../src/protocol/command.js';

function capabilities(...keywords: string[]): SmtpCapabilities {
  return parseEhloReply({ code: 250, lines: ['mx.test', ...keywords] });
}

const FULL = capabilities(
  'PIPELINING',
  'SIZE 1000',
  '8BITMIME',
  'SMTPUTF8',
  'DSN',
  'CHUNKING',
  'BINARYMIME',
  'REQUIRETLS',
);
const ENVELOPE: SmtpSendEnvelope = { from: 'a@x.test', to: ['b@y.test'] };

describe('planTransaction', () => {
  it('writes the parameters the message needs, and nothing more', () => {
    const plan = planTransaction(ENVELOPE, { size: 10, eightBit: false }, FULL, false);
    expect(serializeCommand(plan.mail)).toBe('MAIL FROM:<a@x.test> SIZE=10');
    expect(plan.recipients.map((command) => serializeCommand(command))).toEqual(['RCPT TO:<b@y.test>']);
    expect(plan.chunking).toBe(true);
    const eightBit = planTransaction(ENVELOPE, { size: 10, eightBit: true }, FULL, false);
    expect(serializeCommand(eightBit.mail)).toBe('MAIL FROM:<a@x.test> SIZE=10 BODY=8BITMIME');
  });

  it('asks for 8BITMIME for content it cannot see, when offered', () => {
    expect(planTransaction(ENVELOPE, {}, FULL, false).mail.parameters.body).toBe('8BITMIME');
    expect(
      planTransaction(ENVELOPE, {}, capabilities('PIPELINING'), false).mail.parameters.body,
    ).toBeUndefined();
  });

  it('sends the null reverse path for bounces', () => {
    for (const from of [null, '']) {
      expect(
        serializeCommand(planTransaction({ from, to: ['b@y.test'] }, {}, capabilities(), false).mail),
      ).toBe('MAIL FROM:<>');
    }
  });

  it('writes DSN parameters that the server reads back as given', () => {
    const plan = planTransaction(
      { ...ENVELOPE, dsn: { ret: 'FULL', envid: 'QQ 314+', notify: ['SUCCESS', 'FAILURE'], orcpt: true } },
      {},
      FULL,
      false,
    );
    const mail = parseCommand(serializeCommand(plan.mail));
    expect(mail).toMatchObject({ parameters: { ret: 'FULL', envid: 'QQ 314+' } });
    const rcpt = parseCommand(serializeCommand(plan.recipients[0]!));
    expect(rcpt).toMatchObject({
      parameters: { notify: ['SUCCESS', 'FAILURE'], orcpt: { type: 'rfc822', address: 'b@y.test' } },
    });
  });

  it('names the extension a message needs and the server lacks', () => {
    const bare = capabilities('PIPELINING', 'SIZE 100');
    const cases: [
      SmtpSendEnvelope,
      Parameters<typeof planTransaction>[1],
      SmtpCapabilities,
      boolean,
      string,
    ][] = [
      [ENVELOPE, { size: 101 }, bare, false, 'SIZE'],
      [ENVELOPE, { eightBit: true }, bare, false, '8BITMIME'],
      [ENVELOPE, { binary: true }, capabilities('8BITMIME'), false, 'BINARYMIME'],
      [ENVELOPE, { utf8Headers: true }, bare, false, 'SMTPUTF8'],
      [{ from: 'a@x.test', to: ['zoë@y.test'] }, {}, bare, false, 'SMTPUTF8'],
      [{ ...ENVELOPE, dsn: { notify: ['NEVER'] } }, {}, bare, false, 'DSN'],
      [{ ...ENVELOPE, requireTls: true }, {}, FULL, false, 'REQUIRETLS'],
      [{ ...ENVELOPE, requireTls: true }, {}, capabilities('8BITMIME'), true, 'REQUIRETLS'],
    ];
    for (const [envelope, facts, offered, secure, extension] of cases) {
      const attempt = () => planTransaction(envelope, facts, offered, secure);
      expect(attempt).toThrow(SmtpExtensionError);
      expect(() => attempt()).toThrow(expect.objectContaining({ extension }));
    }
    expect(
      planTransaction({ ...ENVELOPE, requireTls: true }, {}, FULL, true).mail.parameters.requireTls,
    ).toBe(true);
  });

  it('sends a binary message as BINARYMIME with BDAT', () => {
    const plan = planTransaction(ENVELOPE, { binary: true }, FULL, false);
    expect(plan.binary).toBe(true);
    expect(plan.mail.parameters.body).toBe('BINARYMIME');
  });

  it('case 31: refuses any address holding CR, LF, NUL, < or >', () => {
    fc.assert(
      fc.property(
        fc.string({ maxLength: 10 }),
        fc.constantFrom('\r', '\n', '\0', '<', '>', '\r\n'),
        fc.string({ maxLength: 10 }),
        fc.boolean(),
        (before, bad, after, inSender) => {
          const address = `${before}${bad}${after}@x.test`;
          const envelope = inSender
            ? { from: address, to: ['b@y.test'] }
            : { from: 'a@x.test', to: [address] };
          expect(() => planTransaction(envelope, {}, FULL, false)).toThrow(InvalidArgumentError);
        },
      ),
    );
  });

  it('refuses an envelope without recipients', () => {
    expect(() => planTransaction({ from: 'a@x.test', to: [] }, {}, FULL, false)).toThrow(
      InvalidArgumentError,
    );
  });
});

describe('describeMessage', () => {
  it('finds 8-bit bytes, NUL, and raw UTF-8 in the header section only', () => {
    const encode = (text: string) => new TextEncoder().encode(text);
    expect(describeMessage(encode('Subject: café\r\n\r\nbody'))).toEqual({
      size: 22,
      eightBit: true,
      binary: false,
      utf8Headers: true,
    });
    expect(describeMessage(encode('Subject: x\r\n\r\ncafé'))).toMatchObject({
      eightBit: true,
      utf8Headers: false,
    });
    expect(describeMessage(encode('Subject: x\n\ncafé\0'))).toMatchObject({
      binary: true,
      utf8Headers: false,
    });
  });

  it('says 8-bit exactly when a byte is above 127, and binary exactly when one is NUL', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 200 }), (bytes) => {
        const facts = describeMessage(bytes);
        expect(facts.size).toBe(bytes.length);
        expect(facts.eightBit).toBe(bytes.some((byte) => byte >= 0x80));
        expect(facts.binary).toBe(bytes.includes(0));
        if (facts.utf8Headers) expect(facts.eightBit).toBe(true);
      }),
    );
  });
});
