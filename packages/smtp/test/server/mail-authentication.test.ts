import type { MessageAuthentication, SpfCheck } from '@postwire/mailauth';
import { describe, expect, it } from 'vitest';
import {
  authenticatedMessage,
  refuseDmarcReject,
  refuseSpfFail,
  spamHeaders,
} from '../../src/server/mail-authentication.js';
import { SmtpServerSession } from '../../src/server/session.js';
import { decoder, encoder } from './driver.js';

const FIELD = 'Authentication-Results: mx.test; dkim=none\r\n';
const RECEIVED = encoder.encode('Received: from a by mx.test; Thu, 1 Jan 2026 00:00:00 +0000\r\n');

function assemble(message: string, removeSpamFields = false, received: Uint8Array | null = RECEIVED): string {
  return decoder.decode(
    authenticatedMessage(FIELD, received ?? undefined, encoder.encode(message), 'mx.test', removeSpamFields),
  );
}

describe('authenticatedMessage', () => {
  it('puts the field above Received, and keeps a message with nothing to remove as it is', () => {
    const message = 'From: a@example.com\r\n\r\nAuthentication-Results: mx.test; in the body\r\n';
    expect(assemble(message)).toBe(`${FIELD}${decoder.decode(RECEIVED)}${message}`);
    expect(assemble(message, false, null)).toBe(`${FIELD}${message}`);
  });

  it('removes every field claiming our authserv-id, folded or not, whatever its case, with its line end', () => {
    const message =
      'Authentication-Results: MX.TEST; spf=pass\r\n' +
      'From: a@example.com\r\n' +
      'Authentication-Results: other.test; spf=pass\r\n' +
      'Authentication-Results:\r\n mx.test;\r\n dkim=pass\r\n' +
      'Subject: s\r\n' +
      'Authentication-Results: mx.test; none\r\n' +
      '\r\n' +
      'Authentication-Results: mx.test; in the body\r\n';
    expect(assemble(message, false, null)).toBe(
      `${FIELD}From: a@example.com\r\nAuthentication-Results: other.test; spf=pass\r\nSubject: s\r\n\r\n` +
        'Authentication-Results: mx.test; in the body\r\n',
    );
  });

  it('reads bare LF line ends, a header without a body, and removes spam fields when asked', () => {
    expect(
      assemble('X-Spam-Flag: NO\nAuthentication-Results: mx.test; none\nFrom: a@b\n\nbody\n', true, null),
    ).toBe(`${FIELD}From: a@b\n\nbody\n`);
    expect(
      assemble(
        'From: a@b\r\nX-Spam-Score: -10\r\nX-Spam-Level: \r\nAuthentication-Results: mx.test; none',
        true,
        null,
      ),
    ).toBe(`${FIELD}From: a@b\r\n`);
    expect(assemble('X-Spam-Flag: NO\r\n\r\n', false, null)).toBe(`${FIELD}X-Spam-Flag: NO\r\n\r\n`);
  });

  it('finds a forged field behind many others', () => {
    const filler = 'X-Filler: x\r\n'.repeat(2000);
    expect(assemble(`${filler}Authentication-Results: mx.test; spf=pass\r\n\r\nb`, false, null)).toBe(
      `${FIELD}${filler}\r\nb`,
    );
  });
});

