import { InvalidArgumentError, ProtocolError } from '@postwire/core';
import { formatPath, parseForwardPath, parseReversePath, type SmtpMailbox, SmtpPathError } from './path.js';
import { decodeXtext, encodeXtext } from './xtext.js';

/** The body types of `MAIL FROM … BODY=` (RFC 6152 8BITMIME, RFC 3030 BINARYMIME). */
export type BodyType = '7BIT' | '8BITMIME' | 'BINARYMIME';

/** DSN notification conditions of `RCPT TO … NOTIFY=` (RFC 3461 §4.1). */
export type DsnNotify = 'NEVER' | 'SUCCESS' | 'FAILURE' | 'DELAY';

/** The parameters of MAIL FROM. Values of unknown parameters are kept as written in `other`. */
export interface MailParameters {
  /** SIZE (RFC 1870): the declared message size in octets. */
  readonly size?: number;
  /** BODY (RFC 6152, RFC 3030): the message's content type. */
  readonly body?: BodyType;
  /** SMTPUTF8 (RFC 6531). */
  readonly smtputf8?: boolean;
  /** RET (RFC 3461): what a DSN returns. */
  readonly ret?: 'FULL' | 'HDRS';
  /** ENVID (RFC 3461), decoded from xtext. */
  readonly envid?: string;
  /** AUTH= (RFC 4954 §5): the authenticated submitter, decoded from xtext; `null` for `<>`. */
  readonly auth?: string | null;
  /** REQUIRETLS (RFC 8689). */
  readonly requireTls?: boolean;
  /** Other parameters, keyword upper-cased, value as written (`''` for none). */
  readonly other: ReadonlyMap<string, string>;
}

/** The original recipient of `RCPT TO … ORCPT=` (RFC 3461 §4.2): an address type and the address. */
export interface OriginalRecipient {
  /** The address type as written, such as `rfc822` or `utf-8`. */
  readonly type: string;
  /** The address, decoded from xtext. */
  readonly address: string;
}

/** The parameters of RCPT TO. */
export interface RcptParameters {
  /** NOTIFY (RFC 3461): when to send a DSN. */
  readonly notify?: readonly DsnNotify[];
  /** ORCPT (RFC 3461): the original recipient. */
  readonly orcpt?: OriginalRecipient;
  /** Other parameters, keyword upper-cased, value as written (`''` for none). */
  readonly other: ReadonlyMap<string, string>;
}

/** One SMTP (or LMTP) command, parsed. Verbs are upper case. */
export type SmtpCommand =
  | {
      /** The greeting command. */
      readonly verb: 'EHLO' | 'HELO' | 'LHLO';
      /** The client's name, as given. */
      readonly domain: string;
    }
  | {
      /** The command. */
      readonly verb: 'MAIL';
      /** The reverse path; `null` for `<>`. */
      readonly from: SmtpMailbox | null;
      /** The MAIL FROM parameters. */
      readonly parameters: MailParameters;
    }
  | {
      /** The command. */
      readonly verb: 'RCPT';
      /** The recipient. */
      readonly to: SmtpMailbox;
      /** The RCPT TO parameters. */
      readonly parameters: RcptParameters;
    }
  | {
      /** The command. */
      readonly verb: 'DATA' | 'RSET' | 'QUIT' | 'STARTTLS';
    }
  | {
      /** The command. */
      readonly verb: 'BDAT';
      /** The chunk's size in octets. */
      readonly size: number;
      /** `LAST`: the message's final chunk. */
      readonly last: boolean;
    }
  | {
      /** The command. */
      readonly verb: 'NOOP' | 'HELP';
      /** The argument, when given. */
      readonly argument?: string;
    }
  | {
      /** The command. */
      readonly verb: 'VRFY' | 'EXPN';
      /** The argument. */
      readonly argument: string;
    }
  | {
      /** The command. */
      readonly verb: 'AUTH';
      /** The SASL mechanism, upper-cased. */
      readonly mechanism: string;
      /** The initial response as written (base64, `=` for empty), when given. */
      readonly initialResponse?: string;
    }
  | {
      /** The command. */
      readonly verb: 'XCLIENT' | 'XFORWARD';
      /** The `NAME=value` attributes, values decoded from xtext. */
      readonly attributes: ReadonlyMap<string, string>;
    };

/** Every verb {@link parseCommand} knows. */
export type SmtpVerb = SmtpCommand['verb'];

