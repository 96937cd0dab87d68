import { fileURLToPath } from 'node:url';
import { type PeerProcess, spawnPeer, tsxCommand } from '../../../core/test/support/peer-process.js';

/** The mail server script (mail-server.ts), run from source by tsx. */
const SCRIPT = fileURLToPath(new URL('./mail-server.ts', import.meta.url));

/** True when the mail server processes can run here (tsx is installed). */
export function mailServersAvailable(): boolean {
  return tsxCommand(SCRIPT) !== undefined;
}

/** A mail server process and the port it listens on. */
export interface MailServer {
  readonly port: number;
  readonly peer: PeerProcess;
}

/**
 * Starts one mail server process: `imap`, `imap-distributed` or `pop3` over the PostgreSQL database at
 * `location` (a connection string), or `imap-maildir` over the Maildir directory at `location`; resolves once
 * it listens.
 */
export async function startMailServer(
  kind: 'imap' | 'pop3' | 'imap-maildir' | 'imap-distributed',
  location: string,
): Promise<MailServer> {
  const command = tsxCommand(SCRIPT);
  if (!command) throw new Error('tsx is needed to run the mail server processes');
  const peer = spawnPeer(command.command, [...command.args, kind, location], { env: command.env });
  const deadline = Date.now() + 30_000;
  for (;;) {
    const line = peer
      .output()
      .split('\n')
      .find((each) => each.startsWith('{'));
    if (line) return { port: (JSON.parse(line) as { port: number }).port, peer };
    if (!peer.running() || Date.now() > deadline)
      throw new Error(`the ${kind} server did not start:\n${peer.output()}`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}
