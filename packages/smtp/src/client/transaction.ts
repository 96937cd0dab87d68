import { InvalidArgumentError } from '@postwire/core';
import type { SmtpCapabilities } from '../protocol/capabilities.js';
import type {
  BodyType,
  DsnNotify,
  MailParameters,
  RcptParameters,
  SmtpCommand,
} from '../protocol/command.js';
import { mailboxFromAddress, type SmtpMailbox } from '../protocol/path.js';
import type { SmtpReply } from '../protocol/reply.js';
import { SmtpExtensionError } from './errors.js';

/** Delivery status notifications asked of the server (RFC 3461); the server must offer DSN. */
export interface SmtpDsnOptions {
  /** Return the full message or only its headers in a failure report. */
  readonly ret?: 'FULL' | 'HDRS';
  /** The envelope id the reports quote (sent as xtext). */
  readonly envid?: string;
  /** When to report, for every recipient: `['NEVER']`, or some of SUCCESS, FAILURE, DELAY. */
  readonly notify?: readonly DsnNotify[];
  /** Send each recipient's address as its ORCPT (`rfc822;` type). */
  readonly orcpt?: boolean;
}

/** The SMTP envelope of one message: who it is from (the bounce address) and who gets it. */
export interface SmtpSendEnvelope {
  /** The reverse path; `null` or `''` for the null sender `<>` (for bounces and auto-replies). */
  readonly from: string | null;
  /** The recipients' addresses, `local@domain`. */
  readonly to: readonly string[];
  /** Delivery status notification options (RFC 3461). */
  readonly dsn?: SmtpDsnOptions;
  /** RFC 8689: every hop must use TLS, or the message bounces. The server must offer REQUIRETLS. */
  readonly requireTls?: boolean;
  /**
   * The body type, when the application knows better than the client can tell: `BINARYMIME` sends the
   * message as it is with BDAT (no line-ending repair); `8BITMIME` asks for 8-bit transport.
   */
  readonly body?: BodyType;
  /** Ask for SMTPUTF8 even when every address is ASCII (the headers carry raw UTF-8). */
  readonly smtputf8?: boolean;
}

/** What the client knows of the message before sending it; `undefined` where it cannot tell (a stream). */
export interface SmtpMessageFacts {
  /** Octets, when known. */
  readonly size?: number;
  /** Holds bytes above 127. */
  readonly eightBit?: boolean;
  /** Holds NUL bytes: only BINARYMIME can carry it. */
  readonly binary?: boolean;
  /** The header section holds raw UTF-8 (RFC 6532): only SMTPUTF8 can carry it. */
  readonly utf8Headers?: boolean;
}

/** One recipient's outcome. */
export interface SmtpRecipientResult {
  /** The recipient's address. */
  readonly address: string;
  /** The server took the message for this recipient. */
  readonly accepted: boolean;
  /** The reply that decided: the RCPT reply, or in LMTP this recipient's reply to the message. */
  readonly reply: SmtpReply;
}

/** The commands of one transaction, checked against what the server offers. */
export interface TransactionPlan {
  /** The MAIL FROM command. */
  readonly mail: Extract<SmtpCommand, { verb: 'MAIL' }>;
  /** The RCPT TO commands, in order. */
  readonly recipients: readonly Extract<SmtpCommand, { verb: 'RCPT' }>[];
  /** Send the message with BDAT (CHUNKING) rather than DATA. */
  readonly chunking: boolean;
  /** The message goes unchanged (BINARYMIME): no line-ending repair, no dot-stuffing. */
  readonly binary: boolean;
  /** SMTPUTF8 was asked for. */
  readonly smtputf8: boolean;
}

/**
 * Plans a transaction: the MAIL and RCPT commands with the parameters the message needs, and DATA or
 * BDAT. Everything is checked before a byte is written: addresses with CR, LF, `<` or `>` (catalogue
 * case 31) are refused, and a message that needs an extension the server lacks is refused with a
 * {@link SmtpExtensionError} naming it.
 * @throws InvalidArgumentError for an envelope that cannot be sent.
 */
