import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';

/** The ports the autoconfiguration describes. */
export interface AutoconfigPorts {
  /** Submission with STARTTLS. */
  readonly submission: number;
  /** Submission on implicit TLS. */
  readonly submissions: number;
  /** IMAP with STARTTLS. */
  readonly imap: number;
  /** IMAP on implicit TLS. */
  readonly imaps: number;
  /** POP3 with STLS. */
  readonly pop3: number;
  /** POP3 on implicit TLS. */
  readonly pop3s: number;
}

/** Options of {@link startAutoconfigServer}. */
export interface AutoconfigOptions {
  /** The address the HTTP endpoint binds to. */
  readonly host: string;
  /** The HTTP port (0 takes any free port). */
  readonly port: number;
  /** The server name mail clients are told to connect to. */
  readonly hostname: string;
  /** The mail ports the configuration tells clients to use. */
  readonly ports: AutoconfigPorts;
}

/** A listening autoconfiguration endpoint. */
export interface AutoconfigServer {
  /** The port it listens on. */
  readonly port: number;
  /** Stops listening. */
  close(): Promise<void>;
}

/** The paths Thunderbird (and K-9, FairEmail, Evolution) ask for, on the mail domain or `autoconfig.<domain>`. */
const PATHS = ['/mail/config-v1.1.xml', '/.well-known/autoconfig/mail/config-v1.1.xml'];

/**
 * The Thunderbird autoconfiguration document for the dev server: IMAP and POP3 on implicit TLS and with
 * STARTTLS, and submission on implicit TLS and with STARTTLS, in that order of preference, with the
 * address's local part as the user name.
 */
export function autoconfigXml(hostname: string, ports: AutoconfigPorts, domain = hostname): string {
  const server = (kind: 'incomingServer' | 'outgoingServer', type: string, port: number, socket: string) =>
    [
      `    <${kind} type="${type}">`,
      `      <hostname>${escapeXml(hostname)}</hostname>`,
      `      <port>${port}</port>`,
      `      <socketType>${socket}</socketType>`,
      '      <username>%EMAILLOCALPART%</username>',
      '      <authentication>password-cleartext</authentication>',
      `    </${kind}>`,
    ].join('\n');
  return [
    '<?xml version="1.0" encoding="UTF-8"?>',
    '<clientConfig version="1.1">',
    `  <emailProvider id="${escapeXml(domain)}">`,
    `    <domain>${escapeXml(domain)}</domain>`,
    '    <displayName>Postwire dev mail server</displayName>',
    '    <displayShortName>Postwire</displayShortName>',
    server('incomingServer', 'imap', ports.imaps, 'SSL'),
    server('incomingServer', 'imap', ports.imap, 'STARTTLS'),
    server('incomingServer', 'pop3', ports.pop3s, 'SSL'),
    server('incomingServer', 'pop3', ports.pop3, 'STARTTLS'),
    server('outgoingServer', 'smtp', ports.submissions, 'SSL'),
    server('outgoingServer', 'smtp', ports.submission, 'STARTTLS'),
    '  </emailProvider>',
    '</clientConfig>',
    '',
  ].join('\n');
}

/**
 * Serves {@link autoconfigXml} over HTTP at the paths mail clients ask for (the domain of
 * `?emailaddress=` names the provider); anything else is 404.
 */
export async function startAutoconfigServer(options: AutoconfigOptions): Promise<AutoconfigServer> {
  const server = createServer((request: IncomingMessage, response: ServerResponse) => {
    const url = requestUrl(request);
    if (url === undefined) {
      response.writeHead(400, { 'content-type': 'text/plain' }).end('bad request\n');
      return;
    }
    if (request.method !== 'GET' || !PATHS.includes(url.pathname)) {
      response.writeHead(404, { 'content-type': 'text/plain' }).end('not found\n');
      return;
    }
    const address = url.searchParams.get('emailaddress') ?? '';
    const domain = /^[^@\s]+@([A-Za-z0-9.-]+)$/.exec(address)?.[1] ?? options.hostname;
    response
      .writeHead(200, { 'content-type': 'application/xml; charset=utf-8' })
      .end(autoconfigXml(options.hostname, options.ports, domain));
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port, options.host, () => resolve());
  });
  const address = server.address();
  return {
    port: typeof address === 'object' && address !== null ? address.port : options.port,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}

function escapeXml(text: string): string {
  return text.replace(/[<>&"']/g, (character) => `&#${character.charCodeAt(0)};`);
}

/** The URL a request asks for, or `undefined` when its target is no URL (such as `//[`). */
function requestUrl(request: IncomingMessage): URL | undefined {
  try {
    return new URL(request.url ?? '/', 'http://autoconfig');
  } catch {
    return undefined;
  }
}
