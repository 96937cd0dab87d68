import { describe, expect, it, vi } from 'vitest';
import { InvalidArgumentError } from '../src/errors.js';
import { connect } from '../src/workers/connect.js';

/** `cloudflare:sockets` in memory: each socket records how it was opened and upgraded. */
const opened: { address: unknown; options: unknown; upgradedFor?: string }[] = [];
vi.mock('cloudflare:sockets', () => {
  const socket = (record: (typeof opened)[number], secure: boolean) => ({
    readable: new ReadableStream<Uint8Array>(),
    writable: new WritableStream<Uint8Array>(),
    opened: Promise.resolve(secure ? {} : { remoteAddress: '127.0.0.1:143' }),
    closed: new Promise<void>(() => {}),
    close: async () => {},
    startTls(options: { expectedServerHostname?: string }) {
      record.upgradedFor = options.expectedServerHostname;
      return socket(record, true);
    },
  });
  return {
    connect(address: unknown, options: unknown) {
      const record = { address, options };
      opened.push(record);
      return socket(record, false);
    },
  };
});

describe('@postwire/core/workers', () => {
  it('opens every socket for STARTTLS and upgrades at once for implicit TLS, checking the servername', async () => {
    const plain = await connect({ host: '127.0.0.1', port: 143 });
    expect(plain.info).toEqual({ secure: false, remoteAddress: '127.0.0.1:143' });
    expect(opened[0]).toEqual({
      address: { hostname: '127.0.0.1', port: 143 },
      options: { secureTransport: 'starttls', allowHalfOpen: false },
    });
    const upgraded = await plain.startTls();
    expect(upgraded.info.secure).toBe(true);
    expect(opened[0]!.upgradedFor).toBe('127.0.0.1');

    const implicit = await connect({
      host: '127.0.0.1',
      port: 993,
      secure: true,
      tls: { servername: 'localhost' },
    });
    expect(implicit.info).toEqual({ secure: true });
    expect(opened[1]!.upgradedFor).toBe('localhost');
  });

  it("refuses a CA, a skipped check or a client certificate: Workers trust the runtime's roots only", async () => {
    for (const tls of [{ ca: 'pem' }, { rejectUnauthorized: false }, { cert: 'c', key: 'k' }]) {
      await expect(connect({ host: 'h', port: 1, tls })).rejects.toBeInstanceOf(InvalidArgumentError);
    }
  });
});
