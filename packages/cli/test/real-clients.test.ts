import { chmod, mkdir, mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir, userInfo } from 'node:os';
import { join } from 'node:path';
import { createSmtpClient } from '@postwire/smtp/node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { testCertificates } from '../../core/test/support/certs.js';
import { curlCommand, curlFetch } from '../../imap/test/support/curl-imap.js';
import { runImaplib } from '../../imap/test/support/imaplib.js';
import { runMbsync } from '../../imap/test/support/mbsync.js';
import { commandAvailable, type ImapEndpoint, runProcess } from '../../imap/test/support/peer.js';
import { type ServeProcess, startServe } from './support/serve-process.js';

/**
 * The real `postwire serve` process (spawned, stopped with SIGINT by its PID) driven by real mail
 * clients over loopback: Python's smtplib, imaplib and poplib, curl, swaks, mbsync and fetchmail, each
 * trusting the self-signed certificate the server generated. Each client has its own user, so a client's
 * test does not depend on another's; the Python tests run in order (smtplib sends what imaplib and poplib
 * read). See /work/shared/PEERS.md for the clients' habits.
 */

const hasPython = commandAvailable('python3', "postwire serve's smtplib, imaplib and poplib tests");
const hasCurl = commandAvailable('curl', "postwire serve's curl tests");
const hasSwaks = commandAvailable('swaks', "postwire serve's swaks tests");
const hasMbsync = commandAvailable('mbsync', "postwire serve's mbsync tests");
const hasFetchmail = commandAvailable('fetchmail', "postwire serve's fetchmail tests");

/** One user per client, so that each test sees only its own mail. */
const PASSWORDS = {
  alice: 'secret',
  bob: 'bob-pw',
  carol: 'carol-pw',
  dave: 'dave-pw',
  erin: 'erin-pw',
} as const;
type User = keyof typeof PASSWORDS;

/** Every listener on a free port. */
const ANY_PORTS = ['smtp', 'submission', 'submissions', 'imap', 'imaps', 'pop3', 'pop3s', 'http'].flatMap(
  (name) => [`--${name}-port`, '0'],
);

/** Runs a command; resolves its output when its exit code is one of `ok`, rejects otherwise. */
async function run(
  command: string,
  args: readonly string[],
  options: { env?: NodeJS.ProcessEnv; ok?: readonly number[] } = {},
): Promise<{ code: number | null; stdout: string; stderr: string }> {
  const result = await runProcess(command, args, {
    deadline: 15_000,
    ...(options.env ? { env: options.env } : {}),
  });
  const stdout = result.stdout.toString('utf8');
  if (result.timedOut || !(options.ok ?? [0]).includes(result.code ?? -1)) {
    const why = result.timedOut ? 'overran 15 s' : `exit ${result.code}`;
    throw new Error(`${command} ${args.join(' ')} (${why}):\n${result.stderr}${stdout}`);
  }
  return { code: result.code, stdout, stderr: result.stderr };
}

/** Runs a Python script whose last line of output is JSON; resolves that JSON. */
async function python<T>(script: string, ...args: (string | number)[]): Promise<T> {
  const { stdout } = await run('python3', ['-c', script, ...args.map(String)]);
  return JSON.parse(stdout.trim().split('\n').at(-1)!) as T;
}

/** How many deliveries from `from` to `to` the server logged. */
function deliveries(serve: ServeProcess, from: string, to: string): number {
  const line = new RegExp(`delivered \\d+ bytes from <${escapeRegExp(from)}> to ${escapeRegExp(to)}\\n`, 'g');
  return serve.stderr().match(line)?.length ?? 0;
}

function escapeRegExp(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}

/** The value of a header field (unfolded), or undefined. */
function field(header: string, name: string): string | undefined {
  const found = new RegExp(`^${name}:[ \\t]*((?:.*)(?:\\r?\\n[ \\t].*)*)`, 'im').exec(header);
  return found === null ? undefined : found[1]!.replace(/\r?\n[ \t]+/g, ' ');
}

/** The command-line arguments naming every user. */
const userArgs = (Object.entries(PASSWORDS) as [User, string][]).flatMap(([name, password]) => [
  '--user',
  `${name}:${password}`,
]);

