import { gzipSync } from 'node:zlib';
import { build } from 'esbuild';
import { describe, expect, it } from 'vitest';
import { requireBuild, runtimesDir } from './support.js';

/**
 * The size budget of a Worker that uses the IMAP and SMTP clients (scenario/mail-worker.mjs), minified:
 * docs/runtimes.md gives it and what it held when it was set (175.6 KiB, 63 KiB gzipped).
 */
const BUDGET = { minified: 200 * 1024, gzipped: 72 * 1024 };

describe('a Worker bundled with esbuild for the workerd condition', () => {
  it(`imports no node: module, and stays within ${BUDGET.minified / 1024} KiB minified (${BUDGET.gzipped / 1024} KiB gzipped)`, async () => {
    requireBuild();
    const result = await build({
      entryPoints: [`${runtimesDir}/scenario/mail-worker.mjs`],
      bundle: true,
      write: false,
      minify: true,
      format: 'esm',
      platform: 'neutral',
      conditions: ['workerd', 'worker', 'browser'],
      mainFields: ['module', 'main'],
      external: ['cloudflare:sockets'],
      metafile: true,
      logLevel: 'silent',
    });
    const [output] = Object.values(result.metafile.outputs);
    // The one module left to the runtime is the Workers sockets API; nothing from Node, and no Node adapter.
    expect(output!.imports.map((each) => each.path)).toEqual(['cloudflare:sockets']);
    const inputs = Object.keys(output!.inputs);
    expect(inputs.filter((path) => /\/(src|dist)\/(node|bun|deno)\//.test(path))).toEqual([]);
    expect(inputs.some((path) => path.includes('/core/dist/workers/'))).toBe(true);
    const bytes = result.outputFiles[0]!.contents;
    expect(bytes.length).toBeLessThanOrEqual(BUDGET.minified);
    expect(gzipSync(bytes, { level: 9 }).length).toBeLessThanOrEqual(BUDGET.gzipped);
  });
});