/**
 * A command the server must refuse, with the reply that says why: `500 5.5.2` for an unknown verb,
 * `501 5.5.4` for bad arguments, `501 5.1.7` / `501 5.1.3` for a bad sender / recipient path,
 * `553 5.6.7` for UTF-8 in a path without SMTPUTF8.
 */
export class SmtpCommandError extends ProtocolError {
  /** The reply code to send, such as `501`. */
  readonly replyCode: number;
  /** The enhanced status code to send, such as `5.5.4`. */
  readonly enhancedCode: string;

  constructor(replyCode: number, enhancedCode: string, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.replyCode = replyCode;
    this.enhancedCode = enhancedCode;
  }
}

/** Options of {@link parseCommand}. */
export interface ParseCommandOptions {
  /** The transaction may carry UTF-8 addresses (the server offers SMTPUTF8 and MAIL FROM asked for it). */
  readonly smtputf8?: boolean;
}

const VERBS = new Set<string>([
  'EHLO',
  'HELO',
  'LHLO',
  'MAIL',
  'RCPT',
  'DATA',
  'BDAT',
  'RSET',
  'NOOP',
  'QUIT',
  'VRFY',
  'EXPN',
  'HELP',
  'STARTTLS',
  'AUTH',
  'XCLIENT',
  'XFORWARD',
]);

/** An esmtp-keyword (RFC 5321 §4.1.2), and a value: printable ASCII but `=` and SP (UTF-8 under SMTPUTF8). */
const PARAMETER = /^([A-Za-z0-9][A-Za-z0-9-]*)(?:=([^\s=\x00-\x1f\x7f]+))?$/;
const SASL_MECHANISM = /^[A-Za-z0-9_-]{1,20}$/;
const BASE64_OR_EQUALS = /^(?:=|[A-Za-z0-9+/]+={0,2})$/;
/** The largest BDAT chunk and SIZE value accepted: beyond any real message, within exact integers. */
const MAX_OCTETS = Number.MAX_SAFE_INTEGER;

function syntax(message: string): SmtpCommandError {
  return new SmtpCommandError(501, '5.5.4', message);
}

/**
 * Parses one command line (without its CRLF), as the server reads it. Verbs and parameter keywords are
 * case-insensitive. Leniencies, each common among real clients and harmless: spaces after `FROM:` and
 * `TO:`, and several spaces between parameters.
 * @throws SmtpCommandError with the reply to send.
 */
export function parseCommand(line: string, options: ParseCommandOptions = {}): SmtpCommand {
  if (/[\r\n\0]/.test(line)) throw syntax('Line breaks and NUL are not allowed in a command');
  const space = line.indexOf(' ');
  const verb = (space === -1 ? line : line.slice(0, space)).toUpperCase();
  const rest = space === -1 ? '' : line.slice(space + 1);
  if (!VERBS.has(verb)) throw new SmtpCommandError(500, '5.5.2', 'Command not recognized');
  switch (verb) {
    case 'EHLO':
    case 'HELO':
    case 'LHLO': {
      const domain = rest.trim();
      if (!domain || /\s/.test(domain)) throw syntax(`Syntax: ${verb} hostname`);
      return { verb, domain };
    }
    case 'MAIL':
      return parseMail(rest, options);
    case 'RCPT':
      return parseRcpt(rest, options);
    case 'DATA':
    case 'RSET':
    case 'QUIT':
    case 'STARTTLS':
      if (rest.trim()) throw syntax(`Syntax: ${verb}`);
      return { verb };
    case 'BDAT':
      return parseBdat(rest);
    case 'NOOP':
    case 'HELP':
      return rest.trim() ? { verb, argument: rest.trim() } : { verb };
    case 'VRFY':
    case 'EXPN':
      if (!rest.trim()) throw syntax(`Syntax: ${verb} string`);
      return { verb, argument: rest.trim() };
    case 'AUTH':
      return parseAuth(rest);
    default:
      return { verb: verb as 'XCLIENT' | 'XFORWARD', attributes: parseAttributes(rest) };
  }
}

/** Splits `FROM:<path> params` (or `TO:`) into the path token and the parameter text. */
function splitPathArgument(rest: string, prefix: 'FROM:' | 'TO:'): { path: string; parameters: string } {
  if (rest.slice(0, prefix.length).toUpperCase() !== prefix) {
    throw syntax(`Syntax: ${prefix === 'FROM:' ? 'MAIL FROM:<address>' : 'RCPT TO:<address>'}`);
  }
  const text = rest.slice(prefix.length).replace(/^ +/, '');
  if (!text.startsWith('<')) throw syntax('The address must be written between < and >');
  let quoted = false;
  for (let i = 1; i < text.length; i++) {
    const char = text[i];
    if (char === '\\' && quoted) i++;
    else if (char === '"') quoted = !quoted;
    else if (char === '>' && !quoted) {
      const parameters = text.slice(i + 1);
      if (parameters && !parameters.startsWith(' '))
        throw syntax('Parameters follow the address after a space');
      return { path: text.slice(0, i + 1), parameters: parameters.trim() };
    }
  }
  throw syntax('The address has no closing >');
}

