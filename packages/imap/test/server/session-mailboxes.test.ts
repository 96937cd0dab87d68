import { MailboxInUseError, OverQuotaError } from '@postwire/store';
import { describe, expect, it } from 'vitest';
import { MailboxPattern } from '../../src/index.js';
import { loggedIn } from './driver.js';

describe('ImapServerSession: the authenticated state', () => {
  it('ENABLE records IMAP4rev2, UTF8=ACCEPT, CONDSTORE and QRESYNC; NAMESPACE', async () => {
    const driver = await loggedIn();
    expect(await driver.send('a ENABLE QRESYNC X-NONE\r\nb ENABLE CONDSTORE utf8=accept\r\n')).toBe(
      '* ENABLED QRESYNC CONDSTORE\r\na OK Enabled\r\n* ENABLED UTF8=ACCEPT\r\nb OK Enabled\r\n',
    );
    expect([...driver.session.enabled]).toEqual(['QRESYNC', 'CONDSTORE', 'UTF8=ACCEPT']);
    expect(await driver.send('c NAMESPACE\r\n')).toBe(
      '* NAMESPACE (("" "/")) NIL NIL\r\nc OK Namespace completed\r\n',
    );
  });

  it('CREATE (with USE), RENAME, DELETE, SUBSCRIBE and UNSUBSCRIBE reach the store', async () => {
    const driver = await loggedIn();
    expect(
      await driver.send(
        'a CREATE Work/\r\nb CREATE Trash (USE (\\Trash))\r\nc RENAME Work Jobs\r\nd SUBSCRIBE Jobs\r\n',
      ),
    ).toMatch(
      /^a OK \[MAILBOXID \(\w+\)\] CREATE completed\r\nb OK \[MAILBOXID \(\w+\)\] CREATE completed\r\nc OK RENAME completed\r\nd OK SUBSCRIBE completed\r\n$/,
    );
    const mail = await driver.store.user('alice');
    expect((await mail.list()).map((m) => [m.name, m.specialUse, m.subscribed])).toEqual([
      ['INBOX', undefined, true],
      ['Jobs', undefined, true],
      ['Trash', '\\Trash', false],
    ]);
    expect(await driver.send('e UNSUBSCRIBE Jobs\r\nf DELETE Jobs\r\n')).toBe(
      'e OK UNSUBSCRIBE completed\r\nf OK DELETE completed\r\n',
    );
    expect((await mail.list()).map((m) => m.name)).toEqual(['INBOX', 'Trash']);
    expect(await driver.send('g CREATE X (USE (\\Sent \\Junk))\r\nh CREATE Y (USE (\\Important))\r\n')).toBe(
      'g NO [USEATTR] Unsupported special-use attribute\r\nh NO [USEATTR] Unsupported special-use attribute\r\n',
    );
    // Attributes are case-insensitive: \junk is \Junk.
    expect(await driver.send('i CREATE Spam (USE (\\junk))\r\n')).toMatch(/^i OK /);
    expect((await mail.list()).find((m) => m.name === 'Spam')?.specialUse).toBe('\\Junk');
  });

  it('maps store errors to response codes', async () => {
    const driver = await loggedIn();
    expect(await driver.send('a CREATE INBOX\r\n')).toMatch(/^a NO \[ALREADYEXISTS\] /);
    expect(await driver.send('b DELETE Nope\r\n')).toMatch(/^b NO \[NONEXISTENT\] /);
    expect(await driver.send('c DELETE INBOX\r\n')).toMatch(/^c NO \[CANNOT\] /);
    driver.failNextStoreRequest(new MailboxInUseError());
    expect(await driver.send('d SELECT INBOX\r\n')).toBe(
      'd NO [INUSE] the mailbox is locked by another session\r\n',
    );
    driver.failNextStoreRequest(new OverQuotaError());
    expect(await driver.send('e CREATE Big\r\n')).toBe('e NO [OVERQUOTA] quota exceeded\r\n');
    driver.failNextStoreRequest(new Error('disk on fire'));
    expect(await driver.send('f CREATE Other\r\n')).toBe('f NO [SERVERBUG] Internal error occurred\r\n');
  });

  it('case 20: refuses names that could leave the user’s mail, or are malformed, with NO', async () => {
    const driver = await loggedIn();
    const names = [
      '..',
      '../x',
      './x',
      'a//b',
      '/etc/passwd',
      '~root',
      'x&ICg-y',
      '&,v8-x',
      `"${'a'.repeat(256)}"`,
    ];
    for (const name of names) expect(await driver.send(`a CREATE ${name}\r\n`)).toMatch(/^a NO /);
    expect(await driver.send(`b CREATE {4097+}\r\n${'a'.repeat(4097)}\r\n`)).toMatch(/^b NO /);
    expect(
      await driver.send(
        'd ENABLE UTF8=ACCEPT\r\ne CREATE "x\u2028y"\r\nc CREATE "a\tb"\r\nf CREATE "\ufeffx"\r\n',
      ),
    ).toMatch(/^\* ENABLED UTF8=ACCEPT\r\nd OK Enabled\r\ne NO .*\r\nc NO .*\r\nf NO .*\r\n$/);
    expect((await (await driver.store.user('alice')).list()).map((m) => m.name)).toEqual(['INBOX']);
  });

  it('STATUS answers every item from the store', async () => {
    const driver = await loggedIn();
    const inbox = await (await driver.store.user('alice')).open('INBOX');
    await inbox.append(new TextEncoder().encode('Subject: a\r\n\r\nbody\r\n'), { flags: ['\\Deleted'] });
    const status = await inbox.status();
    await inbox.close();
    expect(
      await driver.send(
        'a STATUS INBOX (MESSAGES RECENT UIDNEXT UIDVALIDITY UNSEEN DELETED SIZE HIGHESTMODSEQ APPENDLIMIT)\r\n',
      ),
    ).toBe(
      `* STATUS INBOX (MESSAGES 1 RECENT 0 UIDNEXT 2 UIDVALIDITY ${status.uidValidity} UNSEEN 1 DELETED 1 SIZE 20 ` +
        `HIGHESTMODSEQ ${status.highestModseq} APPENDLIMIT 67108864)\r\na OK Status completed\r\n`,
    );
    expect(await driver.send('b STATUS Nope (MESSAGES)\r\n')).toMatch(/^b NO \[NONEXISTENT\] /);
  });
});

