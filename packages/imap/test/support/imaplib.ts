import { CLIENT_DEADLINE, type ImapEndpoint, runProcess } from './peer.js';

/**
 * Python's standard `imaplib` as a real IMAP client: a script of steps runs in one session against any
 * {@link ImapEndpoint}, and each step comes back with the server's raw responses and a typed reading
 * of them. Arguments are IMAP syntax as imaplib sends it (imaplib quotes only passwords): a mailbox
 * with a space is passed as `'"My Box"'`.
 */

/** One step of an imaplib script; `uid: true` sends the `UID` form of SEARCH, FETCH, STORE and COPY. */
export type ImaplibStep =
  /** `LOGIN`, with the endpoint's account unless `password` overrides it (to see a failure). */
  | { readonly op: 'login'; readonly password?: string }
  /** `AUTHENTICATE PLAIN` with the endpoint's account, `password` overriding its password. */
  | { readonly op: 'authenticate'; readonly password?: string }
  | { readonly op: 'capability' }
  /** `SELECT`, or `EXAMINE` when `readOnly`. */
  | { readonly op: 'select'; readonly mailbox: string; readonly readOnly?: boolean }
  | { readonly op: 'search'; readonly criteria: string; readonly uid?: boolean }
  | { readonly op: 'fetch'; readonly set: string; readonly items: string; readonly uid?: boolean }
  /** `STORE set action flags`, e.g. action `+FLAGS` and flags `(\\Seen)`. */
  | {
      readonly op: 'store';
      readonly set: string;
      readonly action: string;
      readonly flags: string;
      readonly uid?: boolean;
    }
  /**
   * `APPEND`. imaplib turns every bare LF of `message` into CRLF; `date` is a quoted date-time
   * (`'"01-Jan-2024 10:00:00 +0000"'`).
   */
  | {
      readonly op: 'append';
      readonly mailbox: string;
      readonly message: string;
      readonly flags?: string;
      readonly date?: string;
    }
  | { readonly op: 'copy'; readonly set: string; readonly mailbox: string; readonly uid?: boolean }
  | { readonly op: 'create'; readonly mailbox: string }
  | { readonly op: 'expunge' }
  | { readonly op: 'list'; readonly reference?: string; readonly pattern?: string }
  | { readonly op: 'status'; readonly mailbox: string; readonly items: string }
  | { readonly op: 'logout' };

/** An IMAP value as the harness parses it: atom or string, number, NIL, or a parenthesized list. */
export type ImapValue = string | number | null | ImapValue[];

/** One FETCH response: the message sequence number and its items by upper-case name (`BODY[]`, `UID`). */
export interface FetchedMessage {
  readonly seq: number;
  readonly items: Record<string, ImapValue>;
}

/** The typed reading of each step's responses, by `op`. */
export interface ImaplibResults {
  /** Capabilities: from an untagged CAPABILITY or the tagged reply's `[CAPABILITY …]` code; else `[]`. */
  login: { capabilities: string[] };
  authenticate: { capabilities: string[] };
  capability: { capabilities: string[] };
  select: {
    exists: number | null;
    recent: number | null;
    flags: string[];
    permanentFlags: string[];
    uidValidity: number | null;
    uidNext: number | null;
    /** `READ-WRITE` or `READ-ONLY`, from the tagged reply's code. */
    access: string | null;
  };
  search: { ids: number[] };
  fetch: { messages: FetchedMessage[] };
  /** The FETCH responses the STORE caused. */
  store: { messages: FetchedMessage[] };
  /** `[APPENDUID validity uid]`, when the server sent it. */
  append: { appendUid: { uidValidity: number; uid: number } | null };
  /** `[COPYUID validity source destination]`, when the server sent it (sets as sent). */
  copy: { copyUid: { uidValidity: number; source: string; destination: string } | null };
  create: Record<string, never>;
  /** Sequence numbers of the `* n EXPUNGE` responses, in order. */
  expunge: { expunged: number[] };
  list: { mailboxes: { flags: string[]; delimiter: string | null; name: string }[] };
  status: { mailbox: string; items: Record<string, number> };
  /**
   * The text of the server's BYE. imaplib stops reading at the BYE, so the step's tagged OK (and
   * `status`) is there only when it arrived in the same read.
   */
  logout: { bye: string | null };
}