export function planTransaction(
  envelope: SmtpSendEnvelope,
  facts: SmtpMessageFacts,
  capabilities: SmtpCapabilities,
  secure: boolean,
): TransactionPlan {
  if (envelope.to.length === 0) throw new InvalidArgumentError('a message needs at least one recipient');
  const addresses = [envelope.from ?? '', ...envelope.to];
  for (const address of addresses) checkAddress(address);
  const smtputf8 =
    envelope.smtputf8 === true ||
    facts.utf8Headers === true ||
    addresses.some((address) => !isAscii(address));
  if (smtputf8 && !capabilities.smtputf8) {
    throw new SmtpExtensionError(
      'SMTPUTF8',
      'the message needs SMTPUTF8 (UTF-8 addresses or headers), which the server does not offer',
    );
  }
  const body = bodyType(envelope, facts, capabilities);
  if (body === 'BINARYMIME' && !capabilities.binaryMime) {
    throw new SmtpExtensionError(
      'BINARYMIME',
      'the message is binary and needs BINARYMIME, which the server does not offer',
    );
  }
  if (body === '8BITMIME' && !capabilities.eightBitMime) {
    throw new SmtpExtensionError(
      '8BITMIME',
      'the message holds 8-bit text and needs 8BITMIME, which the server does not offer',
    );
  }
  if (
    facts.size !== undefined &&
    capabilities.size !== undefined &&
    capabilities.size > 0 &&
    facts.size > capabilities.size
  ) {
    throw new SmtpExtensionError(
      'SIZE',
      `the message has ${facts.size} octets; the server takes at most ${capabilities.size}`,
    );
  }
  const dsn = envelope.dsn;
  if (dsn && !capabilities.dsn) {
    throw new SmtpExtensionError(
      'DSN',
      'delivery status notifications were asked for, and the server does not offer DSN',
    );
  }
  if (envelope.requireTls && !(secure && capabilities.requireTls)) {
    throw new SmtpExtensionError(
      'REQUIRETLS',
      'REQUIRETLS needs a TLS session with a server that offers REQUIRETLS',
    );
  }
  const options = { smtputf8 };
  const from = envelope.from ? mailboxFromAddress(envelope.from, options) : null;
  const mailParameters: MailParameters = {
    ...(facts.size !== undefined && capabilities.size !== undefined ? { size: facts.size } : {}),
    ...(body ? { body } : {}),
    ...(smtputf8 ? { smtputf8: true } : {}),
    ...(dsn?.ret ? { ret: dsn.ret } : {}),
    ...(dsn?.envid !== undefined ? { envid: dsn.envid } : {}),
    ...(envelope.requireTls ? { requireTls: true } : {}),
    other: new Map(),
  };
  const recipients = envelope.to.map((address) => {
    const to: SmtpMailbox = mailboxFromAddress(address, options);
    const parameters: RcptParameters = {
      ...(dsn?.notify ? { notify: dsn.notify } : {}),
      ...(dsn?.orcpt ? { orcpt: { type: smtputf8 ? 'utf-8' : 'rfc822', address } } : {}),
      other: new Map(),
    };
    return { verb: 'RCPT', to, parameters } as const;
  });
  return {
    mail: { verb: 'MAIL', from, parameters: mailParameters },
    recipients,
    chunking: capabilities.chunking,
    binary: body === 'BINARYMIME',
    smtputf8,
  };
}

/**
 * The BODY parameter: BINARYMIME for binary content, 8BITMIME for 8-bit content, and for content the
 * client cannot see (a stream) 8BITMIME whenever the server offers it, which is never wrong.
 */
function bodyType(
  envelope: SmtpSendEnvelope,
  facts: SmtpMessageFacts,
  capabilities: SmtpCapabilities,
): BodyType | undefined {
  if (envelope.body === 'BINARYMIME' || facts.binary) return 'BINARYMIME';
  if (envelope.body === '8BITMIME' || facts.eightBit) return '8BITMIME';
  if (envelope.body === '7BIT' || facts.eightBit === false) return undefined;
  return capabilities.eightBitMime ? '8BITMIME' : undefined;
}

/** Refuses an address that could break out of its path on the wire (catalogue case 31). */
function checkAddress(address: string): void {
  if (/[\r\n\0<>]/.test(address)) {
    throw new InvalidArgumentError(
      `the address ${JSON.stringify(address.slice(0, 64))} holds CR, LF, NUL, < or >`,
    );
  }
}

function isAscii(text: string): boolean {
  return !/[^\x00-\x7f]/.test(text);
}

/** Looks at a whole message: its size, 8-bit and NUL bytes, and raw UTF-8 in the header section. */
export function describeMessage(bytes: Uint8Array): SmtpMessageFacts {
  let eightBit = false;
  let binary = false;
  let utf8Headers = false;
  let inHeaders = true;
  let previous = 0;
  let beforePrevious = 0;
  for (let i = 0; i < bytes.length; i++) {
    const byte = bytes[i]!;
    if (byte >= 0x80) {
      eightBit = true;
      if (inHeaders) utf8Headers = true;
    } else if (byte === 0) {
      binary = true;
    } else if (
      byte === 0x0a &&
      inHeaders &&
      (previous === 0x0a || (previous === 0x0d && beforePrevious === 0x0a))
    ) {
      inHeaders = false;
      if (eightBit && binary) break;
    }
    beforePrevious = previous;
    previous = byte;
  }
  return { size: bytes.length, eightBit, binary, utf8Headers };
}
