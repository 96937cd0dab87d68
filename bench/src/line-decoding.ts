import { DotStuffedDecoder, LineDecoder, type LineEndingMode } from '@postwire/core';
import { compareThroughput, type Workload } from './measure.js';
import type { Row } from './report.js';

const CHUNK = 64 * 1024;
const LIMIT = 'Buffer.indexOf scan (limit)';
const SPLITTER = 'Buffer.indexOf + subarray splitter';

/** Splits a buffer into socket-sized chunks, as views. */
function chunked(data: Buffer): Buffer[] {
  const chunks: Buffer[] = [];
  for (let offset = 0; offset < data.length; offset += CHUNK)
    chunks.push(data.subarray(offset, offset + CHUNK));
  return chunks;
}

/** The practical limit: `Buffer.indexOf` finding every LF in the same chunks, with no line handling. */
function indexOfScan(chunks: Buffer[], bytes: number): Workload {
  return {
    bytes,
    run() {
      let found = 0;
      for (const chunk of chunks) {
        for (let at = chunk.indexOf(0x0a); at !== -1; at = chunk.indexOf(0x0a, at + 1)) found++;
      }
      return found;
    },
  };
}

/** The least a line splitter does: find each LF and hand out a view of the line (lines across chunks are dropped). */
function naiveSplitter(chunks: Buffer[], bytes: number): Workload {
  return {
    bytes,
    run() {
      let total = 0;
      for (const chunk of chunks) {
        let start = 0;
        for (let at = chunk.indexOf(0x0a); at !== -1; at = chunk.indexOf(0x0a, at + 1)) {
          total += chunk.subarray(start, at).length;
          start = at + 1;
        }
      }
      return total;
    },
  };
}

/** Our decoder over the chunks; every line's bytes are touched, as a protocol parser would. */
function lineDecoding(
  chunks: Buffer[],
  bytes: number,
  mode: LineEndingMode,
  onLine?: (line: Uint8Array, decoder: LineDecoder) => void,
): Workload {
  return {
    bytes,
    run() {
      const decoder = new LineDecoder({ maxLineLength: 8192, mode });
      let total = 0;
      for (const chunk of chunks) {
        decoder.push(chunk);
        for (let event = decoder.next(); event; event = decoder.next()) {
          if (event.type === 'line') {
            total += event.line.length;
            onLine?.(event.line, decoder);
          } else if (event.type === 'bytes') {
            total += event.data.length;
          }
        }
      }
      return total;
    },
  };
}

/**
 * 64 MB of 1 KB lines (1,022 bytes + CRLF). `crlf` mode also checks every byte for a stray CR, a
 * second pass over the line; `lenient` mode finds line ends only.
 */
async function kilobyteLines(mode: LineEndingMode): Promise<Row> {
  const data = Buffer.from(`${'x'.repeat(1022)}\r\n`.repeat(64 * 1024), 'latin1');
  const chunks = chunked(data);
  const { ours, ...peers } = await compareThroughput({
    ours: lineDecoding(chunks, data.length, mode),
    [LIMIT]: indexOfScan(chunks, data.length),
    [SPLITTER]: naiveSplitter(chunks, data.length),
  });
  return {
    workload: `Line decoding, 1 KB CRLF lines, ${mode} mode (64 MB in 64 KB chunks)`,
    unit: 'MB/s',
    ours,
    peers,
  };
}

/** A 100 MB IMAP literal announced by `{104857600}`, streamed through `readBytes`. */
async function hundredMegabyteLiteral(): Promise<Row> {
  const size = 100 * 1024 * 1024;
  const head = Buffer.from(`A1 APPEND INBOX {${size}}\r\n`, 'latin1');
  const data = Buffer.concat([head, Buffer.alloc(size, 'literal line of text\r\n'), Buffer.from('\r\n')]);
  const chunks = chunked(data);
  const { ours, ...peers } = await compareThroughput(
    {
      ours: lineDecoding(chunks, data.length, 'crlf', (line, decoder) => {
        if (line[line.length - 1] === 0x7d) decoder.readBytes(size);
      }),
      [LIMIT]: indexOfScan(chunks, data.length),
    },
    { rounds: 5 },
  );
  return { workload: 'Line decoding, one 100 MB literal (64 KB chunks)', unit: 'MB/s', ours, peers };
}

/** 64 MB of SMTP DATA in 78-byte lines, unstuffed up to CRLF.CRLF. */
async function dotStuffedData(line: string, label: string): Promise<Row> {
  const data = Buffer.concat([Buffer.from(line.repeat(860_000), 'latin1'), Buffer.from('.\r\n')]);
  const chunks = chunked(data);
  const { ours, ...peers } = await compareThroughput({
    ours: {
      bytes: data.length,
      run() {
        const decoder = new DotStuffedDecoder();
        let total = 0;
        for (const chunk of chunks) for (const piece of decoder.decode(chunk).data) total += piece.length;
        return total;
      },
    },
    [LIMIT]: indexOfScan(chunks, data.length),
  });
  return {
    workload: `Dot-stuffed DATA, 78-byte lines, ${label} (64 MB)`,
    unit: 'MB/s',
    ours,
    peers,
  };
}

/** The line-core rows of docs/benchmarks.md. */
export async function lineDecodingSuite(): Promise<Row[]> {
  return [
    await kilobyteLines('crlf'),
    await kilobyteLines('lenient'),
    await hundredMegabyteLiteral(),
    await dotStuffedData(`${'y'.repeat(76)}\r\n`, 'plain text'),
    await dotStuffedData(`..${'y'.repeat(74)}\r\n`, 'every one dot-stuffed'),
  ];
}