/** Submits a message with Postwire's own SMTP client, to give a reading client something to read. */
async function submit(serve: ServeProcess, ca: string, user: User, subject: string): Promise<void> {
  const address = `${user}@example.test`;
  const client = createSmtpClient({
    host: serve.settings.host,
    port: serve.settings.ports.submission,
    starttls: 'required',
    tls: { ca, servername: 'localhost' },
    auth: { username: user, password: PASSWORDS[user] },
  });
  try {
    await client.send({
      envelope: { from: address, to: [address] },
      message: `From: ${address}\r\nTo: ${address}\r\nSubject: ${subject}\r\n\r\nFor ${user}.\r\n`,
    });
  } finally {
    await client.close();
  }
}

/** Checks that `serve` stops on SIGINT at once, says so, and exits 0 with nothing logged after. */
async function expectCleanStop(serve: ServeProcess): Promise<void> {
  const exit = await serve.stop();
  expect(exit).toMatchObject({ code: 0, signal: null });
  expect(exit.stderr.slice(exit.stderr.indexOf('stopping…'))).toBe('stopping…\n');
  expect(exit.stopMs).toBeLessThan(5_000);
}

describe('postwire serve --no-auth-checks --catch-all, with real clients', () => {
  let serve: ServeProcess;
  let work: string;
  /** The server's certificate (PEM), which every client trusts. */
  let ca: string;
  let cafile: string;

  beforeAll(async () => {
    work = await mkdtemp(join(tmpdir(), 'pw-serve-clients-'));
    serve = await startServe([
      '--memory',
      '--no-auth-checks',
      '--data',
      join(work, 'data'),
      ...userArgs,
      '--catch-all',
      ...ANY_PORTS,
    ]);
    cafile = serve.settings.certificate;
    ca = await readFile(cafile, 'utf8');
  }, 30_000);
  afterAll(async () => {
    await serve?.stop();
    await rm(work, { recursive: true, force: true });
  });

  const imapEndpoint = (
    user: User,
    tls: 'starttls' | 'implicit',
    host = serve.settings.host,
  ): ImapEndpoint => ({
    host,
    port: tls === 'implicit' ? serve.settings.ports.imaps : serve.settings.ports.imap,
    tls,
    user,
    password: PASSWORDS[user],
    ca,
  });

  it('prints its settings as JSON: loopback, every port, the users, the catch-all and its certificate', () => {
    const { settings } = serve;
    expect(settings).toMatchObject({
      host: '127.0.0.1',
      hostname: 'localhost',
      catchAll: 'alice',
      store: 'memory',
    });
    expect(settings.certificate).toBe(join(work, 'data', 'tls', 'cert.pem'));
    expect(settings.users.map((user) => user.name)).toEqual(Object.keys(PASSWORDS));
    const ports = Object.values(settings.ports);
    expect(ports).toHaveLength(8);
    expect(new Set(ports).size).toBe(8);
    expect(ca).toMatch(/^-----BEGIN CERTIFICATE-----\n/);
  });

  describe.skipIf(!hasPython)("Python's smtplib, imaplib and poplib (in this order)", () => {
    const SUBMITTED = 'smtplib: STARTTLS and AUTH LOGIN';
    const CAUGHT = 'smtplib: implicit TLS, to anyone';
    const RELAYED = 'smtplib: MX port, no AUTH';

    it('smtplib: submission with STARTTLS and AUTH LOGIN, on implicit TLS with login(), to a user and to any address; the MX port without AUTH', async () => {
      const { host, ports } = serve.settings;
      const out = await python<Record<string, unknown>>(
        `
import json, smtplib, ssl, sys
host, submission, submissions, mx, cafile = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4]), sys.argv[5]
subjects = sys.argv[6:9]
context = ssl.create_default_context(cafile=cafile)
def message(sender, to, subject):
    return 'From: %s\\r\\nTo: %s\\r\\nSubject: %s\\r\\n\\r\\nSent by smtplib.\\r\\n' % (sender, to, subject)
out = {}
s = smtplib.SMTP(host, submission, timeout=10)
try:
    s.sendmail('alice@example.test', ['alice@example.test'], message('a', 'b', 'x'))
except smtplib.SMTPSenderRefused as e:
    out['no AUTH'] = e.smtp_code
out['STARTTLS offered'] = s.has_extn('starttls')
s.starttls(context=context)
s.ehlo()
out['TLS'] = s.sock.version()
s.user, s.password = 'alice', 'secret'
out['AUTH LOGIN'] = s.auth('LOGIN', s.auth_login)[0]
out['to a user'] = s.sendmail('alice@example.test', ['alice@example.test'], message('alice@example.test', 'alice@example.test', subjects[0]))
s.quit()
s = smtplib.SMTP_SSL(host, submissions, context=context, timeout=10)
try:
    s.login('alice', 'wrong')
except smtplib.SMTPAuthenticationError as e:
    out['wrong password'] = e.smtp_code
# login() tried CRAM-MD5, PLAIN and LOGIN: three failures, after which the server hangs up (421).
s.close()
s = smtplib.SMTP_SSL(host, submissions, context=context, timeout=10)
out['login'] = s.login('alice', 'secret')[0]
out['to anyone'] = s.sendmail('alice@example.test', ['someone@elsewhere.example'], message('alice@example.test', 'someone@elsewhere.example', subjects[1]))
s.quit()
s = smtplib.SMTP(host, mx, timeout=10, local_hostname='client.example')
s.ehlo()
out['MX'] = s.sendmail('carol@outside.example', ['alice@example.test'], message('carol@outside.example', 'alice@example.test', subjects[2]))
s.quit()
print(json.dumps(out))
`,
        host,
        ports.submission,
        ports.submissions,
        ports.smtp,
        cafile,
        SUBMITTED,
        CAUGHT,
        RELAYED,
      );
      expect(out).toEqual({
        'no AUTH': 530,
        'STARTTLS offered': true,
        TLS: expect.stringMatching(/^TLSv1\.[23]$/),
        'AUTH LOGIN': 235,
        'to a user': {},
        'wrong password': 535,
        login: 235,
        'to anyone': {},
        MX: {},
      });
      await expect.poll(() => deliveries(serve, 'alice@example.test', 'alice@example.test')).toBe(1);
      await expect.poll(() => deliveries(serve, 'alice@example.test', 'someone@elsewhere.example')).toBe(1);
      await expect.poll(() => deliveries(serve, 'carol@outside.example', 'alice@example.test')).toBe(1);
    }, 20_000);

    it('imaplib: STARTTLS then LOGIN, SELECT, SEARCH and FETCH of each message (no Authentication-Results); IMAP4_SSL too', async () => {
      const search = (subject: string) => ({ op: 'search', criteria: `SUBJECT "${subject}"` }) as const;
      const upgraded = await runImaplib(imapEndpoint('alice', 'starttls'), [
        { op: 'login' },
        { op: 'select', mailbox: 'INBOX' },
        search(SUBMITTED),
        search(CAUGHT),
        search(RELAYED),
        { op: 'fetch', set: '1:*', items: '(BODY.PEEK[HEADER])' },
        { op: 'logout' },
      ]);
      expect(upgraded.error).toBeNull();
      expect(upgraded.greeting).toMatch(/^\* OK .*STARTTLS/);
      const [login, select, submitted, caught, relayed, fetch] = upgraded.steps;
      expect(login.status).toBe('OK');
      expect(select.result.exists).toBe(3);
      const headers = new Map(
        fetch.result.messages.map((message) => [message.seq, String(message.items['BODY[HEADER]'])]),
      );
      const subjectOf = (ids: number[]) => ids.map((seq) => field(headers.get(seq) ?? '', 'Subject'));
      expect(subjectOf(submitted.result.ids)).toEqual([SUBMITTED]);
      expect(subjectOf(caught.result.ids)).toEqual([CAUGHT]);
      expect(subjectOf(relayed.result.ids)).toEqual([RELAYED]);
      const caughtHeader = headers.get(caught.result.ids[0]!)!;
      expect(field(caughtHeader, 'To')).toBe('someone@elsewhere.example');
      expect(field(caughtHeader, 'Received')).toMatch(
        /^from \S+ \(.*\[127\.0\.0\.1\]\) by localhost \(Postwire\) with ESMTPSA id \w+ for <someone@elsewhere\.example>;/,
      );
      expect(field(headers.get(relayed.result.ids[0]!)!, 'Received')).toMatch(
        /^from client\.example \(.*\) by localhost \(Postwire\) with ESMTP id /,
      );
      for (const header of headers.values()) expect(field(header, 'Authentication-Results')).toBeUndefined();

      const implicit = await runImaplib(imapEndpoint('alice', 'implicit', 'localhost'), [
        { op: 'login' },
        { op: 'select', mailbox: 'INBOX' },
        { op: 'fetch', set: '1:*', items: '(BODY.PEEK[HEADER.FIELDS (SUBJECT)])' },
        { op: 'logout' },
      ]);
      expect(implicit.error).toBeNull();
      const subjects = implicit.steps[2].result.messages.map((message) =>
        field(String(message.items['BODY[HEADER.FIELDS (SUBJECT)]']), 'Subject'),
      );
      expect(subjects.sort()).toEqual([SUBMITTED, CAUGHT, RELAYED].sort());
    }, 20_000);

    it('poplib: STLS, STAT, LIST, RETR and DELE of one message, QUIT; over POP3_SSL it is gone', async () => {
      const { host, ports } = serve.settings;
      const out = await python<{
        capa: string[];
        tls: string;
        stat: [number, number];
        sizes: number[];
        retrSizes: number[];
        subjects: string[];
        dele: string;
        quit: string;
        after: [number, number];
        subjectsAfter: string[];
      }>(
        `
import json, poplib, re, ssl, sys
host, pop3, pop3s, cafile, target = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), sys.argv[4], sys.argv[5]
context = ssl.create_default_context(cafile=cafile)
def subjects(p, count):
    texts = [b'\\r\\n'.join(p.retr(n)[1]) + b'\\r\\n' for n in range(1, count + 1)]
    return texts, [re.search(rb'^Subject: ([^\\r\\n]*)', t, re.M).group(1).decode() for t in texts]
out = {}
p = poplib.POP3(host, pop3, timeout=10)
out['capa'] = sorted(p.capa())
p.stls(context=context)
out['tls'] = p.sock.version()
p.user('alice')
p.pass_('secret')
out['stat'] = p.stat()
out['sizes'] = [int(line.split()[1]) for line in p.list()[1]]
texts, out['subjects'] = subjects(p, out['stat'][0])
out['retrSizes'] = [len(t) for t in texts]
out['dele'] = p.dele(out['subjects'].index(target) + 1).decode()
out['quit'] = p.quit().decode()
p = poplib.POP3_SSL(host, pop3s, context=context, timeout=10)
p.user('alice')
p.pass_('secret')
out['after'] = p.stat()
out['subjectsAfter'] = subjects(p, out['after'][0])[1]
p.quit()
print(json.dumps(out))
`,
        host,
        ports.pop3,
        ports.pop3s,
        cafile,
        RELAYED,
      );
      expect(out.capa).toEqual(expect.arrayContaining(['STLS', 'UIDL', 'TOP', 'USER']));
      expect(out.tls).toMatch(/^TLSv1\.[23]$/);
      expect(out.stat[0]).toBe(3);
      expect(out.sizes).toEqual(out.retrSizes);
      expect(out.stat[1]).toBe(out.sizes.reduce((sum, size) => sum + size, 0));
      expect([...out.subjects].sort()).toEqual([SUBMITTED, CAUGHT, RELAYED].sort());
      expect(out.dele).toMatch(/^\+OK/);
      expect(out.quit).toBe('+OK localhost signing off (2 messages left)');
      const kept = out.subjects.flatMap((subject, i) => (subject === RELAYED ? [] : [out.sizes[i]!]));
      expect(out.after).toEqual([2, kept[0]! + kept[1]!]);
      expect(out.subjectsAfter).toEqual(out.subjects.filter((subject) => subject !== RELAYED));
    }, 20_000);
  });

  describe.skipIf(!hasCurl)('curl', () => {
    it('smtp:// with --ssl-reqd sends; imaps:// finds and fetches it; pop3s:// lists it and pop3:// with STLS retrieves it', async () => {
      const { host, ports } = serve.settings;
      const message =
        'From: bob@example.test\r\nTo: bob@example.test\r\nSubject: curl over SMTP\r\n\r\nSent by curl.\r\n';
      const file = join(work, 'curl.eml');
      await writeFile(file, message);
      const login = ['--cacert', cafile, '--user', `bob:${PASSWORDS.bob}`];
      await run('curl', [
        '-sS',
        '--ssl-reqd',
        ...login,
        '--mail-from',
        'bob@example.test',
        '--mail-rcpt',
        'bob@example.test',
        '-T',
        file,
        `smtp://${host}:${ports.submission}/client.example`,
      ]);
      await expect.poll(() => deliveries(serve, 'bob@example.test', 'bob@example.test')).toBe(1);

      const imaps = imapEndpoint('bob', 'implicit');
      const search = await curlCommand(imaps, 'UID SEARCH SUBJECT "curl over SMTP"', 'INBOX');
      expect(search.untagged).toEqual([expect.stringMatching(/^\* SEARCH \d+$/)]);
      const uid = Number(search.untagged[0]!.split(' ')[2]);
      const fetched = (await curlFetch(imaps, 'INBOX', uid)).output;
      expect(fetched).toMatch(/^Received: from client\.example \(/);
      expect(fetched.endsWith(`\r\n${message}`)).toBe(true);

      const list = await run('curl', ['-sS', ...login, `pop3s://${host}:${ports.pop3s}/`]);
      expect(list.stdout).toBe(`1 ${Buffer.byteLength(fetched)}\r\n`);
      const retrieved = await run('curl', ['-sS', '--ssl-reqd', ...login, `pop3://${host}:${ports.pop3}/1`]);
      expect(retrieved.stdout).toBe(fetched);
    }, 20_000);

    it('GETs the Thunderbird autoconfiguration from the http port: the same ports as the JSON', async () => {
      const { hostname, ports, autoconfig } = serve.settings;
      expect(autoconfig).toBe(`http://127.0.0.1:${ports.autoconfig}/mail/config-v1.1.xml`);
      const xml = (await run('curl', ['-sSf', `${autoconfig}?emailaddress=alice%40example.test`])).stdout;
      const servers = [
        ...xml.matchAll(
          /<(incoming|outgoing)Server type="(\w+)">\s*<hostname>([^<]*)<\/hostname>\s*<port>(\d+)<\/port>\s*<socketType>(\w+)<\/socketType>\s*<username>([^<]*)<\/username>/g,
        ),
      ].map(([, , type, name, port, socket, username]) => ({
        type,
        name,
        port: Number(port),
        socket,
        username,
      }));
      const server = (type: string, port: number, socket: string) => ({
        type,
        name: hostname,
        port,
        socket,
        username: '%EMAILLOCALPART%',
      });
      expect(servers).toEqual([
        server('imap', ports.imaps, 'SSL'),
        server('imap', ports.imap, 'STARTTLS'),
        server('pop3', ports.pop3s, 'SSL'),
        server('pop3', ports.pop3, 'STARTTLS'),
        server('smtp', ports.submissions, 'SSL'),
        server('smtp', ports.submission, 'STARTTLS'),
      ]);
      expect(xml).toContain('<domain>example.test</domain>');
      const wellKnown = await run('curl', [
        '-sSf',
        `http://127.0.0.1:${ports.autoconfig}/.well-known/autoconfig/mail/config-v1.1.xml`,
      ]);
      expect(wellKnown.stdout).toContain(`<port>${ports.imaps}</port>`);
      const missing = await run('curl', ['-sS', '-o', '/dev/null', '-w', '%{http_code}', `${autoconfig}x`]);
      expect(missing.stdout).toBe('404');
    }, 20_000);
  });

  describe.skipIf(!hasSwaks)('swaks', () => {
    it('sends with STARTTLS and on implicit TLS with AUTH LOGIN, verifying the certificate; refuses another CA', async () => {
      const { host, ports } = serve.settings;
      const swaks = (port: number, tls: string, caPath: string, subject: string, ok = [0]) =>
        run(
          'swaks',
          [
            ...['--server', host, '--port', String(port), tls, '--tls-verify', '--tls-ca-path', caPath],
            ...['--auth', 'LOGIN', '--auth-user', 'carol', '--auth-password', PASSWORDS.carol],
            ...[
              '--from',
              'carol@example.test',
              '--to',
              'carol@example.test',
              '--header',
              `Subject: ${subject}`,
            ],
          ],
          { ok },
        );
      const upgraded = await swaks(ports.submission, '--tls', cafile, 'swaks STARTTLS');
      expect(upgraded.stdout).toContain('<~  235 ');
      expect(upgraded.stdout).toContain('<~  250 2.0.0');
      const implicit = await swaks(ports.submissions, '--tls-on-connect', cafile, 'swaks implicit TLS');
      expect(implicit.stdout).toContain('<~  250 2.0.0');
      await expect.poll(() => deliveries(serve, 'carol@example.test', 'carol@example.test')).toBe(2);

      const otherCa = join(work, 'other-ca.pem');
      await writeFile(otherCa, testCertificates().ca);
      const refused = await swaks(ports.submission, '--tls', otherCa, 'swaks, wrong CA', [29]);
      expect(`${refused.stdout}${refused.stderr}`).toContain('certificate verify failed');
      expect(deliveries(serve, 'carol@example.test', 'carol@example.test')).toBe(2);
    }, 20_000);
  });

  describe.skipIf(!hasMbsync)('mbsync', () => {
    it('pulls the INBOX into a local Maildir over IMAPS and over STARTTLS, trusting the CA file; then only what is new', async () => {
      await submit(serve, ca, 'dave', 'for mbsync 1');
      await submit(serve, ca, 'dave', 'for mbsync 2');
      const overImaps = join(work, 'mbsync-imaps');
      const first = await runMbsync(imapEndpoint('dave', 'implicit', 'localhost'), {
        dir: overImaps,
        sync: 'Pull',
      });
      expect(first.code, first.stderr).toBe(0);
      expect(first.messages.map((message) => field(message.text, 'Subject'))).toEqual([
        'for mbsync 1',
        'for mbsync 2',
      ]);
      const files = await readdir(join(overImaps, 'local', 'INBOX', 'new'));
      expect(files.sort()).toEqual(first.messages.map((message) => message.name).sort());

      const overStarttls = join(work, 'mbsync-starttls');
      const upgraded = await runMbsync(imapEndpoint('dave', 'starttls', 'localhost'), {
        dir: overStarttls,
        sync: 'Pull',
      });
      expect(upgraded.code, upgraded.stderr).toBe(0);
      expect(upgraded.messages).toHaveLength(2);

      // mbsync sleeps 1 s here ("sleeping due to recent directory modification"): its local Maildir
      // changed within the second. That second is mbsync's, not the server's.
      await submit(serve, ca, 'dave', 'for mbsync 3');
      const again = await runMbsync(imapEndpoint('dave', 'implicit', 'localhost'), {
        dir: overImaps,
        sync: 'Pull',
      });
      expect(again.code, again.stderr).toBe(0);
      expect(again.messages.map((message) => field(message.text, 'Subject'))).toEqual([
        'for mbsync 1',
        'for mbsync 2',
        'for mbsync 3',
      ]);
      expect(again.messages.slice(0, 2).map((message) => message.name)).toEqual(
        first.messages.map((message) => message.name),
      );
    }, 20_000);
  });

  describe.skipIf(!hasFetchmail)('fetchmail', () => {
    it('POP3 with STLS and keep, then POP3 on implicit TLS without keep (deleted), then IMAPS finds nothing', async () => {
      await submit(serve, ca, 'erin', 'for fetchmail 1');
      await submit(serve, ca, 'erin', 'for fetchmail 2');
      const home = join(work, 'fetchmail');
      const delivered = join(home, 'delivered');
      await mkdir(delivered, { recursive: true });
      const check = `sslcertck sslcertfile "${cafile}"`;
      const fetchmail = async (poll: string, options: string, ok = [0]) => {
        const rc = join(home, 'fetchmailrc');
        await writeFile(
          rc,
          `poll localhost ${poll}\n` +
            `  user erin password "${PASSWORDS.erin}" is ${userInfo().username} here ${options} fetchall\n` +
            `  mda "/bin/sh -c 'cat > $(mktemp ${delivered}/msg.XXXXXX)'"\n`,
        );
        await chmod(rc, 0o600);
        await run('fetchmail', ['-f', rc, '--nodetach', '--nosyslog'], {
          env: { ...process.env, FETCHMAILHOME: home },
          ok,
        });
        const names = await readdir(delivered);
        return Promise.all(
          names.map(async (name) => field(await readFile(join(delivered, name), 'utf8'), 'Subject')),
        );
      };
      const { ports } = serve.settings;
      const kept = await fetchmail(`port ${ports.pop3} protocol POP3`, `sslproto tls1.2+ ${check} keep`);
      expect(kept.sort()).toEqual(['for fetchmail 1', 'for fetchmail 2']);
      const taken = await fetchmail(`port ${ports.pop3s} protocol POP3`, `ssl ${check}`);
      expect(taken.sort()).toEqual([
        'for fetchmail 1',
        'for fetchmail 1',
        'for fetchmail 2',
        'for fetchmail 2',
      ]);
      // Exit status 1: no mail.
      const none = await fetchmail(`port ${ports.imaps} protocol IMAP`, `ssl ${check}`, [1]);
      expect(none).toHaveLength(4);
    }, 20_000);
  });

  it('stops on SIGINT to its PID: says stopping… and exits 0', async () => {
    await expectCleanStop(serve);
  }, 15_000);
});

describe('postwire serve checking SPF, DKIM, ARC and DMARC, with DNS on a closed port', () => {
  let serve: ServeProcess;
  let work: string;

  beforeAll(async () => {
    work = await mkdtemp(join(tmpdir(), 'pw-serve-checks-'));
    serve = await startServe([
      '--memory',
      '--data',
      join(work, 'data'),
      '--user',
      `alice:${PASSWORDS.alice}`,
      '--catch-all',
      '--hostname',
      'mx.dev.test',
      // Nothing listens on port 1: every lookup fails at once (ECONNREFUSED), a temporary error.
      '--dns',
      '127.0.0.1:1',
      ...ANY_PORTS,
    ]);
  }, 30_000);
  afterAll(async () => {
    await serve?.stop();
    await rm(work, { recursive: true, force: true });
  });

  it.skipIf(!hasPython)(
    "smtplib and imaplib: Authentication-Results with the server's hostname, fields forged in its name dropped",
    async () => {
      const { host, ports, certificate } = serve.settings;
      const out = await python<{ mx: object; submission: object }>(
        `
import json, smtplib, ssl, sys
host, mx, submission, cafile = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), sys.argv[4]
out = {}
s = smtplib.SMTP(host, mx, timeout=10, local_hostname='client.example')
out['mx'] = s.sendmail('carol@sender.example', ['alice@example.test'],
    'Authentication-Results: mx.dev.test; spf=pass smtp.mailfrom=sender.example\\r\\n'
    'Authentication-Results: other.example; dkim=pass header.d=sender.example\\r\\n'
    'From: carol@sender.example\\r\\nTo: alice@example.test\\r\\nSubject: from outside\\r\\n\\r\\nHello.\\r\\n')
s.quit()
s = smtplib.SMTP(host, submission, timeout=10)
s.starttls(context=ssl.create_default_context(cafile=cafile))
s.login('alice', 'secret')
out['submission'] = s.sendmail('alice@example.test', ['alice@example.test'],
    'From: alice@example.test\\r\\nTo: alice@example.test\\r\\nSubject: submitted\\r\\n\\r\\nHello.\\r\\n')
s.quit()
print(json.dumps(out))
`,
        host,
        ports.smtp,
        ports.submission,
        certificate,
      );
      expect(out).toMatchObject({ mx: {}, submission: {} });

      const ca = await readFile(certificate, 'utf8');
      const session = await runImaplib(
        { host, port: ports.imaps, tls: 'implicit', user: 'alice', password: PASSWORDS.alice, ca },
        [
          { op: 'login' },
          { op: 'select', mailbox: 'INBOX' },
          { op: 'fetch', set: '1:*', items: '(BODY.PEEK[HEADER])' },
          { op: 'logout' },
        ],
      );
      expect(session.error).toBeNull();
      const headers = session.steps[2].result.messages.map((message) =>
        String(message.items['BODY[HEADER]']),
      );
      const [outside, submitted] = ['from outside', 'submitted'].map(
        (subject) => headers.find((header) => field(header, 'Subject') === subject)!,
      );
      // The server's own field comes first; the client's field in its name is gone, another's is kept.
      expect(outside).toMatch(/^Authentication-Results: mx\.dev\.test;/);
      const results = outside!.match(/^Authentication-Results:.*(?:\r\n[ \t].*)*/gim)!;
      expect(results.map((result) => result.replace(/\r\n[ \t]+/g, ' '))).toEqual([
        expect.stringMatching(
          /^Authentication-Results: mx\.dev\.test; spf=temperror .*smtp\.mailfrom=carol@sender\.example; dkim=none; arc=none .*dmarc=temperror .*header\.from=sender\.example$/,
        ),
        'Authentication-Results: other.example; dkim=pass header.d=sender.example',
      ]);
      expect(field(outside!, 'Received')).toMatch(
        /^from client\.example \(.*\) by mx\.dev\.test \(Postwire\) with ESMTP /,
      );
      expect(field(submitted!, 'Authentication-Results')).toMatch(
        /^mx\.dev\.test; auth=pass smtp\.auth=alice; dkim=none;/,
      );
    },
    20_000,
  );

  it('stops on SIGINT to its PID: says stopping… and exits 0', async () => {
    await expectCleanStop(serve);
  }, 15_000);
});
