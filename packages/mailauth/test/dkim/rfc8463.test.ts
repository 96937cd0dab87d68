import { signDkim, verifyDkim } from '@postwire/mailauth';
import { describe, expect, it } from 'vitest';
import { zoneResolver } from './keys.js';

// RFC 8463 Appendix A: the keys (A.1, A.2) and the message signed with both (A.3), byte for byte, the
// RFC's three-space indentation of folded lines read as one space. The Ed25519 key is RFC 8032's TEST 1.
const ED25519_SEED = 'nWGxne/9WmC6hEr0kuwsxERJxWl7MmkZcDusAxyuf2A=';
const zone = {
  'brisbane._domainkey.football.example.com': [
    'v=DKIM1; k=ed25519; p=11qYAYKxCrfVS/7TyWQHOg7hcvPapiMlrwIaaPcHURo=',
  ],
  'test._domainkey.football.example.com': [
    'v=DKIM1; k=rsa; p=MIGfMA0GCSqGSIb3DQEBAQUAA4GNADCBiQKBgQDkHlOQoBTzWRiGs5V6NpP3idY6Wk08a5qhdR6wy5bdOKb2jLQiY/J16JYi0Qvx/byYzCNb3W91y3FutACDfzwQ/BC/e/8uBsCR+yz1Lxj+PL6lHvqMKrM3rG4hstT5QjvHO9PzoxZyVYLzBfO2EeC3Ip3G+2kryOTIKT+l/K4w3QIDAQAB',
  ],
};
const HEADER_AND_BODY = [
  'From: Joe SixPack <joe@football.example.com>',
  'To: Suzie Q <suzie@shopping.example.net>',
  'Subject: Is dinner ready?',
  'Date: Fri, 11 Jul 2003 21:00:37 -0700 (PDT)',
  'Message-ID: <20030712040037.46341.5F8J@football.example.com>',
  '',
  'Hi.',
  '',
  'We lost the game.  Are you hungry yet?',
  '',
  'Joe.',
  '',
];
const SIGNATURES = [
  'DKIM-Signature: v=1; a=ed25519-sha256; c=relaxed/relaxed;',
  ' d=football.example.com; i=@football.example.com;',
  ' q=dns/txt; s=brisbane; t=1528637909; h=from : to :',
  ' subject : date : message-id : from : subject : date;',
  ' bh=2jUSOH9NhtVGCQWNr9BrIAPreKQjO6Sn7XIkfJVOzv8=;',
  ' b=/gCrinpcQOoIfuHNQIbq4pgh9kyIK3AQUdt9OdqQehSwhEIug4D11Bus',
  ' Fa3bT3FY5OsU7ZbnKELq+eXdp1Q1Dw==',
  'DKIM-Signature: v=1; a=rsa-sha256; c=relaxed/relaxed;',
  ' d=football.example.com; i=@football.example.com;',
  ' q=dns/txt; s=test; t=1528637909; h=from : to : subject :',
  ' date : message-id : from : subject : date;',
  ' bh=2jUSOH9NhtVGCQWNr9BrIAPreKQjO6Sn7XIkfJVOzv8=;',
  ' b=F45dVWDfMbQDGHJFlXUNB2HKfbCeLRyhDXgFpEL8GwpsRe0IeIixNTe3',
  ' DhCVlUrSjV4BwcVcOF6+FF3Zo9Rpo1tFOeS9mPYQTnGdaSGsgeefOsk2Jz',
  ' dA+L10TeYt9BgDfQNZtKdN1WO//KgIqXP7OdEFE4LjFYNcUxZQ4FADY+8=',
];
const MESSAGE = [...SIGNATURES, ...HEADER_AND_BODY].join('\r\n');

describe('RFC 8463 Appendix A', () => {
  it('verifies both signatures of the example message', async () => {
    const results = await verifyDkim(MESSAGE, { resolver: zoneResolver(zone) });
    expect(results.map((result) => [result.result, result.signature?.algorithm, result.keyBits])).toEqual([
      ['pass', 'ed25519-sha256', undefined],
      ['pass', 'rsa-sha256', 1024],
    ]);
  });

  it('signs with the example Ed25519 key: the same body hash, and a signature that verifies', async () => {
    const body = HEADER_AND_BODY.join('\r\n');
    const fields = await signDkim(
      body,
      {
        domain: 'football.example.com',
        selector: 'brisbane',
        privateKey: ED25519_SEED,
        algorithm: 'ed25519-sha256',
        identity: '@football.example.com',
      },
      { now: () => 1528637909 * 1000 },
    );
    expect(fields.replace(/\r\n\t/g, ' ')).toContain('bh=2jUSOH9NhtVGCQWNr9BrIAPreKQjO6Sn7XIkfJVOzv8=;');
    const [result] = await verifyDkim(fields + body, { resolver: zoneResolver(zone) });
    expect(result!.result).toBe('pass');
  });
});
