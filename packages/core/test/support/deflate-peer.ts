import type { Socket } from 'node:net';
import { constants, createDeflateRaw, createInflateRaw, deflateRawSync } from 'node:zlib';
import { bounded } from './net.js';

/**
 * The far end of a compressed connection in tests, built on node:zlib's streams only: what it sends is
 * raw DEFLATE, sync-flushed per `send()`; what it receives is inflated as it arrives and collected as
 * Latin-1 text. Wrap the socket at the byte where compression starts.
 */
export class DeflatePeer {
  readonly #deflate = createDeflateRaw();
  readonly #inflate = createInflateRaw();
  readonly #waiters: (() => void)[] = [];
  #text = '';
  /** Set when the received stream is corrupt. */
  error: Error | undefined;

  /** `onText`: called whenever more text has been inflated. */
  constructor(
    readonly socket: Socket,
    onText?: () => void,
  ) {
    this.#deflate.on('data', (chunk: Buffer) => {
      if (!socket.destroyed) socket.write(chunk);
    });
    this.#inflate.on('data', (chunk: Buffer) => {
      this.#text += chunk.toString('latin1');
      this.#wakeAll();
      onText?.();
    });
    this.#inflate.on('error', (error) => {
      this.error = error;
      this.#wakeAll();
    });
    socket.on('data', (chunk: Buffer) => this.#inflate.write(chunk));
  }

  /** Everything inflated so far. */
  get text(): string {
    return this.#text;
  }

  /** Compresses `data` and sends it with a sync flush; resolves once handed to the socket. */
  send(data: string | Uint8Array): Promise<void> {
    this.#deflate.write(typeof data === 'string' ? Buffer.from(data, 'latin1') : data);
    return new Promise((resolve) => this.#deflate.flush(constants.Z_SYNC_FLUSH, () => resolve()));
  }

  /** Waits until the inflated text contains `text`; returns all text so far. */
  until(text: string, ms?: number): Promise<string> {
    const arrived = async (): Promise<string> => {
      while (!this.#text.includes(text)) {
        if (this.error) throw this.error;
        await new Promise<void>((wake) => this.#waiters.push(wake));
      }
      return this.#text;
    };
    return bounded(arrived(), JSON.stringify(text), ms);
  }

  #wakeAll(): void {
    for (const wake of this.#waiters.splice(0)) wake();
  }
}

/**
 * One MiB of `byte`, compressed to about 1 KB of raw DEFLATE without a final block and ending on a full
 * flush, so that it refers to nothing before it: repeated N times it is a valid stream that inflates to
 * N MiB (1024 copies, about 1 MB, inflate to 1 GiB).
 */
export function compressedMebibyte(byte = 0x61): Buffer {
  return deflateRawSync(Buffer.alloc(1 << 20, byte), { finishFlush: constants.Z_FULL_FLUSH });
}

/**
 * Writes `piece` `copies` times to `socket`, honouring backpressure; resolves the number of bytes the
 * socket accepted before it closed or the copies ran out.
 */
export async function sendRepeated(socket: Socket, piece: Uint8Array, copies: number): Promise<number> {
  let sent = 0;
  for (let i = 0; i < copies && socket.writable; i++) {
    const more = socket.write(piece);
    sent += piece.length;
    if (!more) {
      await new Promise<void>((resolve) => {
        const done = (): void => {
          socket.off('drain', done);
          socket.off('close', done);
          resolve();
        };
        socket.on('drain', done);
        socket.on('close', done);
      });
    }
  }
  return sent;
}