/** What one step produced. */
export interface ImaplibOutcome<Op extends ImaplibStep['op'] = ImaplibStep['op']> {
  readonly op: Op;
  /** The tagged reply's status, or null when there was none (the connection broke). */
  readonly status: 'OK' | 'NO' | 'BAD' | null;
  /** The tagged reply's response code, parsed (`['APPENDUID', 1, 3]`), or null. */
  readonly code: ImapValue[] | null;
  /** The tagged reply's human-readable text. */
  readonly text: string;
  /** What imaplib raised (a NO to LOGIN, any BAD, a dropped connection), or null. */
  readonly error: string | null;
  /** Every response the server sent during the step, literals inline (`{n}\r\n` and the n bytes). */
  readonly lines: string[];
  readonly result: ImaplibResults[Op];
}

/** A whole imaplib session. */
export interface ImaplibRun<S extends readonly ImaplibStep[]> {
  /** The server's greeting line. */
  readonly greeting: string;
  /** One outcome per step that ran, typed by its step's `op`. */
  readonly steps: { -readonly [K in keyof S]: ImaplibOutcome<S[K]['op']> };
  /** Why the session ended early (connection refused, TLS failed, connection lost), or null. */
  readonly error: string | null;
}

/**
 * Runs `steps` in one imaplib session against `endpoint` (`python3` on the PATH) and resolves what
 * each produced. Steps after a lost connection do not run; a NO or BAD does not stop the script. Rejects
 * when Python fails or the deadline passes.
 */
export async function runImaplib<const S extends readonly ImaplibStep[]>(
  endpoint: ImapEndpoint,
  steps: S,
  options: { deadline?: number } = {},
): Promise<ImaplibRun<S>> {
  const deadline = options.deadline ?? CLIENT_DEADLINE;
  const run = await runProcess('python3', ['-c', SCRIPT], {
    input: JSON.stringify({ endpoint, steps, timeout: deadline / 1000 }),
    deadline,
  });
  const output = run.stdout.toString('utf8');
  if (run.timedOut || run.code !== 0) {
    throw new Error(
      `imaplib ${run.timedOut ? `overran ${deadline} ms` : `exited ${run.code}`}\n${run.stderr}${output}`,
    );
  }
  return JSON.parse(output) as ImaplibRun<S>;
}

