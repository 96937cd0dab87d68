import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { InvalidMailboxNameError } from '../../src/index.js';
import {
  flagsOfLetters,
  lettersOfFlags,
  maildirName,
  parseMaildirName,
  unmappedLetters,
} from '../../src/maildir/filename.js';
import { folderOfMailbox, mailboxOfFolder } from '../../src/maildir/folder-names.js';
import {
  compactIndexLog,
  emptyLogState,
  expungeLine,
  flagsLine,
  type IndexLogState,
  messageLine,
  replayIndexLog,
} from '../../src/maildir/index-log.js';
import { keywordLetter, parseKeywords, serializeKeywords } from '../../src/maildir/keywords.js';
import { parseSubscriptions, serializeSubscriptions } from '../../src/maildir/subscriptions.js';
import { parseUidList, serializeUidList, uidListHeader, uidRecordLine } from '../../src/maildir/uidlist.js';

describe('Maildir file names', () => {
  it('splits Dovecot names into base, letters and sizes', () => {
    expect(parseMaildirName('1795498253.M202851P16082.vm,S=188,W=195:2,Sab')).toEqual({
      base: '1795498253.M202851P16082.vm,S=188,W=195',
      letters: 'Sab',
      size: 188,
      virtualSize: 195,
    });
    expect(parseMaildirName('1795498253.M1P2.host')).toEqual({ base: '1795498253.M1P2.host', letters: '' });
  });

  it('reads the sizes of any name as the first ,S= or ,W= followed by digits', () => {
    fc.assert(
      fc.property(fc.stringMatching(/^[0-9.,:SW=2x]{0,40}$/), (name) => {
        const base = name.includes(':2,') ? name.slice(0, name.indexOf(':2,')) : name;
        const size = /,S=(\d+)/.exec(base)?.[1];
        const virtualSize = /,W=(\d+)/.exec(base)?.[1];
        const parsed = parseMaildirName(name);
        expect(parsed.size).toBe(size === undefined ? undefined : Number(size));
        expect(parsed.virtualSize).toBe(virtualSize === undefined ? undefined : Number(virtualSize));
      }),
    );
  });

  it('maps letters to IMAP flags and back in ASCII order, keeping P', () => {
    const keywords = ['$Forwarded', 'Custom1'];
    const keywordOf = (letter: string) => keywords[letter.charCodeAt(0) - 97];
    expect(flagsOfLetters('DFPRSTab', keywordOf)).toEqual([
      '\\Draft',
      '\\Flagged',
      '\\Answered',
      '\\Seen',
      '\\Deleted',
      '$Forwarded',
      'Custom1',
    ]);
    const letterOf = (keyword: string) => keywordLetter(keywords.indexOf(keyword));
    expect(lettersOfFlags(['Custom1', '\\Seen', '\\Draft'], letterOf, unmappedLetters('PS'))).toBe('DPSb');
    expect(maildirName('base', 'S')).toBe('base:2,S');
  });

  it('round-trips any set of flags through letters', () => {
    const keywords = ['a1', 'b2', 'c3'];
    fc.assert(
      fc.property(
        fc.subarray(['\\Seen', '\\Answered', '\\Flagged', '\\Deleted', '\\Draft', ...keywords]),
        (flags) => {
          const letters = lettersOfFlags(flags, (keyword) => keywordLetter(keywords.indexOf(keyword)));
          const back = flagsOfLetters(letters, (letter) => keywords[letter.charCodeAt(0) - 97]);
          expect([...back].sort()).toEqual([...flags].sort());
        },
      ),
    );
  });
});

