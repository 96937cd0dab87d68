import { describe, expect, it } from 'vitest';
import { apopDigest } from '../../src/protocol/apop.js';
import { apopChallenge, verifyApopDigest } from '../../src/server/apop.js';

describe('APOP on the server', () => {
  it("RFC 1939 §7's example digest", () => {
    const challenge = '<1896.697170952@dbc.mtview.ca.us>';
    expect(verifyApopDigest(challenge, 'tanstaaf', 'c4c9334bac560ecc979e58001b3e22fb')).toBe(true);
    expect(verifyApopDigest(challenge, 'tanstaaf', 'C4C9334BAC560ECC979E58001B3E22FB')).toBe(true);
  });

  it('case 28: refuses a wrong digest, and an unknown user whatever the digest', () => {
    const challenge = apopChallenge('pop.test');
    expect(verifyApopDigest(challenge, 'secret', apopDigest(challenge, 'other'))).toBe(false);
    expect(verifyApopDigest(challenge, 'secret', apopDigest('<1.2@pop.test>', 'secret'))).toBe(false);
    expect(verifyApopDigest(challenge, undefined, apopDigest(challenge, ''))).toBe(false);
    expect(verifyApopDigest(challenge, undefined, apopDigest(challenge, 'undefined'))).toBe(false);
  });

  it('makes a fresh challenge for every greeting', () => {
    const challenges = new Set(Array.from({ length: 50 }, () => apopChallenge('pop.test')));
    expect(challenges.size).toBe(50);
    for (const challenge of challenges) expect(challenge).toMatch(/^<[0-9a-f]{24}\.\d+@pop\.test>$/);
  });
});