/** `KEYWORD[=value]` pairs, keywords upper-cased; a keyword twice is an error. */
function parseParameters(text: string): Map<string, string> {
  const parameters = new Map<string, string>();
  for (const item of text.split(/ +/)) {
    if (!item) continue;
    const match = PARAMETER.exec(item);
    if (!match) throw syntax(`Malformed parameter ${JSON.stringify(item)}`);
    const keyword = match[1]!.toUpperCase();
    if (parameters.has(keyword)) throw syntax(`Parameter ${keyword} given twice`);
    parameters.set(keyword, match[2] ?? '');
  }
  return parameters;
}

function pathError(error: unknown, side: 'sender' | 'recipient'): never {
  if (error instanceof SmtpPathError) {
    const enhanced =
      error.reason === 'utf8-not-allowed' ? error.enhancedCode : side === 'sender' ? '5.1.7' : '5.1.3';
    throw new SmtpCommandError(error.replyCode, enhanced, `Bad ${side} address: ${error.message}`, {
      cause: error,
    });
  }
  throw error;
}

function parseMail(rest: string, options: ParseCommandOptions): SmtpCommand {
  const { path, parameters: text } = splitPathArgument(rest, 'FROM:');
  const parameters = parseParameters(text);
  // SMTPUTF8 on this very command allows UTF-8 in its path (RFC 6531 §3.4).
  const smtputf8 = parameters.has('SMTPUTF8');
  let from: SmtpMailbox | null;
  try {
    from = parseReversePath(path, { smtputf8: smtputf8 || options.smtputf8 === true });
  } catch (error) {
    pathError(error, 'sender');
  }
  const other = new Map<string, string>();
  let result: { -readonly [K in keyof MailParameters]: MailParameters[K] } = { other };
  for (const [keyword, value] of parameters) {
    switch (keyword) {
      case 'SIZE':
        result = { ...result, size: octets(value, 'SIZE') };
        break;
      case 'BODY': {
        const body = value.toUpperCase();
        if (body !== '7BIT' && body !== '8BITMIME' && body !== 'BINARYMIME')
          throw syntax('BODY is 7BIT, 8BITMIME or BINARYMIME');
        result = { ...result, body };
        break;
      }
      case 'SMTPUTF8':
      case 'REQUIRETLS':
        if (value) throw syntax(`${keyword} takes no value`);
        result = keyword === 'SMTPUTF8' ? { ...result, smtputf8: true } : { ...result, requireTls: true };
        break;
      case 'RET': {
        const ret = value.toUpperCase();
        if (ret !== 'FULL' && ret !== 'HDRS') throw syntax('RET is FULL or HDRS');
        result = { ...result, ret };
        break;
      }
      case 'ENVID':
        result = { ...result, envid: xtext(value, 'ENVID') };
        break;
      case 'AUTH':
        result = { ...result, auth: value === '<>' ? null : xtext(value, 'AUTH') };
        break;
      default:
        other.set(keyword, value);
    }
  }
  return { verb: 'MAIL', from, parameters: result };
}

function parseRcpt(rest: string, options: ParseCommandOptions): SmtpCommand {
  const { path, parameters: text } = splitPathArgument(rest, 'TO:');
  let to: SmtpMailbox;
  try {
    to = parseForwardPath(path, { smtputf8: options.smtputf8 === true });
  } catch (error) {
    pathError(error, 'recipient');
  }
  const other = new Map<string, string>();
  let result: { -readonly [K in keyof RcptParameters]: RcptParameters[K] } = { other };
  for (const [keyword, value] of parseParameters(text)) {
    if (keyword === 'NOTIFY') {
      const notify = value.toUpperCase().split(',');
      const valid = notify.every((item) => item === 'SUCCESS' || item === 'FAILURE' || item === 'DELAY');
      if (
        !(notify.length === 1 && notify[0] === 'NEVER') &&
        !(valid && new Set(notify).size === notify.length)
      ) {
        throw syntax('NOTIFY is NEVER, or a list of SUCCESS, FAILURE and DELAY');
      }
      result = { ...result, notify: notify as DsnNotify[] };
    } else if (keyword === 'ORCPT') {
      const semicolon = value.indexOf(';');
      if (semicolon <= 0) throw syntax('ORCPT is addr-type;address');
      const type = value.slice(0, semicolon);
      const encoded = value.slice(semicolon + 1);
      result = {
        ...result,
        orcpt: {
          type,
          address: isUtf8AddressType(type) ? utf8AddressText(encoded) : xtext(encoded, 'ORCPT'),
        },
      };
    } else {
      other.set(keyword, value);
    }
  }
  return { verb: 'RCPT', to, parameters: result };
}

