import { createSaslServer } from '@postwire/sasl';
import { createMemoryStore } from '@postwire/store';
import { describe, expect, it } from 'vitest';
import { testCertificates } from '../../../core/test/support/certs.js';
import { createImapClient } from '../../src/node/client.js';
import { createImapServer } from '../../src/node/server.js';

describe('SCRAM-PLUS with every mechanism on', () => {
  it.each([false, true])(
    'is advertised where AUTHENTICATE takes it (implicit TLS: %s), so a channel-binding client logs in',
    async (implicit) => {
      const { cert, key, ca } = testCertificates();
      const server = createImapServer({
        host: '127.0.0.1',
        port: 0,
        store: createMemoryStore(),
        sasl: createSaslServer({
          verifiers: { lookupPassword: (name) => (name === 'alice' ? 'pw' : undefined) },
        }),
        ...(implicit ? { tls: { cert, key } } : { startTls: { cert, key } }),
      });
      const { port } = await server.listen();
      const lines: string[] = [];
      try {
        const client = await createImapClient({
          host: '127.0.0.1',
          port,
          ...(implicit ? { secure: true } : { starttls: 'required' as const }),
          tls: { ca, servername: 'localhost' },
          auth: { username: 'alice', password: 'pw' },
          trace: (event) => lines.push(`${event.direction} ${event.line}`),
        });
        expect(lines.find((line) => / AUTHENTICATE /.test(line))).toMatch(/AUTHENTICATE SCRAM-SHA-256-PLUS/);
        await client.logout();
      } finally {
        await server.close();
      }
    },
  );
});
