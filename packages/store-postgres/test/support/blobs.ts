import type { BlobStore } from '../../src/index.js';

/** A blob store in memory, standing in for object storage; `keys` shows what it holds. */
export function memoryBlobs(): BlobStore & { readonly keys: () => string[] } {
  const blobs = new Map<string, Uint8Array>();
  return {
    keys: () => [...blobs.keys()],
    async put(key, source) {
      const chunks: Uint8Array[] = [];
      for await (const chunk of source) chunks.push(chunk);
      blobs.set(key, Buffer.concat(chunks));
    },
    async get(key, { start, end }) {
      const bytes = blobs.get(key)!.subarray(start, end);
      return new ReadableStream({
        start(controller) {
          if (bytes.length > 0) controller.enqueue(bytes);
          controller.close();
        },
      });
    },
    async delete(key) {
      blobs.delete(key);
    },
  };
}
