import { createHash } from 'node:crypto';
import { parseDkimSignature, parseDmarcRecord, verifyDkim } from '@postwire/mailauth';
import { describe, expect, it } from 'vitest';
import { keyRecord, rsaKey, zoneResolver } from './keys.js';

// Inputs that a regular expression anchored at the end, or a scan of every field per signed name, would take
// quadratic time on: each would run for minutes at this size; in linear time each takes milliseconds.
const resolver = zoneResolver({ 's._domainkey.example.com': [keyRecord(rsaKey(1024))] });
const bodyHash = createHash('sha256').update('body\r\n').digest('base64');

describe('hostile DKIM input, read in linear time', () => {
  it('a field name with a long run of white space inside it', async () => {
    const message =
      `DKIM-Signature: v=1; a=rsa-sha256; c=relaxed/relaxed; d=example.com; s=s; h=from:x; bh=${bodyHash}; b=AAAA\r\n` +
      `X${' '.repeat(400_000)}y: z\r\nFrom: a@example.com\r\n\r\nbody\r\n`;
    const [result] = await verifyDkim(message, { resolver });
    expect([result!.result, result!.reason]).toEqual(['fail', 'signature did not verify']);
  });

  it('an h= of 80,000 names the message lacks, over 40,000 fields', async () => {
    const names = Array.from({ length: 80_000 }, (_, i) => `n${i}`).join(':');
    const fields = Array.from({ length: 40_000 }, (_, i) => `f${i}: v\r\n`).join('');
    const message =
      `DKIM-Signature: v=1; a=rsa-sha256; d=example.com; s=s; h=from:${names}; bh=${bodyHash}; b=AAAA\r\n` +
      `${fields}From: a@example.com\r\n\r\nbody\r\n`;
    const [result] = await verifyDkim(message, { resolver });
    expect([result!.result, result!.reason]).toEqual(['fail', 'signature did not verify']);
  });

  it('tag values and lists with long runs of folding white space', () => {
    const spaces = ' \t'.repeat(200_000);
    const signature = `v=1; a=rsa-sha256; b=AAAA; bh=AAAA; d=example.com; s=s; h=from:${spaces}x:to`;
    const parsed = parseDkimSignature(signature);
    expect(parsed.ok && parsed.signature.signedHeaders).toEqual(['from', 'x', 'to']);
    const record = parseDmarcRecord(`v=DMARC1; p=none; rua=mailto:a@example.com,${spaces}x`);
    expect(record.ok && record.record.aggregateReportUris.length).toBe(1);
  });
});
