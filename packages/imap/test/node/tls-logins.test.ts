import type { ServerTlsOptions } from '@postwire/core/node';
import { createSaslServer, type SaslServer } from '@postwire/sasl';
import { createMemoryStore } from '@postwire/store';
import { describe, expect, it } from 'vitest';
import { testCertificates } from '../../../core/test/support/certs.js';
import { createImapClient } from '../../src/node/client.js';
import { createImapServer } from '../../src/node/server.js';

/** A server on implicit TLS or with STARTTLS, and how a client reaches it. */
async function serve(implicit: boolean, sasl: SaslServer, tls: ServerTlsOptions) {
  const server = createImapServer({
    host: '127.0.0.1',
    port: 0,
    store: createMemoryStore(),
    sasl,
    ...(implicit ? { tls } : { startTls: tls }),
  });
  const { port } = await server.listen();
  return {
    server,
    reach: { host: '127.0.0.1', port, ...(implicit ? { secure: true } : { starttls: 'required' as const }) },
  };
}

describe('SCRAM-PLUS with every mechanism on', () => {
  it.each([false, true])(
    'is advertised where AUTHENTICATE takes it (implicit TLS: %s), so a channel-binding client logs in',
    async (implicit) => {
      const { cert, key, ca } = testCertificates();
      const sasl = createSaslServer({
        verifiers: { lookupPassword: (name) => (name === 'alice' ? 'pw' : undefined) },
      });
      const { server, reach } = await serve(implicit, sasl, { cert, key });
      const lines: string[] = [];
      try {
        const client = await createImapClient({
          ...reach,
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

describe('EXTERNAL with a client certificate', () => {
  it.each([false, true])(
    'logs in as the user a verified certificate names, and is offered to no one else (implicit TLS: %s)',
    async (implicit) => {
      const { cert, key, ca } = testCertificates();
      const server = createImapServer({
        host: '127.0.0.1',
        port: 0,
        store: createMemoryStore(),
        sasl: createSaslServer({
          verifiers: { external: (identity) => identity === 'localhost' && 'alice' },
        }),
        // Certificates are asked for, not required: a client without one is simply not offered EXTERNAL.
        ...(implicit
          ? { tls: { cert, key, ca, requestCert: true, rejectUnauthorized: false } }
          : { startTls: { cert, key, ca, requestCert: true, rejectUnauthorized: false } }),
      });
      const { port } = await server.listen();
      const lines: string[] = [];
      const connect = (tls: { ca: string; cert?: string; key?: string }) =>
        createImapClient({
          host: '127.0.0.1',
          port,
          ...(implicit ? { secure: true } : { starttls: 'required' as const }),
          tls: { ...tls, servername: 'localhost' },
          auth: { external: true },
          trace: (event) => lines.push(`${event.direction} ${event.line}`),
        });
      try {
        const client = await connect({ ca, cert, key });
        expect(lines.find((line) => / AUTHENTICATE /.test(line))).toMatch(/AUTHENTICATE EXTERNAL/);
        expect((await client.status('INBOX', ['MESSAGES'])).messages).toBe(0);
        await client.logout();
        lines.length = 0;
        await expect(connect({ ca })).rejects.toThrow(/no login method in common/);
        expect(lines.filter((line) => /^in .*AUTH=EXTERNAL/.test(line))).toEqual([]);
      } finally {
        await server.close();
      }
    },
  );
});
