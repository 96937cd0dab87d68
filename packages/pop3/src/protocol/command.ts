import { InvalidArgumentError, ProtocolError } from '@postwire/core';

/** One POP3 command, parsed (RFC 1939, RFC 2449 CAPA, RFC 2595 STLS, RFC 5034 AUTH, RFC 6856 UTF8/LANG). */
export type Pop3Command =
  | {
      /** The command's name. */
      readonly verb: 'USER';
      /** The user name. */
      readonly name: string;
    }
  /** The password is the rest of the line, spaces included (RFC 1939 §7). */
  | {
      /** The command's name. */
      readonly verb: 'PASS';
      /** The password. */
      readonly password: string;
    }
  | {
      /** The command's name. */
      readonly verb: 'APOP';
      /** The user name. */
      readonly name: string;
      /** The MD5 digest, in lowercase hex. */
      readonly digest: string;
    }
  /** AUTH alone lists the mechanisms (as some clients expect); `initialResponse` is base64 or `=`. */
  | {
      /** The command's name. */
      readonly verb: 'AUTH';
      /** The SASL mechanism, upper-cased. */
      readonly mechanism?: string;
      /** The initial response, when given. */
      readonly initialResponse?: string;
    }
  | {
      /** The command's name. */
      readonly verb: 'LIST' | 'UIDL';
      /** The message number; without it, every message. */
      readonly message?: number;
    }
  | {
      /** The command's name. */
      readonly verb: 'RETR' | 'DELE';
      /** The message number. */
      readonly message: number;
    }
  | {
      /** The command's name. */
      readonly verb: 'TOP';
      /** The message number. */
      readonly message: number;
      /** How many body lines to send after the header. */
      readonly lines: number;
    }
  | {
      /** The command's name. */
      readonly verb: 'LANG';
      /** The language tag, or `*`; without it, a request for the list. */
      readonly language?: string;
    }
  | {
      /** The command's name. */
      readonly verb: 'CAPA' | 'STLS' | 'UTF8' | 'STAT' | 'NOOP' | 'RSET' | 'QUIT';
    };

/** Every verb {@link parsePop3Command} knows. */
export type Pop3Verb = Pop3Command['verb'];

/** A command line the server refuses: the text says why (sent after `-ERR`). */
export class Pop3CommandError extends ProtocolError {}

/** RFC 2449 §4: a command line is at most 255 octets with its CRLF; an argument at most 40 characters. */
export const POP3_MAX_COMMAND_LINE = 253;
const MAX_ARGUMENT = 40;

const NO_ARGUMENT = new Set(['CAPA', 'STLS', 'UTF8', 'STAT', 'NOOP', 'RSET', 'QUIT']);
const SASL_MECHANISM = /^[A-Za-z0-9_-]{1,20}$/;
const BASE64_OR_EQUALS = /^(?:=|[A-Za-z0-9+/]+={0,2})$/;
const MESSAGE_NUMBER = /^[1-9][0-9]{0,9}$/;
const DIGEST = /^[0-9a-fA-F]{32}$/;
/** A language tag (RFC 5646, loosely) or `*`. */
const LANGUAGE = /^(?:\*|[A-Za-z]{1,8}(?:-[A-Za-z0-9]{1,8})*)$/;

/**
 * Parses one command line (without its CRLF), as the server reads it. The verb is case-insensitive;
 * arguments are separated by one space (several are tolerated). Message numbers are 1 to 2³²−1.
 * @throws Pop3CommandError with the reason to send after `-ERR`.
 */
