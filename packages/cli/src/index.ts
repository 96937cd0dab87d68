export * from './node/autoconfig.js';
export {
  type CertificateRenewalReason,
  createSelfSignedCertificate,
  loadOrCreateCertificate,
  type SelfSignedCertificate,
  type SelfSignedCertificateOptions,
  type StoredCertificate,
} from './node/certificate.js';
export * from './node/cli.js';
export * from './node/dev-server.js';
export * from './node/io.js';
export * from './node/probe.js';
export * from './node/serve.js';
