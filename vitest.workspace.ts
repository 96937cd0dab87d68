import { fileURLToPath } from 'node:url';
import type { TestProjectConfiguration } from 'vitest/config';

/** Source entry points, so that tests run against `src/` without a build. */
const alias = {
  '@postwire/core/node': fileURLToPath(new URL('./packages/core/src/node/index.ts', import.meta.url)),
  '@postwire/core': fileURLToPath(new URL('./packages/core/src/index.ts', import.meta.url)),
  '@postwire/sasl': fileURLToPath(new URL('./packages/sasl/src/index.ts', import.meta.url)),
  '@postwire/mime': fileURLToPath(new URL('./packages/mime/src/index.ts', import.meta.url)),
  '@postwire/store/maildir': fileURLToPath(new URL('./packages/store/src/node/maildir.ts', import.meta.url)),
  '@postwire/store': fileURLToPath(new URL('./packages/store/src/index.ts', import.meta.url)),
  '@postwire/store-postgres': fileURLToPath(
    new URL('./packages/store-postgres/src/index.ts', import.meta.url),
  ),
  '@postwire/smtp/node': fileURLToPath(new URL('./packages/smtp/src/node/index.ts', import.meta.url)),
  '@postwire/smtp': fileURLToPath(new URL('./packages/smtp/src/index.ts', import.meta.url)),
  '@postwire/pop3/node': fileURLToPath(new URL('./packages/pop3/src/node/index.ts', import.meta.url)),
  '@postwire/pop3': fileURLToPath(new URL('./packages/pop3/src/index.ts', import.meta.url)),
  '@postwire/imap/node': fileURLToPath(new URL('./packages/imap/src/node/index.ts', import.meta.url)),
  '@postwire/imap': fileURLToPath(new URL('./packages/imap/src/index.ts', import.meta.url)),
  '@postwire/mailauth/node': fileURLToPath(new URL('./packages/mailauth/src/node/index.ts', import.meta.url)),
  '@postwire/mailauth': fileURLToPath(new URL('./packages/mailauth/src/index.ts', import.meta.url)),
  '@postwire/cli': fileURLToPath(new URL('./packages/cli/src/index.ts', import.meta.url)),
};

/** The one list of test projects: one per package. The root `vitest.config.ts` reads it. */
const packages = [
  'core',
  'sasl',
  'mime',
  'store',
  'store-postgres',
  'smtp',
  'pop3',
  'imap',
  'mailauth',
  'cli',
];

const projects: TestProjectConfiguration[] = packages.map((name) => ({
  resolve: { alias },
  test: {
    name,
    root: `./packages/${name}`,
    include: ['test/**/*.test.ts'],
    environment: 'node',
  },
}));

projects.push({
  resolve: { alias },
  test: { name: 'examples', root: './examples', include: ['test/**/*.test.ts'], environment: 'node' },
});

projects.push({
  resolve: { alias },
  test: {
    name: 'runtimes',
    root: './runtimes',
    include: ['test/**/*.test.ts'],
    environment: 'node',
    testTimeout: 120_000,
    hookTimeout: 60_000,
  },
});

export default projects;
