import { createServer, type Server, type Socket } from 'node:net';

/** What a scripted server does with one command line: the bytes to send back (CRLFs included), or nothing. */
export type Script = (line: string, socket: Socket) => string | Uint8Array | undefined;

/** A running scripted server. */
export interface ScriptedServer {
  readonly port: number;
  /** Every line the clients wrote, in order. */
  readonly lines: string[];
  close(): Promise<void>;
}

/**
 * A hostile or odd POP3 server in a few lines, for what a well-behaved server never shows (a missing
 * or refused STLS, a response injected after STLS's `+OK`, a malformed UIDL, a server that never
 * answers). It sends `greeting` (unless empty), answers each line through `script`, and records every
 * line the client wrote.
 */
export async function scriptedServer(greeting: string, script: Script): Promise<ScriptedServer> {
  const lines: string[] = [];
  const sockets = new Set<Socket>();
  const server: Server = createServer((socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
    socket.on('error', () => {});
    let buffer = '';
    if (greeting) socket.write(greeting);
    socket.on('data', (data) => {
      buffer += data.toString('latin1');
      for (let end = buffer.indexOf('\r\n'); end >= 0; end = buffer.indexOf('\r\n')) {
        const line = buffer.slice(0, end);
        buffer = buffer.slice(end + 2);
        lines.push(line);
        const answer = script(line, socket);
        if (answer !== undefined && !socket.destroyed) socket.write(answer);
      }
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address();
  if (address === null || typeof address === 'string') throw new Error('no port');
  return {
    port: address.port,
    lines,
    close: () =>
      new Promise((resolve) => {
        for (const socket of sockets) socket.destroy();
        server.close(() => resolve());
      }),
  };
}

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
