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
export type { ClientCommandContext, ClientTlsMode } from './node/client-command.js';
export * from './node/dev-server.js';
export * from './node/io.js';
export * from './node/probe.js';
export {
  type FetchedFile,
  type FetchReport,
  fetchCommand,
  fetchUsage,
  type ListedMailbox,
  type ListedMessage,
  lsCommand,
  lsUsage,
  type ReadProtocol,
} from './node/read.js';
export { sendCommand, sendUsage } from './node/send.js';
export * from './node/serve.js';
