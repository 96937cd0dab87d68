import { concatBytes, utf8 } from '@postwire/core';
import { type DkimSigner, type DkimSignOptions, signDkim } from '@postwire/mailauth';

/** The signers of a `dkim` option as a list; empty when there is nothing to sign with. */
export function dkimSigners(dkim: DkimSigner | readonly DkimSigner[] | undefined): readonly DkimSigner[] {
  if (dkim === undefined) return [];
  return Array.isArray(dkim) ? (dkim as readonly DkimSigner[]) : [dkim as DkimSigner];
}

/**
 * A message's chunks with its DKIM-Signature fields (RFC 6376) in front. A signature covers the header
 * fields and a hash of the whole body, so the message is written into memory before its first byte is
 * given, and signed there. That happens once: every later read gives the same fields and bytes (a message
 * with streamed content can then be read again). An unusable signer or key rejects the first read, before
 * any byte, with `InvalidArgumentError`.
 */
export function signedWriter(
  write: () => AsyncIterable<Uint8Array>,
  signers: readonly DkimSigner[],
  options: DkimSignOptions | undefined,
): () => AsyncGenerator<Uint8Array> {
  let signed: Promise<readonly [fields: Uint8Array, message: Uint8Array]> | undefined;
  const sign = async () => {
    const chunks: Uint8Array[] = [];
    for await (const chunk of write()) chunks.push(chunk);
    const message = concatBytes(chunks);
    return [utf8(await signDkim(message, signers, options)), message] as const;
  };
  return async function* () {
    signed ??= sign();
    const [fields, message] = await signed;
    yield fields;
    yield message;
  };
}
