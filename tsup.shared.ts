import { defineConfig, type Options } from 'tsup';

/** The build every package shares: ESM + CJS + `.d.ts`, with shared chunks so each class exists once. */
export function packageBuild(entry: Record<string, string>) {
  const options: Options = {
    entry,
    format: ['esm', 'cjs'],
    dts: true,
    clean: true,
    sourcemap: true,
    target: 'es2022',
    splitting: true,
  };
  return defineConfig(options);
}
