import { trimEndSpaceTab } from '../message/white-space.js';
/** The canonicalization algorithms of `c=` (RFC 6376 §3.4). */
export type DkimCanonicalization = 'simple' | 'relaxed';

/**
 * One header field canonicalized for hashing (RFC 6376 §3.4.1, §3.4.2), without a line ending: the
 * signer and verifier add CRLF after every field but the DKIM-Signature field itself. `name` and
 * `value` are as received, split at the first colon (the name with any white space before the colon,
 * the value with its folding). `simple` changes nothing. `relaxed` lower-cases the name, unfolds the
 * value (removes each CRLF; a bare CR or LF stays, as in dkimpy), turns each run of SP and HTAB into one SP,
 * and removes white space around the colon and at the end. Only SP and HTAB count as white space.
 */
export function canonicalizeHeader(name: string, value: string, algorithm: DkimCanonicalization): string {
  if (algorithm === 'simple') return `${name}:${value}`;
  const relaxedName = trimEndSpaceTab(name).replace(/[A-Z]+/g, (upper) => upper.toLowerCase());
  const relaxedValue = value
    .replace(/\r\n/g, '')
    .replace(/[ \t]+/g, ' ')
    .replace(/^ | $/g, '');
  return `${relaxedName}:${relaxedValue}`;
}
