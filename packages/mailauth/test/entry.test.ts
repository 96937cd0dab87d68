import { formatAuthenticationResults, parseAuthenticationResults, parseTagList } from '@postwire/mailauth';
import { describe, expect, it } from 'vitest';

describe('@postwire/mailauth entry point', () => {
  it('exports the DKIM grammar and Authentication-Results together', () => {
    const tags = parseTagList('v=1; d=example.com');
    expect(tags.ok && [...tags.tags.keys()]).toEqual(['v', 'd']);
    const text = formatAuthenticationResults({
      authservId: 'mx.example.org',
      results: [
        {
          method: 'dkim',
          result: 'pass',
          properties: [{ type: 'header', property: 'd', value: 'example.com' }],
        },
      ],
    });
    const parsed = parseAuthenticationResults(text);
    expect(parsed.ok && parsed.value.results[0]?.result).toBe('pass');
  });
});
