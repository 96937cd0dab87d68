import { describe, expect, it } from 'vitest';
import { apopDigest, parseApopTimestamp } from '../../src/protocol/apop.js';

describe('APOP', () => {
  it("computes RFC 1939's example digest", () => {
    const timestamp = parseApopTimestamp('POP3 server ready <1896.697170952@dbc.mtview.ca.us>');
    expect(timestamp).toBe('<1896.697170952@dbc.mtview.ca.us>');
    expect(apopDigest(timestamp!, 'tanstaaf')).toBe('c4c9334bac560ecc979e58001b3e22fb');
  });

  it("finds Dovecot's timestamp, and none where there is none", () => {
    expect(parseApopTimestamp('Dovecot ready. <6775.2.6b054dee.0eOfgYe3aCHQLQxWLpeOCg==@vm>')).toBe(
      '<6775.2.6b054dee.0eOfgYe3aCHQLQxWLpeOCg==@vm>',
    );
    for (const greeting of ['ready', 'ready <>', 'ready <a b@c>', '<unterminated@x']) {
      expect(parseApopTimestamp(greeting)).toBeUndefined();
    }
  });
});