describe('dovecot-uidlist', () => {
  it('reads what Dovecot writes, taking the next UID past the last record', () => {
    const list = parseUidList(
      '3 V1795498253 N1 Ge86b170c0d21056bd23e000083ecc375\n1 :1795498253.M202851P16082.vm,S=188,W=195\n',
    );
    expect(list).toEqual({
      version: 3,
      uidValidity: 1795498253,
      nextUid: 2,
      mailboxGuid: 'e86b170c0d21056bd23e000083ecc375',
      headerExtensions: '',
      records: [{ uid: 1, base: '1795498253.M202851P16082.vm,S=188,W=195', extensions: '' }],
    });
  });

  it('keeps extension fields, skips malformed records and a line still being written', () => {
    const list = parseUidList('3 V7 N10\n3 W1234 G00ff :b1\nnonsense\n0 :b0\n12 :b2\n13 :partial')!;
    expect(list.records).toEqual([
      { uid: 3, base: 'b1', extensions: 'W1234 G00ff' },
      { uid: 12, base: 'b2', extensions: '' },
    ]);
    expect(list.nextUid).toBe(13);
    expect(list.mailboxGuid).toBeUndefined();
    expect(parseUidList('1 1234 5\n')).toBeUndefined();
    expect(parseUidList('3 N5\n')).toBeUndefined();
  });

  it('reads the mailbox GUID in any case as lowercase, and takes a malformed one for none', () => {
    const guid = 'E86B170C0D21056BD23E000083ECC375';
    expect(parseUidList(`3 V7 N1 G${guid} X9\n`)).toMatchObject({
      mailboxGuid: guid.toLowerCase(),
      headerExtensions: 'X9',
    });
    for (const field of ['G', 'G00ff', `G${guid}0`, `G${guid.slice(1)}z`]) {
      const list = parseUidList(`3 V7 N1 ${field}\n`)!;
      expect(list.mailboxGuid, field).toBeUndefined();
      expect(list.headerExtensions, field).toBe('');
    }
  });

  it('serializes so that parsing gives the list back, the GUID included', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 0xffffffff }),
        fc.uniqueArray(fc.integer({ min: 1, max: 100_000 })),
        fc.option(fc.stringMatching(/^[0-9a-f]{32}$/), { nil: undefined }),
        fc.constantFrom('', 'X1', 'X1 Y2'),
        (uidValidity, uids, mailboxGuid, headerExtensions) => {
          const records = [...uids]
            .sort((a, b) => a - b)
            .map((uid) => ({ uid, base: `${uid}.M1P1.host,S=10`, extensions: '' }));
          const nextUid = (records.at(-1)?.uid ?? 0) + 1;
          const list = { version: 3, uidValidity, nextUid, mailboxGuid, headerExtensions, records };
          expect(parseUidList(serializeUidList(list))).toEqual(list);
        },
      ),
    );
    expect(uidListHeader({ uidValidity: 5, nextUid: 6, headerExtensions: '' })).toBe('3 V5 N6\n');
    const guid = 'e86b170c0d21056bd23e000083ecc375';
    expect(uidListHeader({ uidValidity: 5, nextUid: 6, mailboxGuid: guid, headerExtensions: 'X1' })).toBe(
      `3 V5 N6 G${guid} X1\n`,
    );
    expect(uidRecordLine({ uid: 4, base: 'x', extensions: 'W9' })).toBe('4 W9 :x\n');
  });
});

describe('dovecot-keywords', () => {
  it('reads and writes keywords by index', () => {
    const keywords = parseKeywords('0 $Forwarded\n2 Work\nbad line\n30 TooFar\n');
    expect(keywords).toEqual(['$Forwarded', undefined, 'Work']);
    expect(serializeKeywords(keywords)).toBe('0 $Forwarded\n2 Work\n');
    expect(keywordLetter(25)).toBe('z');
  });
});

describe('postwire-index log', () => {
  it('replays appends, flag changes and expunges; a line being written is ignored', () => {
    const text =
      messageLine(1, { loggedModseq: 2, internalTime: 1000, size: 10, loggedLetters: 'S' }) +
      messageLine(2, { loggedModseq: 3, internalTime: 2000, size: 20, loggedLetters: '' }) +
      flagsLine(1, 4, 'FS') +
      expungeLine(5) +
      'f 2 9 :T';
    const state = replayIndexLog(text);
    expect(state.highestModseq).toBe(5);
    expect(state.messages.get(1)).toEqual({
      loggedModseq: 4,
      internalTime: 1000,
      size: 10,
      loggedLetters: 'FS',
    });
    expect(state.messages.get(2)).toEqual({
      loggedModseq: 3,
      internalTime: 2000,
      size: 20,
      loggedLetters: '',
    });
    expect(state.lines).toBe(4);
  });

  it("brings a known message's own record up to date when its line comes again (a compaction elsewhere)", () => {
    const state = replayIndexLog(
      messageLine(3, { loggedModseq: 4, internalTime: 5, size: 6, loggedLetters: '' }),
    );
    const record = state.messages.get(3)!;
    replayIndexLog(messageLine(3, { loggedModseq: 9, internalTime: 5, size: 6, loggedLetters: 'S' }), state);
    expect(state.messages.get(3)).toBe(record);
    expect(record).toEqual({ loggedModseq: 9, internalTime: 5, size: 6, loggedLetters: 'S' });
  });

  it('compacts to the same state', () => {
    const state = replayIndexLog(
      `${messageLine(7, { loggedModseq: 8, internalTime: 1, size: 2, loggedLetters: 'a' })}x 12\n`,
    );
    const compacted = replayIndexLog(compactIndexLog(state.highestModseq, state.messages));
    expect(compacted.highestModseq).toBe(12);
    expect(compacted.messages).toEqual(state.messages);
  });

  it('skips malformed lines', () => {
    const state = replayIndexLog('a 1 2\nf x 3 :S\nq 1\nh 9 :S\nx -1\nh 4\n');
    expect(state.messages.size).toBe(0);
    expect(state.highestModseq).toBe(4);
  });

  it('reads any line as space-separated fields, numbers as Number reads them', () => {
    // Lines as Postwire writes them, and lines of the same characters in any order.
    const line = fc.oneof(
      fc
        .tuple(fc.nat(), fc.nat(), fc.nat(), fc.nat(), fc.stringMatching(/^[A-Za-z]{0,4}$/))
        .map(([uid, modseq, time, size, letters]) =>
          messageLine(uid, { loggedModseq: modseq, internalTime: time, size, loggedLetters: letters }),
        ),
      fc.tuple(fc.nat(), fc.nat(), fc.stringMatching(/^[A-Z]{0,3}$/)).map(([u, m, l]) => flagsLine(u, m, l)),
      fc.nat().map(expungeLine),
      fc.stringMatching(/^[afxhq:]?[ 0-9:ST.e+x-]{0,24}\n$/),
      fc.stringMatching(/^[afxh] (?:[0-9]{14,18} ?){1,4}(?::S)?\n$/),
    );
    fc.assert(
      fc.property(fc.array(line, { maxLength: 12 }), (lines) => {
        const text = lines.join('');
        expect(replayIndexLog(text)).toEqual(replayBySplitting(text));
      }),
      { numRuns: 2000 },
    );
  });
});

