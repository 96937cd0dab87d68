import { encodeBase64, InvalidArgumentError } from '@postwire/core';
import { formatAuthenticationResults } from '../authentication-results/format.js';
import type { AuthenticationResult } from '../authentication-results/types.js';
import { createSha256, type Sha256Factory } from '../crypto/sha256.js';
import { DkimBodyHashes, signedHeaderBytes } from '../dkim/hashing.js';
import type { DkimSigner } from '../dkim/sign.js';
import {
  completeField,
  foldTags,
  headersToSign,
  inLineEndsOf,
  prepareSigner,
  readForSigning,
} from '../dkim/signing.js';
import type { RawHeaderField } from '../message/header-reader.js';
import type { MessageSource } from '../message/input.js';
import { ARC_FIELDS, MAX_ARC_INSTANCE } from './headers.js';
import { type ArcVerification, sealedBytes } from './verify.js';

/** Who seals: the signing domain, selector and key, as for DKIM (`identity`, `bodyLength` and `expiresIn` do not apply). */
export type ArcSealer = Omit<DkimSigner, 'identity' | 'bodyLength' | 'expiresIn'>;

/** Options of {@link sealArc}. */
export interface ArcSealOptions {
  /** The authentication service identifier of the ARC-Authentication-Results (usually this host's name). */
  authservId: string;
  /** What this host found (SPF, DKIM, DMARC, the chain's own `arc=` result …), copied into ARC-Authentication-Results. */
  results: readonly AuthenticationResult[];
  /** The chain as this host received it, from {@link verifyArc}: its instance and verdict give `i=` and `cv=`. */
  chain: Pick<ArcVerification, 'result' | 'instance'>;
  /** The SHA-256 for body and Ed25519 hashes (default: {@link createSha256}). */
  sha256?: Sha256Factory;
  /** The clock for `t=`, in milliseconds since the epoch (default `Date.now`). */
  now?: () => number;
  /** The most header bytes read (default 1 MiB). */
  maxHeaderBytes?: number;
}

const FIELD_NAMES = {
  seal: 'ARC-Seal',
  messageSignature: 'ARC-Message-Signature',
  authenticationResults: 'ARC-Authentication-Results',
};

/**
 * Adds an ARC set to a message (RFC 8617 §5.1): ARC-Authentication-Results with `results`, an
 * ARC-Message-Signature over the message (as a DKIM signature, without ARC fields in `h=`), and an
 * ARC-Seal over every set, the new one included, with `cv=` from the chain as received. Returns the three
 * fields, seal first, each ending with CRLF (LF for a message whose lines end with bare LFs): prepend them as they are. With `cv=fail` the seal covers only its
 * own set, as the broken sets before it cannot be validated anyway. Throws `InvalidArgumentError` for an
 * unusable sealer, a chain already at instance 50, or a header larger than allowed.
 */
export async function sealArc(
  message: MessageSource,
  sealer: ArcSealer,
  options: ArcSealOptions,
): Promise<string> {
  const instance = options.chain.instance + 1;
  if (instance > MAX_ARC_INSTANCE)
    throw new InvalidArgumentError(`an ARC chain ends at instance ${MAX_ARC_INSTANCE}`);
  const chainValidation = options.chain.instance === 0 ? 'none' : options.chain.result;
  const sha256 = options.sha256 ?? createSha256;
  const signer = await prepareSigner({
    ...sealer,
    headers: sealer.headers?.filter((name) => !name.toLowerCase().startsWith('arc-')),
  });
  const bodyHashes = new DkimBodyHashes(sha256);
  bodyHashes.request(signer.bodyCanonicalization);
  const read = await readForSigning(message, bodyHashes, options.maxHeaderBytes);
  const { fields } = read;
  const now = String(Math.floor((options.now ?? Date.now)() / 1000));

  const resultsValue = formatAuthenticationResults({
    authservId: options.authservId,
    results: [...options.results],
  });
  const authenticationResults: RawHeaderField = {
    name: FIELD_NAMES.authenticationResults,
    key: ARC_FIELDS.authenticationResults,
    value: ` i=${instance}; ${resultsValue}`,
  };

  const signedHeaders = headersToSign(fields, signer);
  const messageTags: [string, string][] = [
    ['i', String(instance)],
    ['a', signer.algorithm],
    ['c', `${signer.headerCanonicalization}/${signer.bodyCanonicalization}`],
    ['d', signer.domain],
    ['s', signer.selector],
    ['t', now],
    ['h', signedHeaders.join(':')],
  ];
  const unsignedMessage = foldTags(
    FIELD_NAMES.messageSignature,
    messageTags,
    encodeBase64(bodyHashes.result(signer.bodyCanonicalization).digest),
  );
  const messageData = signedHeaderBytes(
    fields,
    signedHeaders,
    signer.headerCanonicalization,
    FIELD_NAMES.messageSignature,
    unsignedMessage,
  );
  const messageSignature = await completeField(
    FIELD_NAMES.messageSignature,
    unsignedMessage,
    signer,
    messageData,
    sha256,
  );

  const sealTags: [string, string][] = [
    ['i', String(instance)],
    ['a', signer.algorithm],
    ['cv', chainValidation],
    ['d', signer.domain],
    ['s', signer.selector],
    ['t', now],
  ];
  const unsignedSeal = foldTags(FIELD_NAMES.seal, sealTags);
  // A broken chain is not carried on: with cv=fail the seal covers its own set only.
  const previous = chainValidation === 'fail' ? [] : existingSets(fields, options.chain.instance);
  const sets = [
    ...previous,
    {
      authenticationResults,
      messageSignatureField: fieldOf(messageSignature),
      sealField: { name: FIELD_NAMES.seal, key: ARC_FIELDS.seal, value: unsignedSeal },
    },
  ];
  const seal = await completeField(
    FIELD_NAMES.seal,
    unsignedSeal,
    signer,
    sealedBytes(sets, sets.length),
    sha256,
  );
  return inLineEndsOf(
    read,
    `${seal}${messageSignature}${FIELD_NAMES.authenticationResults}:${authenticationResults.value}\r\n`,
  );
}

/** The message's ARC sets 1 to `count`, by instance, for the new seal to cover. */
function existingSets(fields: readonly RawHeaderField[], count: number) {
  const sets = [];
  for (let instance = 1; instance <= count; instance++) {
    const pick = (key: string) =>
      fields.find(
        (field) =>
          field.key === key &&
          new RegExp(`(?:^|;)[ \\t\\r\\n]*i[ \\t\\r\\n]*=[ \\t\\r\\n]*${instance}[ \\t\\r\\n]*(?:;|$)`).test(
            field.value,
          ),
      );
    const authenticationResults = pick(ARC_FIELDS.authenticationResults);
    const messageSignatureField = pick(ARC_FIELDS.messageSignature);
    const sealField = pick(ARC_FIELDS.seal);
    if (!authenticationResults || !messageSignatureField || !sealField) {
      throw new InvalidArgumentError(`the message has no complete ARC set ${instance}`);
    }
    sets.push({ authenticationResults, messageSignatureField, sealField });
  }
  return sets;
}

/** A field made here (`Name:value\r\n`) as the header reader would give it. */
function fieldOf(text: string): RawHeaderField {
  const colon = text.indexOf(':');
  const name = text.slice(0, colon);
  return { name, key: name.toLowerCase(), value: text.slice(colon + 1, -2) };
}
