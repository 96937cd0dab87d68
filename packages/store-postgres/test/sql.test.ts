import { EventEmitter } from 'node:events';
import { describe, expect, it } from 'vitest';
import { type PgPoolClientLike, type PgPoolLike, pgSqlClient } from '../src/index.js';

/** A pool of fake `pg` clients: each an emitter that answers every statement, whose LISTEN may be held. */
function fakePool() {
  const clients: (EventEmitter & { released: number })[] = [];
  let holdListen: Promise<void> | undefined;
  const pool: PgPoolLike = {
    query: async () => ({ rows: [] }),
    async connect() {
      const client = Object.assign(new EventEmitter(), {
        released: 0,
        async query(text: string) {
          if (text.startsWith('LISTEN') && holdListen) await holdListen;
          return { rows: [] };
        },
        release() {
          client.released++;
        },
      });
      clients.push(client);
      return client as unknown as PgPoolClientLike;
    },
  };
  return {
    pool,
    clients,
    /** Holds every LISTEN from now until the returned function is called. */
    hold(): () => void {
      let release!: () => void;
      holdListen = new Promise((resolve) => {
        release = resolve;
      });
      return () => {
        holdListen = undefined;
        release();
      };
    },
  };
}

const until = async (done: () => boolean): Promise<void> => {
  while (!done()) await new Promise((resolve) => setTimeout(resolve, 10));
};

describe('pgSqlClient', () => {
  it('listens again on a new client when the listening one breaks, and tells onListen each time', async () => {
    const { pool, clients } = fakePool();
    let listens = 0;
    const payloads: string[] = [];
    const stop = await pgSqlClient(pool).listen!(
      'postwire_changes',
      (payload) => payloads.push(payload),
      () => listens++,
    );
    expect(listens).toBe(1);
    clients[0]!.emit('error', new Error('terminating connection due to administrator command'));
    // A broken connection may say so twice: released once, all the same.
    clients[0]!.emit('error', new Error('Connection terminated unexpectedly'));
    await until(() => listens === 2);
    expect(clients[0]!.released).toBe(1);
    expect(clients[0]!.listenerCount('notification')).toBe(0);
    clients[1]!.emit('notification', { channel: 'postwire_changes', payload: '7' });
    clients[1]!.emit('notification', { channel: 'elsewhere', payload: '8' });
    expect(payloads).toEqual(['7']);
    await stop();
    expect(clients[1]!.released).toBe(1);
    expect(clients[1]!.listenerCount('notification') + clients[1]!.listenerCount('error')).toBe(0);
  });

  it('gives back the client it was connecting when stopped meanwhile, and listens no more', async () => {
    const { pool, clients, hold } = fakePool();
    let listens = 0;
    const stop = await pgSqlClient(pool).listen!(
      'postwire_changes',
      () => {},
      () => listens++,
    );
    const letListen = hold();
    clients[0]!.emit('error', new Error('terminating connection due to administrator command'));
    // The second client's LISTEN is under way when the store closes.
    await until(() => clients.length === 2);
    await stop();
    letListen();
    await until(() => clients[1]!.released === 1);
    expect(listens).toBe(1);
    expect(clients[1]!.listenerCount('notification') + clients[1]!.listenerCount('error')).toBe(0);
    await new Promise((resolve) => setTimeout(resolve, 300));
    expect(clients).toHaveLength(2);
  });
});
