import { createSaslServer } from '@postwire/sasl';
import { createMemoryStore } from '@postwire/store';
import { describe, expect, it } from 'vitest';
import { testCertificates } from '../../../core/test/support/certs.js';
import { createPop3Client } from '../../src/node/client.js';
import { createPop3Server } from '../../src/node/server.js';

describe('POP3 AUTH EXTERNAL with a client certificate', () => {
  it('logs in as the user a verified certificate names, and is offered to no one else', async () => {
    const { cert, key, ca } = testCertificates();
    const server = createPop3Server({
      hostname: 'pop.postwire.test',
      host: '127.0.0.1',
      port: 0,
      store: createMemoryStore(),
      sasl: createSaslServer({ verifiers: { external: (identity) => identity === 'localhost' && 'alice' } }),
      // Certificates are asked for, not required: a client without one is simply not offered EXTERNAL.
      startTls: { cert, key, ca, requestCert: true, rejectUnauthorized: false },
    });
    const { port } = await server.listen();
    const lines: string[] = [];
    const connect = (tls: { ca: string; cert?: string; key?: string }) =>
      createPop3Client({
        host: '127.0.0.1',
        port,
        starttls: 'required',
        tls: { ...tls, servername: 'localhost' },
        auth: { external: true },
        trace: (event) => lines.push(`${event.direction} ${event.line}`),
      });
    try {
      const client = await connect({ ca, cert, key });
      expect(lines).toContain('in SASL EXTERNAL');
      expect(lines).toContain('out AUTH EXTERNAL [redacted]');
      expect(await client.stat()).toEqual({ messages: 0, size: 0 });
      await client.quit();
      lines.length = 0;
      await expect(connect({ ca })).rejects.toThrow();
      expect(lines.some((line) => /^out AUTH/.test(line))).toBe(false);
      expect(lines.some((line) => /^in SASL/.test(line))).toBe(false);
    } finally {
      await server.close();
    }
  });
});
