// Postwire's dev server (SMTP submission, IMAP, POP3, each with STARTTLS and implicit TLS, over a memory store)
// on whichever runtime runs this file: node, `deno run -A`, or bun. Reads { key, cert } as JSON from the file
// named by its argument, prints its ports as one JSON line, and serves until killed.
import { readFileSync } from 'node:fs';
import { anyFreeDevServerPorts, startDevServer } from '@postwire/cli';
import { createMemoryStore } from '@postwire/store';

const tls = JSON.parse(readFileSync(process.argv[2] ?? globalThis.Deno?.args[0], 'utf8'));
const server = await startDevServer({
  store: createMemoryStore(),
  users: [{ name: 'alice', password: 'wonderland' }],
  tls,
  ports: anyFreeDevServerPorts,
  mailAuthentication: false,
});
console.log(JSON.stringify(server.ports));
