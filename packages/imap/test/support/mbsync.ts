import { mkdir, readdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { CLIENT_DEADLINE, type ImapEndpoint, runProcess } from './peer.js';

/**
 * `mbsync` (isync 1.4) as a real IMAP client: one channel between a mailbox on any
 * {@link ImapEndpoint} (the far side) and a local Maildir (the near side), synchronised in both
 * directions. Everything lives in one working directory, so calling {@link runMbsync} again with the
 * same `dir` synchronises incrementally, as a user's cron job would. With TLS the endpoint's host must
 * be a name the certificate lists (`localhost`): isync matches DNS names only, never IP addresses.
 * Messages travel with an `X-TUID` header mbsync adds, and with LF line ends on the local side.
 */

/** Options of {@link runMbsync}. */
export interface MbsyncOptions {
  /** The working directory: `mbsyncrc`, `ca.pem` and the local Maildir store `local/` (created). */
  readonly dir: string;
  /** The far mailbox, also the near one's name (default `INBOX`, kept in `local/INBOX`). */
  readonly mailbox?: string;
  /** mbsync's `Sync` (default `All`; e.g. `Pull`, `Push`, `Pull New`). */
  readonly sync?: string;
  /** mbsync's `Expunge` (default `None`). */
  readonly expunge?: 'None' | 'Far' | 'Near' | 'Both';
  /** mbsync's `AuthMechs` (default `*`: the best the server offers that mbsync knows). */
  readonly authMechs?: string;
  readonly deadline?: number;
}

/** A message in the local Maildir. */
export interface LocalMessage {
  /** The file name (mbsync adds `,U=<uid>` once it has numbered the message). */
  readonly name: string;
  readonly subdir: 'new' | 'cur';
  /**
   * The UID in the file name (`,U=<uid>`), or null: mbsync's own UID for the message in the local
   * Maildir, which is the far UID only as long as both sides numbered their messages in the same order
   * (a local message added before a far one was pulled shifts them). See {@link farUid}.
   */
  readonly uid: number | null;
  /** The far side's UID of the message, from mbsync's sync state (`.mbsyncstate`), or null. */
  readonly farUid: number | null;
  /** The Maildir flag letters after `:2,` (`S` seen, `F` flagged, `R` replied, `T` trashed, `D` draft). */
  readonly flags: string;
  readonly text: string;
}

/** How a run ended and what the local Maildir holds afterwards. */
export interface MbsyncResult {
  readonly code: number | null;
  readonly stdout: string;
  readonly stderr: string;
  /** The local mailbox's messages, by far UID (unknown UIDs last, by name). */
  readonly messages: LocalMessage[];
}

/** The local Maildir of `mailbox` under a working directory. */
export function localMaildir(dir: string, mailbox = 'INBOX'): string {
  return join(dir, 'local', mailbox);
}

/** A quoted string in mbsync's configuration. */
function quote(value: string): string {
  return `"${value.replace(/[\\"]/g, (c) => `\\${c}`)}"`;
}

/**
 * Runs `mbsync` once for the channel between `endpoint`'s mailbox and the local Maildir; resolves
 * its exit code and output (it does not throw when mbsync fails) and the local messages. Rejects
 * when the deadline passes (mbsync is killed).
 */
export async function runMbsync(endpoint: ImapEndpoint, options: MbsyncOptions): Promise<MbsyncResult> {
  const mailbox = options.mailbox ?? 'INBOX';
  const deadline = options.deadline ?? CLIENT_DEADLINE;
  const tls = endpoint.tls ?? 'none';
  const rc = join(options.dir, 'mbsyncrc');
  await mkdir(join(options.dir, 'local'), { recursive: true });
  if (endpoint.ca !== undefined) await writeFile(join(options.dir, 'ca.pem'), endpoint.ca);
  const lines = [
    'IMAPAccount far',
    `Host ${endpoint.host}`,
    `Port ${endpoint.port}`,
    `User ${quote(endpoint.user)}`,
    `Pass ${quote(endpoint.password)}`,
    `SSLType ${{ none: 'None', starttls: 'STARTTLS', implicit: 'IMAPS' }[tls]}`,
    ...(endpoint.ca !== undefined ? [`CertificateFile ${join(options.dir, 'ca.pem')}`] : []),
    `AuthMechs ${options.authMechs ?? '*'}`,
    `Timeout ${Math.ceil(deadline / 1000)}`,
    '',
    'IMAPStore far',
    'Account far',
    '',
    'MaildirStore near',
    `Path ${join(options.dir, 'local')}/`,
    `Inbox ${localMaildir(options.dir)}`,
    'SubFolders Verbatim',
    '',
    'Channel sync',
    `Far :far:${quote(mailbox)}`,
    `Near :near:${quote(mailbox)}`,
    'Create Both',
    `Sync ${options.sync ?? 'All'}`,
    `Expunge ${options.expunge ?? 'None'}`,
    'SyncState *',
  ];
  await writeFile(rc, `${lines.join('\n')}\n`, { mode: 0o600 });
  const run = await runProcess('mbsync', ['-c', rc, 'sync'], { deadline });
  if (run.timedOut) throw new Error(`mbsync overran ${deadline} ms\n${run.stdout}${run.stderr}`);
  return {
    code: run.code,
    stdout: run.stdout.toString('utf8'),
    stderr: run.stderr,
    messages: await readLocalMaildir(localMaildir(options.dir, mailbox)),
  };
}

/** The messages of a local Maildir (`new/` and `cur/`), by local UID; none when it does not exist. */
export async function readLocalMaildir(path: string): Promise<LocalMessage[]> {
  const messages: LocalMessage[] = [];
  const farUids = await readSyncState(path);
  for (const subdir of ['new', 'cur'] as const) {
    const names = await readdir(join(path, subdir)).catch((error: NodeJS.ErrnoException) => {
      if (error.code === 'ENOENT') return [];
      throw error;
    });
    for (const name of names) {
      const uid = /,U=(\d+)/.exec(name);
      messages.push({
        name,
        subdir,
        uid: uid ? Number(uid[1]) : null,
        farUid: uid ? (farUids.get(Number(uid[1])) ?? null) : null,
        flags: /:2,([A-Za-z]*)$/.exec(name)?.[1] ?? '',
        text: await readFile(join(path, subdir, name), 'utf8'),
      });
    }
  }
  const order = (m: LocalMessage): number => m.uid ?? Number.MAX_SAFE_INTEGER;
  return messages.sort((a, b) => order(a) - order(b) || a.name.localeCompare(b.name));
}

/**
 * The far UID of each local UID, from the `.mbsyncstate` that `SyncState *` keeps in the local Maildir:
 * header lines, an empty line, then one `<far uid> <near uid> <flags>` line per pair (isync 1.4).
 */
async function readSyncState(path: string): Promise<Map<number, number>> {
  const text = await readFile(join(path, '.mbsyncstate'), 'utf8').catch((error: NodeJS.ErrnoException) => {
    if (error.code === 'ENOENT') return '';
    throw error;
  });
  const pairs = new Map<number, number>();
  for (const line of text.split('\n').slice(text.split('\n').indexOf('') + 1)) {
    const pair = /^(\d+) (\d+)\b/.exec(line);
    if (pair && pair[2] !== '0') pairs.set(Number(pair[2]), Number(pair[1]));
  }
  return pairs;
}

let added = 0;

/**
 * Writes a new message into the local Maildir of `mailbox` (its `new/`, or `cur/` with `flags`), as a
 * mail client would, for the next {@link runMbsync} to upload; resolves the file name.
 */
export async function addLocalMessage(
  dir: string,
  text: string,
  mailbox = 'INBOX',
  flags = '',
): Promise<string> {
  const maildir = localMaildir(dir, mailbox);
  for (const subdir of ['new', 'cur', 'tmp']) await mkdir(join(maildir, subdir), { recursive: true });
  const base = `${Math.floor(Date.now() / 1000)}.P${process.pid}Q${++added}.postwire`;
  const name = flags ? `${base}:2,${flags}` : base;
  await writeFile(join(maildir, flags ? 'cur' : 'new', name), text);
  return name;
}
