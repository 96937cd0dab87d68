import { mkdtemp, readdir, readFile, rm, stat } from 'node:fs/promises';
import { join, relative } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  type DovecotPeer,
  dovecotAvailable,
  prepareMaildirForDovecot,
  startDovecot,
} from './support/dovecot.js';

const available = dovecotAvailable();
if (!available) {
  console.log(
    'Dovecot tests skipped: /usr/sbin/dovecot or /usr/bin/doveadm is missing (.ci/run installs it).',
  );
}

const TIMEOUT = 30_000;

const message = [
  'From: Bob <bob@example.org>',
  'To: Alice <alice@example.org>',
  'Subject: harness smoke test',
  'Date: Mon, 1 Jan 2024 12:00:00 +0000',
  'Message-ID: <smoke@example.org>',
  '',
  'Hello from the Dovecot harness.',
  '',
].join('\r\n');

/** Every file under `root`, relative, sorted, with its mode, owner and size. */
async function listFiles(root: string): Promise<string[]> {
  const out: string[] = [];
  const walk = async (dir: string): Promise<void> => {
    for (const entry of await readdir(dir, { withFileTypes: true })) {
      const path = join(dir, entry.name);
      const info = await stat(path);
      const meta = `mode ${(info.mode & 0o7777).toString(8)}, ${info.uid}:${info.gid}`;
      if (entry.isDirectory()) {
        out.push(`${relative(root, path)}/ (${meta})`);
        await walk(path);
      } else {
        out.push(`${relative(root, path)} (${meta}, ${info.size} bytes)`);
      }
    }
  };
  await walk(root);
  return out.sort();
}

describe.skipIf(!available)('Dovecot test harness', () => {
  let mailRoot: string;
  let dovecot: DovecotPeer | undefined;

  beforeAll(async () => {
    mailRoot = await mkdtemp('/tmp/pwmail-');
    await prepareMaildirForDovecot(mailRoot);
    dovecot = await startDovecot({ mailRoot, users: { alice: 'alicepw' } });
  }, TIMEOUT);

  afterAll(async () => {
    await dovecot?.stop();
    if (mailRoot) await rm(mailRoot, { recursive: true, force: true });
  }, TIMEOUT);

  it(
    'saves with doveadm, reads back over doveadm and IMAP, and shows the Maildir it wrote',
    async () => {
      const peer = dovecot!;
      await peer.doveadm(['save', '-u', 'alice', '-m', 'INBOX'], message);

      const fetched = await peer.doveadm([
        'fetch',
        '-u',
        'alice',
        'uid flags text',
        'mailbox',
        'INBOX',
        'all',
      ]);
      expect(fetched).toMatch(/^uid: 1$/m);
      expect(fetched).toContain('Subject: harness smoke test');
      expect(fetched).toContain('Hello from the Dovecot harness.');

      const before = await peer.imap('alice', 'alicepw', [
        'SELECT INBOX',
        'UID FETCH 1:* (FLAGS RFC822.SIZE)',
      ]);
      expect(before).toMatch(/^\* 1 EXISTS\r$/m);
      const line = /^\* 1 FETCH \(UID 1 FLAGS \(([^)]*)\) RFC822\.SIZE (\d+)\)/m.exec(before);
      expect(line).not.toBeNull();
      expect(line![1]).not.toContain('\\Seen');
      expect(Number(line![2])).toBe(Buffer.byteLength(message));
      expect(before).toMatch(/^a2 OK/m);

      const userDir = join(mailRoot, 'alice');
      const afterSave = await listFiles(userDir);
      expect(afterSave.filter((f) => /^(new|cur)\/[^ ]/.test(f))).toHaveLength(1);

      await peer.doveadm(['flags', 'add', '-u', 'alice', '\\Seen', 'mailbox', 'INBOX', 'uid', '1']);
      // Keywords too, so that Dovecot writes dovecot-keywords and keyword letters in the file name.
      await peer.doveadm([
        'flags',
        'add',
        '-u',
        'alice',
        '$Forwarded Custom1',
        'mailbox',
        'INBOX',
        'uid',
        '1',
      ]);

      const after = await peer.imap('alice', 'alicepw', ['SELECT INBOX', 'UID FETCH 1:* (FLAGS)']);
      expect(after).toMatch(/^\* 1 FETCH \(UID 1 FLAGS \(([^)]*)\)\)/m);
      const flags = /^\* 1 FETCH \(UID 1 FLAGS \(([^)]*)\)\)/m.exec(after)![1]!.split(' ');
      expect(flags).toEqual(expect.arrayContaining(['\\Seen', '$Forwarded', 'Custom1']));

      const files = await listFiles(userDir);
      const cur = files.filter((f) => /^cur\/[^ ]/.test(f));
      expect(cur).toHaveLength(1);
      expect(cur[0]).toMatch(/^cur\/\d+\.M\d+P\d+\.[^,]+,S=\d+,W=\d+:2,Sab /);

      const uidlist = await readFile(join(userDir, 'dovecot-uidlist'), 'utf8');
      expect(uidlist.split('\n')[0]).toMatch(/^3 /);
      const keywords = await readFile(join(userDir, 'dovecot-keywords'), 'utf8');
      expect(keywords).toContain('$Forwarded');

      console.log(
        [
          `--- Maildir after doveadm save (${userDir}) ---`,
          ...afterSave,
          '--- Maildir after flags add \\Seen, $Forwarded, Custom1 ---',
          ...files,
          '--- dovecot-uidlist ---',
          uidlist.trimEnd(),
          '--- dovecot-keywords ---',
          keywords.trimEnd(),
          '--- IMAP transcript ---',
          after.trimEnd(),
        ].join('\n'),
      );
    },
    TIMEOUT,
  );
});
