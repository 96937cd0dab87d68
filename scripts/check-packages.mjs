// Runs publint (strict) and @arethetypeswrong/cli on every published package after `pnpm build`.
import { execFileSync } from 'node:child_process';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';

const root = new URL('..', import.meta.url).pathname;
const bin = (name) => join(root, 'node_modules', '.bin', name);
let failed = false;

for (const dir of readdirSync(join(root, 'packages'))) {
  const pkgDir = join(root, 'packages', dir);
  const manifest = join(pkgDir, 'package.json');
  if (!existsSync(manifest)) continue;
  const { name, private: isPrivate } = JSON.parse(readFileSync(manifest, 'utf8'));
  if (isPrivate) continue;
  for (const [tool, args] of [
    ['publint', ['--strict', '--pack', 'npm', pkgDir]],
    ['attw', ['--pack', pkgDir, '--format', 'table-flipped']],
  ]) {
    try {
      execFileSync(bin(tool), args, { stdio: 'inherit', cwd: pkgDir });
      console.log(`${tool} ok: ${name}`);
    } catch {
      console.error(`${tool} FAILED: ${name}`);
      failed = true;
    }
  }
}
process.exit(failed ? 1 : 0);
