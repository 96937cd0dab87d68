export { createSha256, type Sha256Factory, type StreamingHash } from './sha256.js';
