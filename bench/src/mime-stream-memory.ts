import { fork } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import type { Row } from './report.js';

const GIGABYTE = 1_000_000_000;

/** Runs one parser over a generated message in a child process; resolves with its peak RSS in MB. */
function measure(parser: string, size: number): Promise<number | undefined> {
  return new Promise((resolve) => {
    const script = fileURLToPath(new URL('./stream-memory-child.mjs', import.meta.url));
    // The peers hold the whole message, so they need a bigger heap than Node's default to finish; a
    // bigger heap also lets V8 collect later, so the streaming parser runs with the default one.
    const child = fork(script, [parser, String(size)], {
      execArgv: parser === 'ours' ? [] : ['--max-old-space-size=8192'],
      stdio: ['ignore', 'ignore', 'ignore', 'ipc'],
    });
    let peak: number | undefined;
    child.on('message', (message: { peakRssMb: number }) => {
      peak = message.peakRssMb;
    });
    child.on('exit', () => resolve(peak));
  });
}

/** Peak resident memory while parsing a 1 GB message: ours streams it, the peers need it whole. */
export async function mimeStreamMemorySuite(): Promise<Row[]> {
  const ours = await measure('ours', GIGABYTE);
  const peers: Record<string, number> = {};
  for (const peer of ['postal-mime', 'mailparser']) {
    const peak = await measure(peer, GIGABYTE);
    if (peak !== undefined) peers[peer] = peak;
    else console.log(`${peer} did not finish parsing the 1 GB message`);
  }
  if (ours === undefined) throw new Error('the streaming parser did not finish the 1 GB message');
  return [
    {
      workload: 'Stream a generated 1 GB message with attachments: peak RSS',
      unit: 'MB',
      ours,
      peers,
      lowerIsBetter: true,
    },
  ];
}