/** The log read line by line, each cut into its fields: what `replayIndexLog` must find. */
function replayBySplitting(text: string): IndexLogState {
  const state = emptyLogState();
  const end = text.lastIndexOf('\n');
  if (end === -1) return state;
  for (const line of text.slice(0, end).split('\n')) {
    const fields = line.split(' ');
    const letters = fields[fields.length - 1]?.startsWith(':') ? fields.pop()!.slice(1) : undefined;
    const numbers = fields.slice(1).map(Number);
    if (!numbers.every((value) => Number.isSafeInteger(value) && value >= 0)) continue;
    const [first = 0, second = 0, third = 0, fourth = 0] = numbers;
    const kind = fields[0];
    if (kind === 'a' && numbers.length === 4 && letters !== undefined) {
      const known = state.messages.get(first);
      if (known) {
        known.loggedModseq = second;
        known.loggedLetters = letters;
      } else {
        state.messages.set(first, {
          loggedModseq: second,
          internalTime: third,
          size: fourth,
          loggedLetters: letters,
        });
      }
    } else if (kind === 'f' && numbers.length === 2 && letters !== undefined) {
      const message = state.messages.get(first);
      if (message) {
        message.loggedModseq = second;
        message.loggedLetters = letters;
      }
    } else if (!((kind === 'x' || kind === 'h') && numbers.length === 1 && letters === undefined)) {
      continue;
    }
    state.highestModseq = Math.max(state.highestModseq, kind === 'x' || kind === 'h' ? first : second);
    state.lines++;
  }
  return state;
}

describe('Maildir++ folder names', () => {
  it('maps mailbox names to Dovecot folder directories and back', () => {
    expect(folderOfMailbox('INBOX')).toBe('');
    expect(folderOfMailbox('Work/Entwürfe')).toBe('.Work.Entw&APw-rfe');
    expect(folderOfMailbox('INBOX/Sub')).toBe('.INBOX.Sub');
    expect(mailboxOfFolder('.Work.Entw&APw-rfe')).toBe('Work/Entwürfe');
    for (const directory of ['.', '..', 'cur', '.a..b', '.Bad&-x&']) {
      expect(mailboxOfFolder(directory)).toBeUndefined();
    }
  });

  it('refuses a level holding "." (it would read as two levels)', () => {
    expect(() => folderOfMailbox('v1.2')).toThrow(InvalidMailboxNameError);
  });

  it('round-trips names of printable and non-ASCII levels', () => {
    const level = fc
      .string({ minLength: 1, maxLength: 12 })
      .filter((text) => !/[./\x00-\x1f]/.test(text) && !/[\ud800-\udfff]/.test(text));
    fc.assert(
      fc.property(fc.array(level, { minLength: 1, maxLength: 4 }), (levels) => {
        const name = levels.join('/');
        fc.pre(name !== 'INBOX');
        expect(mailboxOfFolder(folderOfMailbox(name))).toBe(name);
      }),
    );
  });
});

describe("Dovecot's subscriptions file", () => {
  it('reads and writes version 2, levels separated by a tab, in modified UTF-7', () => {
    const text = 'V\t2\n\nWork\tProjects\nEntw&APw-rfe\nINBOX\nNoSuch\tThing\n';
    const names = parseSubscriptions(text);
    expect(names).toEqual(['Work/Projects', 'Entwürfe', 'INBOX', 'NoSuch/Thing']);
    expect(serializeSubscriptions(names)).toBe(text);
  });

  it('reads version 1 (storage names) and skips lines that are not names', () => {
    expect(parseSubscriptions('Work.Projects\n\nBad&\nINBOX\n')).toEqual(['Work/Projects', 'INBOX']);
  });
});
