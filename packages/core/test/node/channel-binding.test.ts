import type { TLSSocket } from 'node:tls';
import { describe, expect, it } from 'vitest';
import { tlsChannelBinding } from '../../src/node/channel-binding.js';

describe('tlsChannelBinding on a runtime whose node:tls lacks a call', () => {
  it('gives no binding instead of throwing (Deno has no exportKeyingMaterial)', () => {
    const socket = {
      getProtocol: () => 'TLSv1.3',
      getCertificate: () => {
        throw new Error('Not implemented: TLSSocket.getCertificate');
      },
    } as unknown as TLSSocket;
    expect(tlsChannelBinding(socket, 'tls-exporter', 'server')).toBeUndefined();
    expect(tlsChannelBinding(socket, 'tls-server-end-point', 'server')).toBeUndefined();
  });
});
