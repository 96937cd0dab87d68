import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { CLIENT_DEADLINE, type ImapEndpoint, runProcess, withCaFile } from './peer.js';

/**
 * `curl` as a real IMAP client against any {@link ImapEndpoint}: `imap://` (with `--ssl-reqd` for
 * STARTTLS) or `imaps://`, verbose, so that each run also yields the protocol transcript. curl picks
 * the strongest SASL mechanism it knows that the server offers (CRAM-MD5 before PLAIN) unless
 * `loginOptions` says otherwise.
 */

/** One curl run. */
export interface CurlRequest {
  /** The URL path after `host:port/`: a mailbox (`INBOX`), `INBOX;UID=3`, `INBOX?ALL`, or empty. */
  readonly path?: string;
  /** A custom command (`-X`), e.g. `'UID FETCH 1:* (FLAGS)'`; curl prints its untagged responses. */
  readonly request?: string;
  /** A message to APPEND to the mailbox of `path` (`-T file`, sent as given: curl needs its size). */
  readonly upload?: string;
  /** `--login-options`, e.g. `'AUTH=PLAIN'` or `'AUTH=*'`. */
  readonly loginOptions?: string;
  readonly deadline?: number;
}

/** How a curl run ended. */
export interface CurlResult {
  /** curl's exit code (0 on success; 67 for a failed login, 78 for a missing message). */
  readonly code: number | null;
  /** What curl wrote to stdout: a message, or the untagged responses of LIST, SEARCH and `-X`. */
  readonly output: string;
  /** The protocol exchange from `-v`: `> ` lines sent, `< ` lines received (literals not included). */
  readonly transcript: string[];
  /** curl's stderr without the transcript (its error message, if any). */
  readonly errors: string;
}

/** Runs curl once against `endpoint`; resolves even when curl fails (check `code`), rejects on overrun. */
export async function curlImap(endpoint: ImapEndpoint, request: CurlRequest = {}): Promise<CurlResult> {
  const deadline = request.deadline ?? CLIENT_DEADLINE;
  return withCaFile(endpoint, async (dir, caFile) => {
    const upload = join(dir, 'upload.eml');
    if (request.upload !== undefined) await writeFile(upload, request.upload);
    const tls = endpoint.tls ?? 'none';
    const scheme = tls === 'implicit' ? 'imaps' : 'imap';
    const args = [
      '-sSv',
      '--max-time',
      String(deadline / 1000),
      '--user',
      `${endpoint.user}:${endpoint.password}`,
      ...(tls === 'starttls' ? ['--ssl-reqd'] : []),
      ...(caFile ? ['--cacert', caFile] : []),
      ...(request.loginOptions ? ['--login-options', request.loginOptions] : []),
      ...(request.request ? ['-X', request.request] : []),
      ...(request.upload !== undefined ? ['-T', upload] : []),
      `${scheme}://${endpoint.host}:${endpoint.port}/${request.path ?? ''}`,
    ];
    const run = await runProcess('curl', args, { deadline: deadline + 1000 });
    if (run.timedOut) throw new Error(`curl overran ${deadline} ms\n${run.stderr}`);
    const lines = run.stderr.split(/\r?\n/);
    return {
      code: run.code,
      output: run.stdout.toString('utf8'),
      transcript: lines.filter((line) => line.startsWith('< ') || line.startsWith('> ')),
      errors: lines.filter((line) => /^curl: /.test(line)).join('\n'),
    };
  });
}

/** A mailbox name in a URL path (percent-encoded; `/` kept as the hierarchy separator). */
export function urlMailbox(mailbox: string): string {
  return mailbox.split('/').map(encodeURIComponent).join('/');
}

async function succeeded(endpoint: ImapEndpoint, request: CurlRequest): Promise<CurlResult> {
  const result = await curlImap(endpoint, request);
  if (result.code !== 0) {
    throw new Error(`curl failed (exit ${result.code}): ${result.errors}\n${result.transcript.join('\n')}`);
  }
  return result;
}

/** `LIST "" *` through the URL `imap://host:port/`; resolves the mailbox names and curl's result. */
export async function curlList(endpoint: ImapEndpoint): Promise<CurlResult & { mailboxes: string[] }> {
  const result = await succeeded(endpoint, {});
  const mailboxes = result.output
    .split('\r\n')
    .filter((line) => line.startsWith('* LIST '))
    .map((line) => {
      const quoted = /"((?:[^"\\]|\\.)*)"$/.exec(line);
      return quoted ? quoted[1]!.replace(/\\(.)/g, '$1') : line.slice(line.lastIndexOf(' ') + 1);
    });
  return { ...result, mailboxes };
}

/** Fetches one message by UID (`/mailbox;UID=n`, or a `section` such as `HEADER` or `TEXT`). */
export async function curlFetch(
  endpoint: ImapEndpoint,
  mailbox: string,
  uid: number,
  section?: string,
): Promise<CurlResult> {
  const path = `${urlMailbox(mailbox)};UID=${uid}${section ? `;SECTION=${section}` : ''}`;
  return succeeded(endpoint, { path });
}

/** SEARCH through the URL query (`/mailbox?criteria`); resolves the numbers of `* SEARCH`. */
export async function curlSearch(
  endpoint: ImapEndpoint,
  mailbox: string,
  criteria: string,
): Promise<CurlResult & { ids: number[] }> {
  const result = await succeeded(endpoint, {
    path: `${urlMailbox(mailbox)}?${encodeURIComponent(criteria)}`,
  });
  const line = result.output.split('\r\n').find((l) => l.startsWith('* SEARCH'));
  const ids = (line?.slice('* SEARCH'.length).trim().split(/\s+/) ?? []).filter(Boolean).map(Number);
  return { ...result, ids };
}

/**
 * APPENDs `message` to `mailbox` (`-T`); resolves the `[APPENDUID validity uid]` of the reply when
 * the server sent one.
 */
export async function curlAppend(
  endpoint: ImapEndpoint,
  mailbox: string,
  message: string,
): Promise<CurlResult & { appendUid: { uidValidity: number; uid: number } | null }> {
  const result = await succeeded(endpoint, { path: urlMailbox(mailbox), upload: message });
  const code = result.transcript
    .map((line) => /^< \S+ OK \[APPENDUID (\d+) (\d+)\]/.exec(line))
    .find(Boolean);
  return { ...result, appendUid: code ? { uidValidity: Number(code[1]), uid: Number(code[2]) } : null };
}

/**
 * Any command (`-X`), after SELECTing `mailbox` when one is given; resolves the untagged responses
 * curl printed, one a line.
 */
export async function curlCommand(
  endpoint: ImapEndpoint,
  command: string,
  mailbox?: string,
): Promise<CurlResult & { untagged: string[] }> {
  const result = await succeeded(endpoint, {
    request: command,
    ...(mailbox ? { path: urlMailbox(mailbox) } : {}),
  });
  return { ...result, untagged: result.output.split('\r\n').filter(Boolean) };
}
