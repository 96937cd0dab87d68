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
 * A hostile or odd server in a few lines, for what a well-behaved server never shows (a missing or
 * refused STARTTLS, a reply injected after its `220` or `+OK`, a malformed UIDL, a server that never
 * answers): a line protocol over loopback that sends `greeting` (unless empty), answers each line
 * through `script`, and records every line the client wrote. Shared by the clients' tests.
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