export function parsePop3Command(line: string): Pop3Command {
  if (/[\r\n\0]/.test(line)) throw new Pop3CommandError('Line breaks and NUL are not allowed in a command');
  const space = line.indexOf(' ');
  const verb = (space === -1 ? line : line.slice(0, space)).toUpperCase();
  const rest = space === -1 ? '' : line.slice(space + 1);
  if (verb === 'PASS') {
    if (rest === '') throw new Pop3CommandError('PASS needs a password');
    return { verb, password: rest };
  }
  const args = rest.split(' ').filter((arg) => arg !== '');
  // RFC 5034 §4: AUTH's initial response is not held to RFC 2449's 40 characters.
  const limited = verb === 'AUTH' ? args.slice(0, 1) : args;
  if (limited.some((arg) => arg.length > MAX_ARGUMENT)) throw new Pop3CommandError('Argument too long');
  const count = (min: number, max: number): void => {
    if (args.length < min || args.length > max)
      throw new Pop3CommandError(`Wrong number of arguments for ${verb}`);
  };
  if (NO_ARGUMENT.has(verb)) {
    count(0, 0);
    return { verb } as Pop3Command;
  }
  switch (verb) {
    case 'USER':
      count(1, 1);
      return { verb, name: args[0]! };
    case 'APOP':
      count(2, 2);
      if (!DIGEST.test(args[1]!)) throw new Pop3CommandError('The APOP digest is 32 hexadecimal digits');
      return { verb, name: args[0]!, digest: args[1]!.toLowerCase() };
    case 'AUTH': {
      count(0, 2);
      if (args.length === 0) return { verb };
      const mechanism = args[0]!.toUpperCase();
      if (!SASL_MECHANISM.test(mechanism)) throw new Pop3CommandError('Not a SASL mechanism name');
      if (args.length === 1) return { verb, mechanism };
      if (!BASE64_OR_EQUALS.test(args[1]!)) throw new Pop3CommandError('The initial response is not base64');
      return { verb, mechanism, initialResponse: args[1]! };
    }
    case 'LIST':
    case 'UIDL':
      count(0, 1);
      return args.length === 0 ? { verb } : { verb, message: messageNumber(args[0]!) };
    case 'RETR':
    case 'DELE':
      count(1, 1);
      return { verb, message: messageNumber(args[0]!) };
    case 'TOP': {
      count(2, 2);
      if (!/^[0-9]{1,10}$/.test(args[1]!)) throw new Pop3CommandError('TOP needs a count of lines');
      return { verb, message: messageNumber(args[0]!), lines: Math.min(Number(args[1]), 2 ** 32 - 1) };
    }
    case 'LANG':
      count(0, 1);
      if (args.length === 0) return { verb };
      if (!LANGUAGE.test(args[0]!)) throw new Pop3CommandError('Not a language tag');
      return { verb, language: args[0]! };
    default:
      throw new Pop3CommandError('Unknown command');
  }
}

function messageNumber(text: string): number {
  const value = Number(text);
  if (!MESSAGE_NUMBER.test(text) || value > 2 ** 32 - 1) throw new Pop3CommandError('Invalid message number');
  return value;
}

/**
 * Writes a command line (without its CRLF), as the client sends it. Every value is checked first: CR,
 * LF or NUL anywhere, a space inside a single-word argument, or a mechanism name that is not one, is
 * refused before anything is written.
 * @throws InvalidArgumentError for a value that cannot be sent.
 */
export function serializePop3Command(command: Pop3Command): string {
  const line = commandLine(command);
  if (/[\r\n\0]/.test(line)) throw new InvalidArgumentError('a POP3 command cannot hold CR, LF or NUL');
  return line;
}

function word(value: string, what: string): string {
  if (value === '' || /[\s]/.test(value)) throw new InvalidArgumentError(`${what} must be one word`);
  return value;
}

function number(value: number): string {
  if (!Number.isInteger(value) || value < 1 || value > 2 ** 32 - 1) {
    throw new InvalidArgumentError('a message number is an integer from 1');
  }
  return String(value);
}

function commandLine(command: Pop3Command): string {
  switch (command.verb) {
    case 'USER':
      return `USER ${word(command.name, 'a user name')}`;
    case 'PASS':
      if (command.password === '') throw new InvalidArgumentError('an empty password cannot be sent');
      return `PASS ${command.password}`;
    case 'APOP':
      if (!DIGEST.test(command.digest))
        throw new InvalidArgumentError('an APOP digest is 32 hexadecimal digits');
      return `APOP ${word(command.name, 'a user name')} ${command.digest}`;
    case 'AUTH':
      if (command.mechanism === undefined) return 'AUTH';
      if (!SASL_MECHANISM.test(command.mechanism))
        throw new InvalidArgumentError('not a SASL mechanism name');
      return command.initialResponse === undefined
        ? `AUTH ${command.mechanism}`
        : `AUTH ${command.mechanism} ${command.initialResponse === '' ? '=' : command.initialResponse}`;
    case 'LIST':
    case 'UIDL':
      return command.message === undefined ? command.verb : `${command.verb} ${number(command.message)}`;
    case 'RETR':
    case 'DELE':
      return `${command.verb} ${number(command.message)}`;
    case 'TOP':
      if (!Number.isInteger(command.lines) || command.lines < 0) {
        throw new InvalidArgumentError('TOP takes a count of lines from 0');
      }
      return `TOP ${number(command.message)} ${command.lines}`;
    case 'LANG':
      return command.language === undefined ? 'LANG' : `LANG ${word(command.language, 'a language tag')}`;
    default:
      return command.verb;
  }
}