describe('spamHeaders', () => {
  it('writes what SpamAssassin writes for spam', () => {
    expect(spamHeaders({ spam: true, score: 6.04, required: 5, tests: ['BAYES_99', 'URIBL_BLACK'] })).toBe(
      'X-Spam-Flag: YES\r\n' +
        'X-Spam-Score: 6.0\r\n' +
        'X-Spam-Level: ******\r\n' +
        'X-Spam-Status: Yes, score=6.0 required=5.0 tests=BAYES_99,URIBL_BLACK\r\n',
    );
  });

  it('writes no flag nor level for ham under one point, and tests=none for no tests', () => {
    expect(spamHeaders({ spam: false, score: -0.5, tests: [] })).toBe(
      'X-Spam-Score: -0.5\r\nX-Spam-Status: No, score=-0.5 tests=none\r\n',
    );
    expect(spamHeaders({ spam: false })).toBe('X-Spam-Status: No,\r\n');
  });

  it('caps the level at 50 stars, and folds the tests at their commas', () => {
    const tests = Array.from({ length: 12 }, (_, index) => `RULE_NUMBER_${index}`);
    const fields = spamHeaders({ spam: true, score: 120, tests, headers: { 'X-Spam-Report': 'see logs' } });
    expect(fields).toContain(`X-Spam-Level: ${'*'.repeat(50)}\r\n`);
    const status = /X-Spam-Status: [\s\S]*?\r\n(?!\t)/.exec(fields)![0];
    expect(status.split('\r\n').every((line) => line.length <= 78)).toBe(true);
    expect(status).toContain(',\r\n\tRULE_NUMBER_');
    expect(status.replace(/\r\n\t/g, '')).toContain(`tests=${tests.join(',')}`);
    expect(fields.endsWith('X-Spam-Report: see logs\r\n')).toBe(true);
  });

  it.each([
    [{ spam: true, score: Number.NaN }, /score must be a finite number/],
    [{ spam: true, required: Number.POSITIVE_INFINITY }, /required must be a finite number/],
    [{ spam: true, tests: ['A B'] }, /test name "A B" is not valid/],
    [{ spam: true, headers: { 'X-Bad: name': 'v' } }, /is not a header field name/],
    [{ spam: true, headers: { 'X-Injected': 'v\r\nBcc: x@y' } }, /line break or control character/],
  ])('refuses a verdict it cannot write: %j', (verdict, message) => {
    expect(() => spamHeaders(verdict)).toThrow(message);
  });
});

describe('refuseSpfFail and refuseDmarcReject', () => {
  const check = (more: Partial<SpfCheck>): SpfCheck => ({
    result: 'fail',
    identity: 'mailfrom',
    domain: 'bank.example',
    sender: 'ceo@bank.example',
    lookups: 0,
    voidLookups: 0,
    ...more,
  });

  it('refuses SPF fail with 550 5.7.23 and a printable explanation, and nothing else', () => {
    expect(refuseSpfFail(check({ explanation: 'See https://bank.example/spf' }))).toEqual({
      code: 550,
      enhancedCode: '5.7.23',
      lines: ['See https://bank.example/spf'],
    });
    expect(refuseSpfFail(check({ explanation: 'evil\r\n250 OK' }))?.lines).toEqual([
      'SPF of bank.example does not allow this client to send for it',
    ]);
    for (const result of ['pass', 'softfail', 'neutral', 'none', 'temperror', 'permerror'] as const) {
      expect(refuseSpfFail(check({ result }))).toBeUndefined();
    }
  });

  it('refuses a DMARC reject disposition only', () => {
    const auth = (disposition: 'none' | 'quarantine' | 'reject') =>
      ({ dmarc: { disposition, fromDomain: 'bank.example' } }) as MessageAuthentication;
    expect(refuseDmarcReject(auth('reject'))?.enhancedCode).toBe('5.7.1');
    expect(refuseDmarcReject(auth('quarantine'))).toBeUndefined();
    expect(refuseDmarcReject(auth('none'))).toBeUndefined();
  });
});

describe('SmtpServerSession message-data', () => {
  it('marks its own Received header as trace, apart from the client bytes, for DATA and BDAT', () => {
    const session = new SmtpServerSession({ hostname: 'mx.test', remoteAddress: '192.0.2.1' });
    const traced: [boolean, string][] = [];
    const run = (input: string) => {
      session.receive(encoder.encode(input));
      for (let event = session.next(); event; event = session.next()) {
        if (event.type === 'message-data') traced.push([event.trace === true, decoder.decode(event.data)]);
        else if (event.type !== 'write' && event.type !== 'close') session.respond();
      }
    };
    run('EHLO c\r\n');
    run('MAIL FROM:<a@b>\r\nRCPT TO:<c@d>\r\nDATA\r\n');
    run('Subject: x\r\n\r\nhi\r\n.\r\n');
    run('MAIL FROM:<a@b>\r\nRCPT TO:<c@d>\r\nBDAT 4 LAST\r\nhi\r\n');
    expect(traced.filter(([trace]) => trace).map(([, text]) => text.slice(0, 9))).toEqual([
      'Received:',
      'Received:',
    ]);
    expect(traced.map(([trace, text]) => (trace ? '<trace>' : text)).join('')).toBe(
      '<trace>Subject: x\r\n\r\nhi\r\n<trace>hi\r\n',
    );
  });
});