function parseBdat(rest: string): SmtpCommand {
  const match = /^(\d+)(?: +(LAST))? *$/i.exec(rest);
  if (!match) throw syntax('Syntax: BDAT size [LAST]');
  return { verb: 'BDAT', size: octets(match[1]!, 'BDAT'), last: match[2] !== undefined };
}

function parseAuth(rest: string): SmtpCommand {
  const [mechanism = '', initialResponse, ...extra] = rest.trim().split(/ +/);
  if (!SASL_MECHANISM.test(mechanism) || extra.length > 0)
    throw syntax('Syntax: AUTH mechanism [initial-response]');
  if (initialResponse !== undefined && !BASE64_OR_EQUALS.test(initialResponse)) {
    throw syntax('The initial response is base64, or = for an empty one');
  }
  return initialResponse === undefined
    ? { verb: 'AUTH', mechanism: mechanism.toUpperCase() }
    : { verb: 'AUTH', mechanism: mechanism.toUpperCase(), initialResponse };
}

/** XCLIENT / XFORWARD `NAME=value` attributes (Postfix), values decoded from xtext. */
function parseAttributes(rest: string): Map<string, string> {
  const attributes = new Map<string, string>();
  for (const [keyword, value] of parseParameters(rest)) attributes.set(keyword, xtext(value, keyword));
  if (attributes.size === 0) throw syntax('At least one attribute is needed');
  return attributes;
}

function octets(value: string, keyword: string): number {
  if (!/^\d{1,16}$/.test(value) || Number(value) > MAX_OCTETS)
    throw syntax(`${keyword} takes a number of octets`);
  return Number(value);
}

/** The `utf-8` address type of RFC 6533, whose ORCPT value is not xtext. */
function isUtf8AddressType(type: string): boolean {
  return type.toLowerCase() === 'utf-8';
}

/**
 * Decodes an RFC 6533 §3 utf-8-addr-unitext or utf-8-addr-xtext value: `\x{HEX}` escapes, UTF-8 kept
 * as is; a bare `+`, `=`, `\`, space or control is refused.
 */
function utf8AddressText(value: string): string {
  let address = '';
  for (let i = 0; i < value.length; ) {
    const code = value.codePointAt(i)!;
    if (code === 0x5c) {
      const sequence = /^\\x\{([0-9A-F]{1,6})\}/.exec(value.slice(i));
      const point = sequence ? Number.parseInt(sequence[1]!, 16) : 0;
      if (!sequence || point === 0 || point > 0x10ffff || (point >= 0xd800 && point <= 0xdfff)) {
        throw syntax('ORCPT has a malformed \\x{…} escape');
      }
      address += String.fromCodePoint(point);
      i += sequence[0].length;
      continue;
    }
    if (code <= 0x20 || code === 0x7f || code === 0x2b || code === 0x3d) {
      throw syntax('ORCPT holds a character a utf-8 address must escape');
    }
    address += String.fromCodePoint(code);
    i += code > 0xffff ? 2 : 1;
  }
  if (!address) throw syntax('ORCPT is addr-type;address');
  return address;
}

/**
 * The address of an ORCPT as its type wants it: xtext for `rfc822`; for `utf-8` (RFC 6533 §3), \x{HEX}
 * escapes for `+`, `=`, `\`, `<`, `>`, space and controls, and for every non-ASCII character unless the
 * transaction is SMTPUTF8 (utf-8-addr-unitext keeps them as UTF-8).
 */
