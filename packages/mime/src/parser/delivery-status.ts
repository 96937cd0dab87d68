import { CR, LF } from '@postwire/core';
import { defaultMimeLimits } from '../limits.js';
import { type HeaderBlockLimits, parseHeaderBlock } from './header-block.js';
import { unfoldValue } from './header-value.js';

/** The fields of a `message/delivery-status` body (RFC 3464 §2.1), by lower-case name, unfolded. */
export interface DeliveryStatus {
  /** The per-message fields (`Reporting-MTA`, `Arrival-Date` …). */
  readonly message: Record<string, string>;
  /** The per-recipient fields (`Final-Recipient`, `Action`, `Status`, `Diagnostic-Code` …), one entry each. */
  readonly recipients: Record<string, string>[];
}

/**
 * Reads a delivery-status body: blocks of header fields separated by blank lines, the first per message
 * and the others per recipient. A repeated field keeps its first value.
 */
export function parseDeliveryStatus(
  bytes: Uint8Array,
  limits: HeaderBlockLimits = defaultMimeLimits,
): DeliveryStatus {
  const blocks: Record<string, string>[] = [];
  const add = (block: Uint8Array) => {
    const fields = readBlock(block, limits);
    if (fields) blocks.push(fields);
  };
  let blockStart = 0;
  let pos = 0;
  for (let lf = bytes.indexOf(LF); lf !== -1; lf = bytes.indexOf(LF, pos)) {
    if (lf === pos || (lf === pos + 1 && bytes[pos] === CR)) {
      if (pos > blockStart) add(bytes.subarray(blockStart, pos));
      blockStart = lf + 1;
    }
    pos = lf + 1;
  }
  if (blockStart < bytes.length) add(bytes.subarray(blockStart));
  return { message: blocks[0] ?? {}, recipients: blocks.slice(1) };
}

function readBlock(bytes: Uint8Array, limits: HeaderBlockLimits): Record<string, string> | undefined {
  const { fields } = parseHeaderBlock(bytes, limits);
  if (fields.length === 0) return undefined;
  const values: Record<string, string> = Object.create(null);
  for (const field of fields)
    if (!Object.hasOwn(values, field.key)) values[field.key] = unfoldValue(field.value);
  return values;
}
