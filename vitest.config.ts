import { defineConfig } from 'vitest/config';
import projects from './vitest.workspace';

export default defineConfig({
  test: {
    projects,
    coverage: {
      provider: 'v8',
      include: ['packages/*/src/**/*.ts'],
      reporter: ['text-summary', 'text', 'json-summary'],
      thresholds: {
        'packages/core/src/**': { lines: 90 },
        'packages/sasl/src/**': { lines: 90 },
        'packages/mime/src/**': { lines: 90 },
        'packages/store/src/**': { lines: 90 },
        'packages/store-postgres/src/**': { lines: 90 },
        'packages/smtp/src/**': { lines: 90 },
        'packages/pop3/src/**': { lines: 90 },
        'packages/imap/src/**': { lines: 90 },
        'packages/mailauth/src/**': { lines: 90 },
        'packages/cli/src/**': { lines: 90 },
      },
    },
  },
});
