import { decodeLatin1, encodeBase64 } from './bytes.js';

/**
 * A certificate as PEM text: a string is taken as PEM, bytes that start with an ASN.1 SEQUENCE as DER (and
 * armoured), any other bytes as PEM text.
 */
export function certificatePem(value: string | Uint8Array): string {
  if (typeof value === 'string') return value;
  if (value[0] !== 0x30) return decodeLatin1(value);
  const lines = encodeBase64(value).match(/.{1,64}/g) ?? [];
  return `-----BEGIN CERTIFICATE-----\n${lines.join('\n')}\n-----END CERTIFICATE-----\n`;
}