const SCRIPT = String.raw`
import imaplib, json, re, ssl, sys

request = json.load(sys.stdin)
endpoint, steps = request['endpoint'], request['steps']
user, password = endpoint['user'], endpoint['password']
LITERAL = re.compile(rb'\{(\d+)\+?\}$')

def text(b):
    return b.decode('utf-8', 'replace')

class Recording:
    """Keeps every server response, with its literals inline, as imaplib reads it."""
    def __init__(self, *args, **kwargs):
        self.raw, self.open_literal = [], False
        super().__init__(*args, **kwargs)
    def _get_line(self):
        line = super()._get_line()
        if self.open_literal:
            self.raw[-1] += line
        else:
            self.raw.append(line)
        self.open_literal = bool(LITERAL.search(line))
        return line
    def read(self, size):
        data = super().read(size)
        if self.open_literal:
            self.raw[-1] += b'\r\n' + data
        return data

class Plain(Recording, imaplib.IMAP4): pass
class Secure(Recording, imaplib.IMAP4_SSL): pass

def tokens(b, i=0):
    out, n = [], len(b)
    while i < n:
        c = b[i:i + 1]
        if c == b' ':
            i += 1
        elif c == b'(':
            sub, i = tokens(b, i + 1)
            out.append(sub)
        elif c == b')':
            return out, i + 1
        elif c == b'"':
            j, s = i + 1, bytearray()
            while j < n and b[j:j + 1] != b'"':
                if b[j:j + 1] == b'\\':
                    j += 1
                s += b[j:j + 1]
                j += 1
            out.append(text(bytes(s)))
            i = j + 1
        elif c == b'{' and re.match(rb'\{\d+\+?\}\r\n', b[i:]):
            m = re.match(rb'\{(\d+)\+?\}\r\n', b[i:])
            start = i + m.end()
            out.append(text(b[start:start + int(m.group(1))]))
            i = start + int(m.group(1))
        else:
            j, depth = i, 0
            while j < n:
                d = b[j:j + 1]
                if d == b'[':
                    depth += 1
                elif d == b']':
                    depth -= 1
                elif depth == 0 and d in (b' ', b'(', b')'):
                    break
                j += 1
            atom = text(b[i:j])
            out.append(None if atom.upper() == 'NIL' else int(atom) if atom.isdigit() else atom)
            i = j
    return out, i

def parse(raw):
    """Each response as {tag, status, code, text} (a status response) or {tag, tokens}."""
    out = []
    for r in raw:
        tag, _, rest = r.partition(b' ')
        m = re.match(rb'(OK|NO|BAD|BYE|PREAUTH)(?: (.*))?$', rest, re.S | re.I)
        if tag != b'+' and m:
            rest, code = m.group(2) or b'', None
            c = re.match(rb'\[(.*?)\](?: |$)', rest, re.S)
            if c:
                code, rest = tokens(c.group(1))[0], rest[c.end():]
            out.append({'tag': text(tag), 'status': text(m.group(1)).upper(), 'code': code, 'text': text(rest)})
        elif tag != b'+':
            out.append({'tag': text(tag), 'tokens': tokens(rest)[0]})
    return out

def untagged(responses, shape):
    return [r['tokens'] for r in responses if r['tag'] == '*' and 'tokens' in r and shape(r['tokens'])]

def codes(responses, name):
    return [r['code'] for r in responses if r.get('code') and r['code'][0] == name]

def fetched(responses):
    return [{'seq': t[0], 'items': {str(k).upper(): v for k, v in zip(t[2][0::2], t[2][1::2])}}
            for t in untagged(responses, lambda t: len(t) == 3 and t[1] == 'FETCH')]

def capabilities(responses):
    found = untagged(responses, lambda t: t and t[0] == 'CAPABILITY') + codes(responses, 'CAPABILITY')
    return [str(c) for c in found[-1][1:]] if found else []

def one(found, index):
    return found[-1][index] if found else None

def result(op, responses, tagged):
    if op in ('login', 'authenticate', 'capability'):
        return {'capabilities': capabilities(responses)}
    if op == 'select':
        count = lambda name: one(untagged(responses, lambda t: len(t) == 2 and t[1] == name), 0)
        flags = untagged(responses, lambda t: t and t[0] == 'FLAGS')
        access = tagged['code'][0] if tagged and tagged['code'] else None
        return {'exists': count('EXISTS'), 'recent': count('RECENT'), 'flags': flags[-1][1] if flags else [],
                'permanentFlags': one(codes(responses, 'PERMANENTFLAGS'), 1) or [],
                'uidValidity': one(codes(responses, 'UIDVALIDITY'), 1),
                'uidNext': one(codes(responses, 'UIDNEXT'), 1), 'access': access}
    if op == 'search':
        found = untagged(responses, lambda t: t and t[0] == 'SEARCH')
        return {'ids': [n for t in found for n in t[1:] if isinstance(n, int)]}
    if op in ('fetch', 'store'):
        return {'messages': fetched(responses)}
    if op == 'append':
        c = one(codes(responses, 'APPENDUID'), slice(1, 3))
        return {'appendUid': {'uidValidity': c[0], 'uid': c[1]} if c else None}
    if op == 'copy':
        c = one(codes(responses, 'COPYUID'), slice(1, 4))
        return {'copyUid': {'uidValidity': c[0], 'source': str(c[1]), 'destination': str(c[2])} if c else None}
    if op == 'expunge':
        return {'expunged': [t[0] for t in untagged(responses, lambda t: len(t) == 2 and t[1] == 'EXPUNGE')]}
    if op == 'list':
        return {'mailboxes': [{'flags': t[1], 'delimiter': t[2], 'name': str(t[3])}
                              for t in untagged(responses, lambda t: len(t) == 4 and t[0] == 'LIST')]}
    if op == 'status':
        t = one(untagged(responses, lambda t: len(t) == 3 and t[0] == 'STATUS'), slice(1, 3))
        return {'mailbox': str(t[0]), 'items': dict(zip(t[1][0::2], t[1][1::2]))} if t else {'mailbox': '', 'items': {}}
    if op == 'logout':
        bye = [r for r in responses if r.get('status') == 'BYE']
        return {'bye': bye[-1]['text'] if bye else None}
    return {}

def plain(step):
    secret = step.get('password', password)
    return lambda _: ('\0%s\0%s' % (user, secret)).encode()

def command(c, step):
    op, uid = step['op'], step.get('uid')
    if op == 'login': return c.login(user, step.get('password', password))
    if op == 'authenticate': return c.authenticate('PLAIN', plain(step))
    if op == 'capability': return c.capability()
    if op == 'select': return c.select(step['mailbox'], step.get('readOnly', False))
    if op == 'search': return c.uid('SEARCH', step['criteria']) if uid else c.search(None, step['criteria'])
    if op == 'fetch': return c.uid('FETCH', step['set'], step['items']) if uid else c.fetch(step['set'], step['items'])
    if op == 'store':
        args = (step['set'], step['action'], step['flags'])
        return c.uid('STORE', *args) if uid else c.store(*args)
    if op == 'append':
        return c.append(step['mailbox'], step.get('flags'), step.get('date'), step['message'].encode())
    if op == 'copy': return c.uid('COPY', step['set'], step['mailbox']) if uid else c.copy(step['set'], step['mailbox'])
    if op == 'create': return c.create(step['mailbox'])
    if op == 'expunge': return c.expunge()
    if op == 'list': return c.list(step.get('reference', '""'), step.get('pattern', '*'))
    if op == 'status': return c.status(step['mailbox'], step['items'])
    if op == 'logout': return c.logout()
    raise ValueError('unknown step: %s' % op)

out = {'greeting': '', 'steps': [], 'error': None}
try:
    mode, host, port, timeout = endpoint.get('tls', 'none'), endpoint['host'], endpoint['port'], request['timeout']
    context = ssl.create_default_context(cadata=endpoint.get('ca'))
    if mode == 'implicit':
        c = Secure(host, port, ssl_context=context, timeout=timeout)
    else:
        c = Plain(host, port, timeout=timeout)
        if mode == 'starttls':
            c.starttls(context)
    out['greeting'] = text(c.raw[0])
except Exception as e:
    out['error'] = '%s: %s' % (type(e).__name__, e)
    steps = []

for step in steps:
    start, error = len(c.raw), None
    try:
        command(c, step)
    except imaplib.IMAP4.abort as e:
        error = 'abort: %s' % e
    except imaplib.IMAP4.error as e:
        error = 'error: %s' % e
    raw = c.raw[start:]
    responses = parse(raw)
    tagged = next((r for r in reversed(responses) if r['tag'] not in ('*', '+') and 'status' in r), None)
    out['steps'].append({
        'op': step['op'],
        'status': tagged['status'] if tagged else None,
        'code': tagged['code'] if tagged else None,
        'text': tagged['text'] if tagged else '',
        'error': error,
        'lines': [text(r) for r in raw],
        'result': result(step['op'], responses, tagged),
    })
    if error and error.startswith('abort'):
        out['error'] = error
        break

print(json.dumps(out))
`;