function encodeOriginalRecipient(orcpt: OriginalRecipient, options: ParseCommandOptions): string {
  if (!isUtf8AddressType(orcpt.type)) return encodeXtext(orcpt.address);
  if (/\p{Cs}/u.test(orcpt.address)) throw new InvalidArgumentError('ORCPT is not well-formed Unicode text');
  let text = '';
  for (const char of orcpt.address) {
    const code = char.codePointAt(0)!;
    const plain =
      code >= 0x80 ? options.smtputf8 === true : code > 0x20 && code < 0x7f && !'+=\\<>'.includes(char);
    text += plain ? char : `\\x{${code.toString(16).toUpperCase().padStart(2, '0')}}`;
  }
  return text;
}

function xtext(value: string, keyword: string): string {
  try {
    return decodeXtext(value);
  } catch (error) {
    throw new SmtpCommandError(501, '5.5.4', `${keyword} is not valid xtext`, { cause: error });
  }
}

/**
 * Writes a command line (without its CRLF), as the client sends it. Every value is checked first: a CR,
 * LF or NUL anywhere, or a path that is not valid, is refused before anything is written (case 31).
 * @throws InvalidArgumentError for a value that cannot be sent.
 */
export function serializeCommand(command: SmtpCommand, options: ParseCommandOptions = {}): string {
  const line = commandLine(command, options);
  if (/[\r\n\0]/.test(line)) throw new InvalidArgumentError('an SMTP command cannot hold CR, LF or NUL');
  return line;
}

function commandLine(command: SmtpCommand, options: ParseCommandOptions): string {
  switch (command.verb) {
    case 'EHLO':
    case 'HELO':
    case 'LHLO':
      if (!command.domain || /\s/.test(command.domain))
        throw new InvalidArgumentError('a HELO name is one word');
      return `${command.verb} ${command.domain}`;
    case 'MAIL': {
      const { parameters } = command;
      const smtputf8 = options.smtputf8 === true || parameters.smtputf8 === true;
      const items = [
        ...(parameters.size !== undefined ? [`SIZE=${parameters.size}`] : []),
        ...(parameters.body ? [`BODY=${parameters.body}`] : []),
        ...(parameters.smtputf8 ? ['SMTPUTF8'] : []),
        ...(parameters.ret ? [`RET=${parameters.ret}`] : []),
        ...(parameters.envid !== undefined ? [`ENVID=${encodeXtext(parameters.envid)}`] : []),
        ...(parameters.auth !== undefined
          ? [`AUTH=${parameters.auth === null ? '<>' : encodeXtext(parameters.auth)}`]
          : []),
        ...(parameters.requireTls ? ['REQUIRETLS'] : []),
        ...otherParameters(parameters.other),
      ];
      return `MAIL FROM:${formatPath(command.from, { smtputf8 })}${items.map((item) => ` ${item}`).join('')}`;
    }
    case 'RCPT': {
      const { parameters } = command;
      const items = [
        ...(parameters.notify ? [`NOTIFY=${parameters.notify.join(',')}`] : []),
        ...(parameters.orcpt
          ? [`ORCPT=${parameters.orcpt.type};${encodeOriginalRecipient(parameters.orcpt, options)}`]
          : []),
        ...otherParameters(parameters.other),
      ];
      return `RCPT TO:${formatPath(command.to, options)}${items.map((item) => ` ${item}`).join('')}`;
    }
    case 'BDAT':
      if (!Number.isSafeInteger(command.size) || command.size < 0)
        throw new InvalidArgumentError('a BDAT size is a count of octets');
      return `BDAT ${command.size}${command.last ? ' LAST' : ''}`;
    case 'NOOP':
    case 'HELP':
      return command.argument ? `${command.verb} ${command.argument}` : command.verb;
    case 'VRFY':
    case 'EXPN':
      return `${command.verb} ${command.argument}`;
    case 'AUTH':
      if (!SASL_MECHANISM.test(command.mechanism))
        throw new InvalidArgumentError('not a SASL mechanism name');
      return command.initialResponse === undefined
        ? `AUTH ${command.mechanism}`
        : `AUTH ${command.mechanism} ${command.initialResponse === '' ? '=' : command.initialResponse}`;
    case 'XCLIENT':
    case 'XFORWARD':
      return `${command.verb}${[...command.attributes].map(([name, value]) => ` ${name}=${encodeXtext(value)}`).join('')}`;
    default:
      return command.verb;
  }
}

function otherParameters(other: ReadonlyMap<string, string>): string[] {
  return [...other].map(([keyword, value]) => {
    if (!PARAMETER.test(value ? `${keyword}=${value}` : keyword)) {
      throw new InvalidArgumentError(`${JSON.stringify(keyword)} is not a valid parameter`);
    }
    return value ? `${keyword}=${value}` : keyword;
  });
}
