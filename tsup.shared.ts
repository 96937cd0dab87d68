import { defineConfig, type Options } from 'tsup';

/**
 * The build every package shares: ESM + CJS + `.d.ts`, with shared chunks so each class exists once.
 * `external` names modules the runtime provides (such as Workers' `cloudflare:sockets`).
 */
export function packageBuild(entry: Record<string, string>, external: string[] = []) {
  const options: Options = {
    entry,
    external,
    format: ['esm', 'cjs'],
    dts: true,
    clean: true,
    sourcemap: true,
    target: 'es2022',
    splitting: true,
  };
  return defineConfig(options);
}
