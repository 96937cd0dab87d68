export * from './base64.js';
export * from './decoder.js';
export * from './quoted-printable.js';
export * from './uuencode.js';
