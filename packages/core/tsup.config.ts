import { packageBuild } from '../../tsup.shared.js';

export default packageBuild(
  {
    index: 'src/index.ts',
    'node/index': 'src/node/index.ts',
    'deno/index': 'src/deno/index.ts',
    'bun/index': 'src/bun/index.ts',
    'workers/index': 'src/workers/index.ts',
    'no-sockets/index': 'src/no-sockets/index.ts',
  },
  ['cloudflare:sockets'],
);
