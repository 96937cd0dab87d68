import { InvalidArgumentError } from '@postwire/core';
import {
  AUTHENTICATION_RESULTS_FIELD,
  type AuthenticationResult,
  type AuthenticationResults,
} from './types.js';

/** How to write the field. */
export interface FormatAuthenticationResultsOptions {
  /**
   * Fold the field into lines of at most 78 columns (RFC 5322 §2.1.1), with CRLF and a space, between its
   * words; a word longer than a line stays whole on a line of its own. Default false: one line.
   */
  fold?: boolean;
}

const FOLD_WIDTH = 78;
/** Where the value starts on the field's first line: after `Authentication-Results: `. */
const VALUE_COLUMN = AUTHENTICATION_RESULTS_FIELD.length + 2;

/** A C0 control but HTAB, or DEL: a line break or NUL would end or corrupt the header. */
const CONTROL = /[\u0000-\u0008\u000a-\u001f\u007f]/;
/** A keyword: letters, digits and hyphens, not ending with a hyphen (RFC 8601 §2.2, RFC 5321 `Ldh-str`). */
const KEYWORD = /^[A-Za-z0-9-]*[A-Za-z0-9]$/;
/** An RFC 2045 `token`: printable US-ASCII but the specials `()<>@,;:\"/[]?=`. */
const TOKEN = /^[!#$%&'*+\-.0-9A-Z^_`a-z{|}~]+$/;
/** An optional dot-atom local part, `@`, and a domain name: the unquoted `pvalue` form (RFC 8601 §2.2). */
const ADDRESS =
  /^(?:[!#$%&'*+\-/=?^_`{|}~0-9A-Za-z]+(?:\.[!#$%&'*+\-/=?^_`{|}~0-9A-Za-z]+)*)?@[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?)*$/;

/**
 * The value of an Authentication-Results field, without the field name: `authserv-id; none` when there are
 * no results. Values are quoted unless they are tokens (or, for properties, `local@domain`); the reason is
 * always quoted; no comments are written. With `fold`, lines are counted as if the value followed
 * `Authentication-Results: ` on the first line.
 * @throws InvalidArgumentError for a control character (CR, LF, NUL …) in any text, an empty authserv-id,
 * a method, result, property type or property that is not a keyword, or a version that is not a
 * non-negative integer.
 */
export function formatAuthenticationResults(
  value: AuthenticationResults,
  options: FormatAuthenticationResultsOptions = {},
): string {
  const words = fieldWords(value);
  return options.fold ? fold(words) : words.join(' ');
}

/**
 * The whole field, `Authentication-Results: <value>` and a final CRLF, ready to prepend to a message.
 * @throws InvalidArgumentError as {@link formatAuthenticationResults}.
 */
export function formatAuthenticationResultsField(
  value: AuthenticationResults,
  options: FormatAuthenticationResultsOptions = {},
): string {
  return `${AUTHENTICATION_RESULTS_FIELD}: ${formatAuthenticationResults(value, options)}\r\n`;
}

/** The field's words, each to be separated from the next by white space; `;` ends each group. */
function fieldWords(value: AuthenticationResults): string[] {
  if (value.authservId === '') throw new InvalidArgumentError('the authserv-id is empty');
  const words = [formatValue('authserv-id', value.authservId)];
  if (value.version !== undefined) words.push(String(checkVersion('version', value.version)));
  if (value.results.length === 0) {
    words.push('none');
    endGroup(words, -2);
    return words;
  }
  for (const result of value.results) {
    endGroup(words, -1);
    words.push(...resultWords(result));
  }
  return words;
}

/** Appends `;` to a word counted from the end. */
function endGroup(words: string[], fromEnd: number): void {
  const index = words.length + fromEnd;
  words[index] = `${words[index]};`;
}

function resultWords(result: AuthenticationResult): string[] {
  const version =
    result.methodVersion === undefined ? '' : `/${checkVersion('method version', result.methodVersion)}`;
  const words = [
    `${checkKeyword('method', result.method)}${version}=${checkKeyword('result', result.result)}`,
  ];
  if (result.reason !== undefined) words.push(`reason=${quote('reason', result.reason)}`);
  for (const { type, property, value } of result.properties) {
    const name = `${checkKeyword('property type', type)}.${checkKeyword('property', property)}`;
    const text = ADDRESS.test(value) ? value : formatValue(name, value);
    words.push(`${name}=${text}`);
  }
  return words;
}

/** Lines of at most {@link FOLD_WIDTH} columns where the words allow, joined by CRLF and a space. */
function fold(words: readonly string[]): string {
  let folded = words[0]!;
  let column = VALUE_COLUMN + folded.length;
  for (const word of words.slice(1)) {
    if (column + 1 + word.length > FOLD_WIDTH) {
      folded += `\r\n ${word}`;
      column = 1 + word.length;
    } else {
      folded += ` ${word}`;
      column += 1 + word.length;
    }
  }
  return folded;
}

function checkKeyword(what: string, name: string): string {
  if (!KEYWORD.test(name)) throw new InvalidArgumentError(`the ${what} "${name}" is not a keyword`);
  return name;
}

function checkVersion(what: string, version: number): number {
  if (!Number.isSafeInteger(version) || version < 0) {
    throw new InvalidArgumentError(`the ${what} must be a non-negative integer`);
  }
  return version;
}

/** A token as is, anything else quoted. */
function formatValue(what: string, text: string): string {
  return TOKEN.test(text) ? text : quote(what, text);
}

function quote(what: string, text: string): string {
  if (CONTROL.test(text))
    throw new InvalidArgumentError(`the ${what} contains a line break or control character`);
  return `"${text.replace(/["\\]/g, '\\$&')}"`;
}
