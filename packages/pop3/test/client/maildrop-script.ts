import type { Script } from '../../../core/test/support/scripted-server.js';

/**
 * A script for a plain, well-behaved POP3 server over `messages`, with USER/PASS for `alice`/`secret`
 * and the capabilities given; `override` answers a line first when it returns something.
 */
export function maildropScript(
  messages: readonly string[],
  options: { capabilities?: readonly string[]; uids?: readonly string[]; override?: Script } = {},
): Script {
  const capabilities = options.capabilities ?? ['USER', 'UIDL', 'TOP', 'PIPELINING', 'RESP-CODES'];
  const uids = options.uids ?? messages.map((_, index) => `uid-${index + 1}`);
  const deleted = new Set<number>();
  const stuffed = (text: string): string =>
    `${text.replace(/^\./gm, '..')}${text.endsWith('\r\n') ? '' : '\r\n'}.\r\n`;
  return (line, socket) => {
    const answer = options.override?.(line, socket);
    if (answer !== undefined) return answer;
    const [verb = '', first, second] = line.split(' ');
    const number = Number(first);
    const exists = number >= 1 && number <= messages.length && !deleted.has(number);
    switch (verb.toUpperCase()) {
      case 'CAPA':
        return `+OK\r\n${capabilities.map((name) => `${name}\r\n`).join('')}.\r\n`;
      case 'USER':
        return '+OK\r\n';
      case 'PASS':
        return first === 'secret' ? '+OK logged in\r\n' : '-ERR [AUTH] invalid credentials\r\n';
      case 'STAT':
        return `+OK ${messages.length} ${messages.reduce((sum, text) => sum + text.length, 0)}\r\n`;
      case 'LIST':
        if (first !== undefined)
          return exists ? `+OK ${number} ${messages[number - 1]!.length}\r\n` : '-ERR no such message\r\n';
        return `+OK\r\n${messages.map((text, index) => `${index + 1} ${text.length}\r\n`).join('')}.\r\n`;
      case 'UIDL':
        if (first !== undefined)
          return exists ? `+OK ${number} ${uids[number - 1]}\r\n` : '-ERR no such message\r\n';
        return `+OK\r\n${uids.map((uid, index) => `${index + 1} ${uid}\r\n`).join('')}.\r\n`;
      case 'RETR':
        return exists ? `+OK\r\n${stuffed(messages[number - 1]!)}` : '-ERR no such message\r\n';
      case 'TOP':
        return exists
          ? `+OK\r\n${stuffed(messages[number - 1]!.split('\r\n\r\n')[0]!.concat('\r\n\r\n'))}`
          : `-ERR no such message ${second ?? ''}\r\n`;
      case 'DELE':
        if (!exists) return '-ERR no such message\r\n';
        deleted.add(number);
        return '+OK marked\r\n';
      case 'RSET':
        deleted.clear();
        return '+OK\r\n';
      case 'NOOP':
        return '+OK\r\n';
      case 'QUIT':
        socket.end('+OK bye\r\n');
        return undefined;
      default:
        return '-ERR unknown command\r\n';
    }
  };
}
