import { describe, expect, it } from 'vitest';
import { REDACTED, type TraceEvent, Tracer } from '../src/index.js';
import { bytes } from './support/bytes.js';

function collect(role: 'client' | 'server') {
  const events: TraceEvent[] = [];
  return { events, tracer: new Tracer((event) => events.push(event), role) };
}

describe('Tracer', () => {
  it('is disabled without a hook and then does nothing', () => {
    const tracer = new Tracer(undefined, 'client');
    expect(tracer.enabled).toBe(false);
    tracer.sent('AUTH PLAIN AGFsaWNlAHNlY3JldA==');
  });

  it('strips the line ending and accepts bytes', () => {
    const { events, tracer } = collect('client');
    tracer.received(bytes('220 mx.example ESMTP\r\n'));
    tracer.sent('EHLO me\n');
    expect(events).toEqual([
      { direction: 'in', line: '220 mx.example ESMTP' },
      { direction: 'out', line: 'EHLO me' },
    ]);
  });

  describe('case 48: credentials never reach the trace', () => {
    const secretLines: [string, string][] = [
      ['AUTH PLAIN AGFsaWNlAHNlY3JldA==', `AUTH PLAIN ${REDACTED}`],
      ['auth login YWxpY2U=', `auth login ${REDACTED}`],
      ['A1 AUTHENTICATE PLAIN AGFsaWNlAHNlY3JldA==', `A1 AUTHENTICATE PLAIN ${REDACTED}`],
      ['a LOGIN u p', `a LOGIN ${REDACTED}`],
      ['a2 login "alice" "pass word"', `a2 login ${REDACTED}`],
      ['PASS x', `PASS ${REDACTED}`],
      ['APOP mrose c4c9334bac560ecc979e58001b3e22fb', `APOP mrose ${REDACTED}`],
    ];
    for (const [line, expected] of secretLines) {
      it(`client side: ${expected}`, () => {
        const { events, tracer } = collect('client');
        tracer.sent(`${line}\r\n`);
        expect(events).toEqual([{ direction: 'out', line: expected }]);
      });
      it(`server side: ${expected}`, () => {
        const { events, tracer } = collect('server');
        tracer.received(line);
        expect(events).toEqual([{ direction: 'in', line: expected }]);
      });
    }

    it('redacts the client line after an SMTP 334 challenge, and only that one', () => {
      const { events, tracer } = collect('client');
      tracer.sent('AUTH LOGIN');
      tracer.received('334 VXNlcm5hbWU6');
      tracer.sent('YWxpY2U=');
      tracer.received('334 UGFzc3dvcmQ6');
      tracer.sent('c2VjcmV0');
      tracer.received('235 2.7.0 Authentication successful');
      tracer.sent('MAIL FROM:<alice@example.org>');
      expect(events.map((event) => event.line)).toEqual([
        'AUTH LOGIN',
        '334 VXNlcm5hbWU6',
        REDACTED,
        '334 UGFzc3dvcmQ6',
        REDACTED,
        '235 2.7.0 Authentication successful',
        'MAIL FROM:<alice@example.org>',
      ]);
    });

    it('redacts the response to an IMAP or POP3 "+" continuation on the server side', () => {
      const { events, tracer } = collect('server');
      tracer.received('A1 AUTHENTICATE PLAIN');
      tracer.sent('+ ');
      tracer.received('AGFsaWNlAHNlY3JldA==');
      tracer.sent('+OK maildrop ready');
      tracer.received('STAT');
      expect(events.map((event) => event.line)).toEqual([
        'A1 AUTHENTICATE PLAIN',
        '+ ',
        REDACTED,
        '+OK maildrop ready',
        'STAT',
      ]);
    });

    it('keeps a client abort "*" visible', () => {
      const { events, tracer } = collect('client');
      tracer.received('+');
      tracer.sent('*');
      expect(events[1]).toEqual({ direction: 'out', line: '*' });
    });

    it('redacts a line the protocol marks as secret', () => {
      const { events, tracer } = collect('client');
      tracer.redactNextClientLine();
      tracer.sent('secret-literal-content');
      tracer.sent('NOOP');
      expect(events.map((event) => event.line)).toEqual([REDACTED, 'NOOP']);
    });

    it('leaves ordinary commands alone and applies custom rules', () => {
      const { events, tracer } = collect('client');
      tracer.sent('A3 SELECT INBOX');
      tracer.sent('USER alice');
      expect(events.map((event) => event.line)).toEqual(['A3 SELECT INBOX', 'USER alice']);
      const custom: TraceEvent[] = [];
      const strict = new Tracer((event) => custom.push(event), 'client', [
        (line) => (line.startsWith('USER ') ? `USER ${REDACTED}` : undefined),
      ]);
      strict.sent('USER alice');
      expect(custom[0]?.line).toBe(`USER ${REDACTED}`);
    });
  });
});
