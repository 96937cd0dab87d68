import { isToken } from './cfws.js';
import { type ParameterOptions, parseParameterizedValue } from './parameters.js';

/** A parsed Content-Type field (RFC 2045 §5). */
export interface ContentType {
  /** Lower-cased top-level type, such as `text`. */
  type: string;
  /** Lower-cased subtype, such as `plain`. */
  subtype: string;
  /** `type/subtype`, lower-cased. */
  mediaType: string;
  /** Parameters by lower-cased name (see `parseParameterizedValue` for the merge rule). */
  parameters: Record<string, string>;
  /** Defect codes, each once. */
  defects: string[];
}

/** A parsed Content-Disposition field (RFC 2183). */
export interface ContentDisposition {
  /** Lower-cased disposition type: `inline`, `attachment`, or another token as written. */
  type: string;
  /** Parameters by lower-cased name, such as `filename`. */
  parameters: Record<string, string>;
  /** Defect codes, each once. */
  defects: string[];
}

/** RFC 2045 token: printable ASCII except space and tspecials. */

/**
 * Parses a Content-Type value. A missing field (`undefined`) means `text/plain; charset=us-ascii`
 * (RFC 2045 §5.2). A media type that is not `token/token` gets the same default with the defect
 * `invalid-content-type`; its parameters are kept, and `charset` defaults to `us-ascii` only when
 * none was given (a declared charset is the best guess about the body even then).
 */
export function parseContentType(value: string | undefined, options: ParameterOptions = {}): ContentType {
  if (value === undefined) return defaultContentType(Object.create(null), []);
  const parsed = parseParameterizedValue(value, options);
  const slash = parsed.value.indexOf('/');
  const type = parsed.value.slice(0, slash).toLowerCase();
  const subtype = parsed.value.slice(slash + 1).toLowerCase();
  if (slash === -1 || !isToken(type) || !isToken(subtype)) {
    return defaultContentType(parsed.parameters, [...parsed.defects, 'invalid-content-type']);
  }
  return {
    type,
    subtype,
    mediaType: `${type}/${subtype}`,
    parameters: parsed.parameters,
    defects: parsed.defects,
  };
}

function defaultContentType(parameters: Record<string, string>, defects: string[]): ContentType {
  parameters.charset ??= 'us-ascii';
  return { type: 'text', subtype: 'plain', mediaType: 'text/plain', parameters, defects };
}

/**
 * Parses a Content-Disposition value. A missing or malformed disposition type reads as
 * `attachment` with the defect `invalid-content-disposition` (RFC 2183 §2.8: unknown dispositions
 * are handled as attachments); other tokens are kept as written, lower-cased.
 */
export function parseContentDisposition(value: string, options: ParameterOptions = {}): ContentDisposition {
  const parsed = parseParameterizedValue(value, options);
  const type = parsed.value.toLowerCase();
  if (!isToken(type)) {
    return {
      type: 'attachment',
      parameters: parsed.parameters,
      defects: [...parsed.defects, 'invalid-content-disposition'],
    };
  }
  return { type, parameters: parsed.parameters, defects: parsed.defects };
}
