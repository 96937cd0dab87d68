// DKIM with @postwire/mailauth, both ends: sign an outgoing message, print the DNS TXT record that
// publishes the public key, then verify the signed message as a receiving server would (and a tampered
// copy, which must fail), with a DNS resolver that serves that record from memory, and print the
// Authentication-Results field a server would add.
//
//   node dkim.mjs [private-key.pem]
//
// Without a key file, a new 2048-bit RSA key is made. A key file is a PEM private key, RSA or Ed25519
// (`openssl genpkey -algorithm ed25519 -out key.pem`).
import { createPrivateKey, createPublicKey, generateKeyPairSync } from 'node:crypto';
import { readFileSync } from 'node:fs';
import {
  dkimAuthenticationResult,
  formatAuthenticationResultsField,
  signDkim,
  verifyDkim,
} from '@postwire/mailauth';

const domain = 'example.com';
const selector = 'postwire';

// 1. The key pair, and the record that publishes its public half at <selector>._domainkey.<domain>.
const privateKey = process.argv[2]
  ? createPrivateKey(readFileSync(process.argv[2]))
  : generateKeyPairSync('rsa', { modulusLength: 2048 }).privateKey;
const keyType = privateKey.asymmetricKeyType; // 'rsa' or 'ed25519'
if (keyType !== 'rsa' && keyType !== 'ed25519')
  throw new Error(`DKIM has no ${keyType} keys: use RSA or Ed25519`);
const spki = createPublicKey(privateKey).export({ type: 'spki', format: 'der' });
// p= is the SubjectPublicKeyInfo for RSA (RFC 6376), the bare 32-byte key for Ed25519 (RFC 8463).
const publicKey = keyType === 'ed25519' ? spki.subarray(-32) : spki;
const record = `v=DKIM1; k=${keyType}; p=${publicKey.toString('base64')}`;
// A TXT record is made of strings of up to 255 characters each; DKIM joins them.
const txtStrings = record.match(/.{1,255}/g);
const recordName = `${selector}._domainkey.${domain}`;
console.log('Publish this DNS record:');
console.log(`${recordName}. IN TXT ${txtStrings.map((text) => `"${text}"`).join(' ')}\n`);

// 2. Sign. signDkim returns the DKIM-Signature field, to be put in front of the message as it is.
const message = [
  `From: Ann <ann@${domain}>`,
  'To: Bob <bob@example.org>',
  'Subject: Signed with DKIM',
  `Date: ${new Date().toUTCString()}`,
  `Message-ID: <dkim-example.${Date.now()}@${domain}>`,
  '',
  'Hello Bob, this message is signed.',
  '',
].join('\r\n');
const signature = await signDkim(message, {
  domain,
  selector,
  privateKey: privateKey.export({ type: 'pkcs8', format: 'pem' }),
  algorithm: keyType === 'ed25519' ? 'ed25519-sha256' : 'rsa-sha256',
});
const signed = signature + message;
console.log(`Signed message:\n${signed}`);

// 3. Verify, as the receiving server does. A DnsResolver answers TXT, A, AAAA, MX and PTR questions:
// records, [] for none of that type, null for a name that does not exist. This one knows one name.
const zone = new Map([[recordName, [txtStrings]]]);
const resolver = {
  txt: async (name) => zone.get(name.toLowerCase()) ?? null,
  a: async () => null,
  aaaa: async () => null,
  mx: async () => null,
  ptr: async () => null,
};
const tampered = signed.replace('this message is signed', 'send the money to Mallory');
for (const [label, copy] of [
  ['signed message', signed],
  ['tampered copy', tampered],
]) {
  const verifications = await verifyDkim(copy, { resolver });
  for (const { result, reason, signature } of verifications) {
    const by = signature ? ` (d=${signature.domain} s=${signature.selector} a=${signature.algorithm})` : '';
    console.log(`${label}: dkim=${result}${by}${reason ? `: ${reason}` : ''}`);
  }
  const field = formatAuthenticationResultsField({
    authservId: 'mx.example.org',
    results: verifications.map(dkimAuthenticationResult),
  });
  console.log(`  ${field.trimEnd()}`);
}
