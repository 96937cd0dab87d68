import { existsSync, readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

/**
 * The benchmark children run the built packages: throws when one of `packages` is not built, and warns
 * when a build is older than its sources, naming the `rows` that then measure the old build.
 */
export function checkBuilt(packages: readonly string[], rows: string): void {
  for (const name of packages) {
    const dist = fileURLToPath(new URL(`../../packages/${name}/dist/index.js`, import.meta.url));
    const src = fileURLToPath(new URL(`../../packages/${name}/src/`, import.meta.url));
    if (!existsSync(dist)) throw new Error(`packages/${name} is not built: run \`pnpm build\` first`);
    const built = statSync(dist).mtimeMs;
    const stale = readdirSync(src, { recursive: true }).some(
      (file) => String(file).endsWith('.ts') && statSync(join(src, String(file))).mtimeMs > built,
    );
    if (stale)
      console.warn(
        `packages/${name}/dist is older than its src: ${rows} measure the old build (run \`pnpm build\`).`,
      );
  }
}