describe('ImapServerSession: LIST and LSUB', () => {
  async function withBoxes() {
    const driver = await loggedIn();
    const mail = await driver.store.user('alice');
    await mail.create('Archive/2025');
    await mail.create('Archive/2026');
    await mail.create('Sent', { specialUse: '\\Sent' });
    await mail.subscribe('Archive/2026');
    await mail.subscribe('Gone');
    await mail.subscribe('INBOX');
    return driver;
  }

  it('matches `*` and `%`, INBOX in any case, and answers the delimiter for an empty pattern', async () => {
    const driver = await withBoxes();
    expect(await driver.send('a LIST "" *\r\n')).toBe(
      '* LIST (\\HasChildren) "/" Archive\r\n* LIST (\\HasNoChildren) "/" Archive/2025\r\n' +
        '* LIST (\\HasNoChildren) "/" Archive/2026\r\n* LIST (\\HasNoChildren) "/" INBOX\r\n' +
        '* LIST (\\HasNoChildren \\Sent) "/" Sent\r\na OK List completed\r\n',
    );
    expect(await driver.send('b LIST "" %\r\n')).toBe(
      '* LIST (\\HasChildren) "/" Archive\r\n* LIST (\\HasNoChildren) "/" INBOX\r\n' +
        '* LIST (\\HasNoChildren \\Sent) "/" Sent\r\nb OK List completed\r\n',
    );
    expect(await driver.send('c LIST Archive/ %5\r\nd LIST "" inbox\r\ne LIST "" ""\r\n')).toBe(
      '* LIST (\\HasNoChildren) "/" Archive/2025\r\nc OK List completed\r\n' +
        '* LIST (\\HasNoChildren) "/" INBOX\r\nd OK List completed\r\n' +
        '* LIST (\\Noselect) "/" ""\r\ne OK List completed\r\n',
    );
  });

  it('LIST-EXTENDED: SUBSCRIBED (with RECURSIVEMATCH), SPECIAL-USE, RETURN SUBSCRIBED/CHILDREN/SPECIAL-USE', async () => {
    const driver = await withBoxes();
    expect(await driver.send('a LIST (SUBSCRIBED) "" *\r\n')).toBe(
      '* LIST (\\HasNoChildren \\Subscribed) "/" Archive/2026\r\n* LIST (\\NonExistent \\HasNoChildren \\Subscribed) "/" Gone\r\n' +
        '* LIST (\\HasNoChildren \\Subscribed) "/" INBOX\r\na OK List completed\r\n',
    );
    expect(await driver.send('b LIST (SUBSCRIBED RECURSIVEMATCH) "" %\r\n')).toBe(
      '* LIST (\\HasChildren) "/" Archive ("CHILDINFO" ("SUBSCRIBED"))\r\n' +
        '* LIST (\\NonExistent \\HasNoChildren \\Subscribed) "/" Gone\r\n* LIST (\\HasNoChildren \\Subscribed) "/" INBOX\r\n' +
        'b OK List completed\r\n',
    );
    expect(
      await driver.send('c LIST (SPECIAL-USE REMOTE) "" * RETURN (SUBSCRIBED CHILDREN SPECIAL-USE)\r\n'),
    ).toBe('* LIST (\\HasNoChildren \\Sent) "/" Sent\r\nc OK List completed\r\n');
    expect(await driver.send('d LIST "" (INBOX Sent) RETURN (SUBSCRIBED)\r\n')).toBe(
      '* LIST (\\HasNoChildren \\Subscribed) "/" INBOX\r\n* LIST (\\HasNoChildren \\Sent) "/" Sent\r\nd OK List completed\r\n',
    );
    expect(await driver.send('e LIST (RECURSIVEMATCH) "" *\r\nf LIST (BOGUS) "" *\r\n')).toBe(
      'e BAD RECURSIVEMATCH needs another selection option\r\nf BAD Unknown LIST selection option BOGUS\r\n',
    );
  });

  it('LIST-STATUS: RETURN (STATUS …) follows each selectable mailbox with its STATUS', async () => {
    const driver = await withBoxes();
    expect(await driver.send('a LIST (SUBSCRIBED) "" * RETURN (STATUS (MESSAGES UIDNEXT))\r\n')).toBe(
      '* LIST (\\HasNoChildren \\Subscribed) "/" Archive/2026\r\n* STATUS Archive/2026 (MESSAGES 0 UIDNEXT 1)\r\n' +
        '* LIST (\\NonExistent \\HasNoChildren \\Subscribed) "/" Gone\r\n' +
        '* LIST (\\HasNoChildren \\Subscribed) "/" INBOX\r\n* STATUS INBOX (MESSAGES 0 UIDNEXT 1)\r\na OK List completed\r\n',
    );
    driver.failNextStoreRequest(new Error('list failed'));
    expect(await driver.send('b LIST "" * RETURN (STATUS (MESSAGES))\r\n')).toBe(
      'b NO [SERVERBUG] Internal error occurred\r\n',
    );
  });

  it('LSUB lists subscriptions, non-existent ones as \\Noselect; IMAP4rev2 says \\NonExistent in LIST', async () => {
    const driver = await withBoxes();
    expect(await driver.send('a LSUB "" *\r\n')).toBe(
      '* LSUB () "/" Archive/2026\r\n* LSUB (\\Noselect) "/" Gone\r\n* LSUB () "/" INBOX\r\na OK Lsub completed\r\n',
    );
    await (await driver.store.user('alice')).delete('Archive');
    expect(await driver.send('b LIST "" Archive\r\nc ENABLE IMAP4rev2\r\nd LIST "" Archive\r\n')).toBe(
      '* LIST (\\Noselect \\HasChildren) "/" Archive\r\nb OK List completed\r\n* ENABLED IMAP4rev2\r\nc OK Enabled\r\n' +
        '* LIST (\\NonExistent \\HasChildren) "/" Archive\r\nd OK List completed\r\n',
    );
  });

  it('encodes names in modified UTF-7, or UTF-8 under UTF8=ACCEPT', async () => {
    const driver = await loggedIn();
    expect(await driver.send('a CREATE "Entw&APw-rfe"\r\nb LIST "" Entw*\r\n')).toMatch(
      /^a OK \[MAILBOXID \(\w+\)\] CREATE completed\r\n\* LIST \(\\HasNoChildren\) "\/" Entw&APw-rfe\r\nb OK List completed\r\n$/,
    );
    expect((await (await driver.store.user('alice')).list()).map((m) => m.name)).toContain('Entwürfe');
    expect(await driver.send('c ENABLE UTF8=ACCEPT\r\nd LIST "" Entw*\r\n')).toBe(
      '* ENABLED UTF8=ACCEPT\r\nc OK Enabled\r\n* LIST (\\HasNoChildren) "/" "Entwürfe"\r\nd OK List completed\r\n',
    );
  });

  it('case 21: `*%*%…` ×1000 runs in bounded time; too many wildcards is BAD', async () => {
    const driver = await withBoxes();
    expect(await driver.send(`a LIST "" "${'*%'.repeat(1000)}"\r\n`)).toMatch(
      /\* LIST .*"\/" Sent\r\na OK List completed\r\n$/,
    );
    expect(await driver.send(`b LIST "" "${'a*'.repeat(100)}"\r\n`)).toBe(
      'b BAD Too many wildcards in the pattern\r\n',
    );
    const pattern = new MailboxPattern(`${'a%'.repeat(64)}`, '/');
    expect(pattern.matches('a'.repeat(4000))).toBe(true);
    expect(pattern.matches(`${'a'.repeat(3999)}/`)).toBe(false);
    expect(new MailboxPattern('Archive/%', '/').matches('Archive/2026/x')).toBe(false);
  });
});

