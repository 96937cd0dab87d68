import { type Transport, utf8 } from '../../src/index.js';
import { createListener, type Listener, type ListenerOptions } from '../../src/node/index.js';
import type { Cleanup } from './net.js';

/** Starts a listener on 127.0.0.1 and registers its shutdown; returns it with its port. */
export async function startListener(
  cleanup: Cleanup,
  options: ListenerOptions,
): Promise<{ listener: Listener; port: number }> {
  const listener = cleanup.add(createListener(options), (l) => l.close({ timeout: 200 }));
  const { port } = await listener.listen();
  return { listener, port };
}

/** Writes text through a transport's writable and releases the writer. */
export async function writeText(transport: Transport, text: string): Promise<void> {
  const writer = transport.writable.getWriter();
  try {
    await writer.write(utf8(text));
  } finally {
    writer.releaseLock();
  }
}
