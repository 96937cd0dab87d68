import type { TraceEvent } from '@postwire/core';
import { createImapClient, type ImapClient, type ImapClientOptions } from '../../src/index.js';
import { MemoryImapServer, type MemoryServerOptions, type Script, tagOf, verbOf } from './memory-server.js';

/** The capabilities of the scripted servers, unless a test says otherwise. */
export const CAPABILITIES =
  'IMAP4rev1 LITERAL+ SASL-IR AUTH=PLAIN ENABLE IDLE UIDPLUS MOVE ESEARCH UNSELECT ID NAMESPACE SORT THREAD=REFERENCES';

/** A greeting that announces `capabilities`. */
export function greeting(capabilities = CAPABILITIES): string {
  return `* OK [CAPABILITY ${capabilities}] ready\r\n`;
}

/**
 * A server that answers what every session needs (CAPABILITY, login, SELECT of a mailbox of three
 * messages, LOGOUT, and `OK` to the rest); `special` answers first when it returns something.
 */
export function mailboxScript(
  special: (
    command: string,
    verb: string,
    tag: string,
    server: MemoryImapServer,
  ) => string | Uint8Array | undefined = () => undefined,
  capabilities = CAPABILITIES,
): Script {
  return (command, server) => {
    const tag = tagOf(command);
    const verb = verbOf(command);
    const answer = special(command, verb, tag, server);
    if (answer !== undefined) return answer;
    // Lines that are not commands (DONE, a SASL response) get no answer unless `special` gives one.
    if (!/^A\d+ /.test(command)) return undefined;
    const name = verb.split(' ')[0]!.toUpperCase();
    switch (name) {
      case 'CAPABILITY':
        return `* CAPABILITY ${capabilities}\r\n${tag} OK done\r\n`;
      case 'AUTHENTICATE':
      case 'LOGIN':
        return `${tag} OK [CAPABILITY ${capabilities}] logged in\r\n`;
      case 'SELECT':
      case 'EXAMINE':
        return `* 3 EXISTS\r\n* 0 RECENT\r\n* FLAGS (\\Seen \\Deleted)\r\n* OK [UIDVALIDITY 7] ok\r\n* OK [UIDNEXT 4] ok\r\n${tag} OK [${name === 'SELECT' ? 'READ-WRITE' : 'READ-ONLY'}] done\r\n`;
      case 'LOGOUT':
        return `* BYE bye\r\n${tag} OK done\r\n`;
      default:
        return `${tag} OK done\r\n`;
    }
  };
}

/**
 * {@link mailboxScript} leaving the first NOOP unanswered, for a test to answer it later: `held()` gives
 * its tag once it came.
 */
export function holdingFirstNoop(capabilities = CAPABILITIES): {
  script: Script;
  held(): string | undefined;
} {
  let held: string | undefined;
  const script = mailboxScript((_, verb, tag) => {
    if (verb !== 'NOOP' || held !== undefined) return undefined;
    held = tag;
    return '';
  }, capabilities);
  return { script, held: () => held };
}

/** A scripted server and a client logged in to it (cleartext, SASL PLAIN), with the trace kept. */
export async function scripted(
  script: Script = mailboxScript(),
  options: {
    readonly greeting?: string;
    readonly server?: MemoryServerOptions;
    readonly client?: Partial<ImapClientOptions>;
  } = {},
): Promise<{ server: MemoryImapServer; client: ImapClient; trace: TraceEvent[] }> {
  const server = new MemoryImapServer(options.greeting ?? greeting(), script, options.server);
  const trace: TraceEvent[] = [];
  const client = await createImapClient({
    host: 'imap.example',
    connector: server.connector,
    starttls: 'never',
    auth: { username: 'alice', password: 'secret', allowCleartext: true },
    trace: (event) => trace.push(event),
    ...options.client,
  });
  return { server, client, trace };
}

/** The commands after login (`CAPABILITY` and the login itself dropped). */
export function after(server: MemoryImapServer, verb: string): string[] {
  const index = server.commands.findIndex((command) => verbOf(command).startsWith(verb));
  return server.commands.slice(index + 1);
}

/** Lets pending reads and writes run. */
export function tick(): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, 0));
}
