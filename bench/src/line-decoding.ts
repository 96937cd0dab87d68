import { pathToFileURL } from 'node:url';
import { DotStuffedDecoder, DotStuffedEncoder, LineDecoder, type LineEndingMode } from '@postwire/core';
import { compareThroughput, type Workload } from './measure.js';
import { type Row, renderTable } from './report.js';

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

/** A deterministic stream of numbers in [0, 1) (a 32-bit LCG), so that every run measures the same message. */
function pseudoRandom(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (Math.imul(state, 1664525) + 1013904223) >>> 0;
    return state / 2 ** 32;
  };
}

/** A plain-text message of about `size` bytes: lines of up to 76 characters, one in 20 starting with a dot. */
function textMessage(size: number): string {
  const random = pseudoRandom(size);
  const words = ['lorem', 'ipsum', 'dolor', 'sit', 'amet', 'consectetur', 'adipiscing', 'elit', 'sed', 'do'];
  let message =
    'From: a@example.com\r\nTo: b@example.com\r\nSubject: Hello\r\nContent-Type: text/plain\r\n\r\n';
  while (message.length < size) {
    let line = random() < 0.05 ? '.' : '';
    while (line.length < 70) line += `${words[Math.floor(random() * words.length)]} `;
    message += `${line.slice(0, 76).trimEnd()}\r\n`;
  }
  return message;
}

/** A message whose body is about `size` bytes of base64 in 76-character lines. */
function base64Message(size: number): string {
  const random = pseudoRandom(7);
  const alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/';
  let message = 'Content-Type: application/octet-stream\r\nContent-Transfer-Encoding: base64\r\n\r\n';
  while (message.length < size) {
    let line = '';
    for (let i = 0; i < 76; i++) line += alphabet[Math.floor(random() * 64)];
    message += `${line}\r\n`;
  }
  return message;
}

/** About `size` bytes of lines of 0 to 8 characters, one in 10 starting with a dot. */
function shortLines(size: number): string {
  const random = pseudoRandom(3);
  let message = '';
  while (message.length < size) {
    const length = Math.floor(random() * 9);
    let line = random() < 0.1 ? '.' : '';
    while (line.length < length) line += 'abcdefgh'[line.length];
    message += `${line}\r\n`;
  }
  return message;
}

/** The bytes in 64 KB chunks, as views of one Node `Buffer` or of one plain `Uint8Array`. */
function chunksOf(bytes: Uint8Array, kind: 'buffer' | 'array'): Uint8Array[] {
  const whole = kind === 'buffer' ? Buffer.from(bytes) : new Uint8Array(bytes);
  const chunks: Uint8Array[] = [];
  for (let offset = 0; offset < whole.length; offset += CHUNK)
    chunks.push(whole.subarray(offset, offset + CHUNK));
  return chunks;
}

/** Dot-stuffs the message (as an SMTP client's DATA or a POP3 server's RETR), `repeat` times per run. */
function encoding(chunks: Uint8Array[], bytes: number, repeat: number): Workload {
  return {
    bytes: bytes * repeat,
    run() {
      let total = 0;
      for (let i = 0; i < repeat; i++) {
        const encoder = new DotStuffedEncoder();
        for (const chunk of chunks) for (const piece of encoder.encode(chunk)) total += piece.length;
        total += encoder.end().length;
      }
      return total;
    },
  };
}

/** Unstuffs the dot-stuffed message up to CRLF.CRLF (as an SMTP server or a POP3 client), `repeat` times per run. */
function decoding(chunks: Uint8Array[], bytes: number, repeat: number): Workload {
  return {
    bytes: bytes * repeat,
    run() {
      let total = 0;
      for (let i = 0; i < repeat; i++) {
        const decoder = new DotStuffedDecoder();
        for (const chunk of chunks) for (const piece of decoder.decode(chunk).data) total += piece.length;
      }
      return total;
    },
  };
}

/**
 * One message dot-stuffed and unstuffed, in 64 KB chunks of a plain `Uint8Array` (ours) and of a Node
 * `Buffer` (the peer column), whose native `indexOf` a scanner might lean on.
 */
async function dotStuffing(label: string, message: string): Promise<Row[]> {
  const raw = Buffer.from(message, 'latin1');
  const encoder = new DotStuffedEncoder();
  const stuffed = Buffer.concat([...encoder.encode(raw), encoder.end()]);
  const repeat = Math.max(1, Math.round(4_000_000 / raw.length));
  const rows: Row[] = [];
  for (const [operation, input, workload] of [
    ['encoding', raw, encoding],
    ['decoding', stuffed, decoding],
  ] as const) {
    const { array, buffer } = await compareThroughput({
      array: workload(chunksOf(input, 'array'), raw.length, repeat),
      buffer: workload(chunksOf(input, 'buffer'), raw.length, repeat),
    });
    rows.push({
      workload: `Dot-stuffing, ${operation} ${label} (Uint8Array chunks)`,
      unit: 'MB/s',
      ours: array,
      peers: { 'the same in Buffer chunks': buffer },
    });
  }
  return rows;
}

/** Dot-stuffing and unstuffing whole messages of several shapes, Uint8Array against Buffer chunks. */
export async function dotStuffingSuite(): Promise<Row[]> {
  return [
    ...(await dotStuffing('a 10 KB text message', textMessage(10_000))),
    ...(await dotStuffing('a 100 KB text message', textMessage(100_000))),
    ...(await dotStuffing('a 1 MB base64 body', base64Message(1_000_000))),
    ...(await dotStuffing('100 KB of lines of 0–8 bytes', shortLines(100_000))),
  ];
}

/** The line-core rows of docs/benchmarks.md. */
export async function lineDecodingSuite(): Promise<Row[]> {
  return [
    await kilobyteLines('crlf'),
    await kilobyteLines('lenient'),
    await hundredMegabyteLiteral(),
    await dotStuffedData(`${'y'.repeat(76)}\r\n`, 'plain text'),
    await dotStuffedData(`..${'y'.repeat(74)}\r\n`, 'every one dot-stuffed'),
    ...(await dotStuffingSuite()),
  ];
}

// Run directly (`node --import tsx src/line-decoding.ts [dot-stuffing]`): these rows alone, or only the
// dot-stuffing ones, as a Markdown table.
if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  const rows = process.argv[2] === 'dot-stuffing' ? await dotStuffingSuite() : await lineDecodingSuite();
  process.stdout.write(`${renderTable(rows).join('\n')}\n`);
}