describe('ImapServerSession: the selected state', () => {
  it('SELECT answers EXISTS, RECENT, FLAGS, PERMANENTFLAGS, UIDVALIDITY, UIDNEXT and READ-WRITE', async () => {
    const driver = await loggedIn();
    const inbox = await (await driver.store.user('alice')).open('INBOX');
    await inbox.append(new TextEncoder().encode('Subject: a\r\n\r\nx\r\n'), {
      flags: ['$Important', '\\Deleted'],
    });
    const { uidValidity, highestModseq, mailboxId } = await inbox.status();
    await inbox.close();
    expect(await driver.send('a SELECT INBOX\r\n')).toBe(
      '* 1 EXISTS\r\n* 1 RECENT\r\n* FLAGS (\\Answered \\Flagged \\Deleted \\Seen \\Draft $Important)\r\n' +
        '* OK [PERMANENTFLAGS (\\Answered \\Flagged \\Deleted \\Seen \\Draft $Important \\*)] Flags permitted.\r\n' +
        `* OK [UNSEEN 1] First unseen.\r\n* OK [UIDVALIDITY ${uidValidity}] UIDs valid\r\n* OK [UIDNEXT 2] Predicted next UID\r\n` +
        `* OK [MAILBOXID (${mailboxId})] Ok\r\na OK [READ-WRITE] SELECT completed\r\n`,
    );
    expect(driver.session.state).toBe('selected');
    expect(driver.session.selected).toEqual({ mailbox: 'INBOX', readOnly: false });
    expect(await driver.send('b CHECK\r\nd ENABLE CONDSTORE\r\n')).toBe(
      'b OK CHECK completed\r\nd BAD Command unknown or not valid in this state\r\n',
    );
    expect(await driver.send('e EXAMINE INBOX (CONDSTORE)\r\n')).toBe(
      '* OK [CLOSED] Previous mailbox closed\r\n* 1 EXISTS\r\n* 0 RECENT\r\n' +
        '* FLAGS (\\Answered \\Flagged \\Deleted \\Seen \\Draft $Important)\r\n* OK [PERMANENTFLAGS ()] Read-only mailbox.\r\n' +
        `* OK [UNSEEN 1] First unseen.\r\n* OK [UIDVALIDITY ${uidValidity}] UIDs valid\r\n* OK [UIDNEXT 2] Predicted next UID\r\n` +
        `* OK [MAILBOXID (${mailboxId})] Ok\r\n* OK [HIGHESTMODSEQ ${highestModseq}] Highest\r\n` +
        'e OK [READ-ONLY] EXAMINE completed\r\n',
    );
    // CLOSE after EXAMINE expunges nothing.
    expect(await driver.send('f CLOSE\r\n')).toBe('f OK CLOSE completed\r\n');
    expect((await (await driver.store.user('alice')).status('INBOX')).messages).toBe(1);
    expect(driver.session.state).toBe('authenticated');
  });

  it('CLOSE expunges \\Deleted messages after SELECT; UNSELECT does not; a failed SELECT leaves no mailbox', async () => {
    const driver = await loggedIn();
    const mail = await driver.store.user('alice');
    const inbox = await mail.open('INBOX');
    await inbox.append(new TextEncoder().encode('a\r\n'), { flags: ['\\Deleted'] });
    await inbox.append(new TextEncoder().encode('b\r\n'));
    await inbox.close();
    await driver.send('a SELECT INBOX\r\n');
    expect(await driver.send('b UNSELECT\r\n')).toBe('b OK UNSELECT completed\r\n');
    expect((await mail.status('INBOX')).messages).toBe(2);
    expect(await driver.send('c UNSELECT\r\n')).toBe('c BAD Command unknown or not valid in this state\r\n');
    await driver.send('d ENABLE IMAP4rev2\r\n');
    expect(await driver.send('e SELECT INBOX\r\n')).not.toContain('RECENT');
    expect(await driver.send('f CLOSE\r\n')).toBe('f OK CLOSE completed\r\n');
    expect((await mail.status('INBOX')).messages).toBe(1);
    await driver.send('g SELECT INBOX\r\n');
    expect(await driver.send('h SELECT Nope\r\n')).toMatch(
      /^\* OK \[CLOSED\] Previous mailbox closed\r\nh NO \[NONEXISTENT\] /,
    );
    expect(driver.session.state).toBe('authenticated');
    expect(await driver.send('i SELECT INBOX (QRESYNC (1 1))\r\n')).toBe('i BAD QRESYNC is not enabled\r\n');
  });
});
