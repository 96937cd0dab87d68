import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DNSMASQ, dnsmasqAvailable, dnsmasqBaseConfig } from './dns-server.js';
import { type DnsZone, dnsmasqZoneOptions } from './dnsmasq-zone.js';
import { runTool, type ToolResult } from './tool-process.js';

/**
 * For tools that can only use the system resolver (glibc's `res_query`, which reads the nameserver
 * from /etc/resolv.conf and always asks port 53): the tool runs in a private network and mount
 * namespace (`unshare --net --mount`, root only) where loopback is its own, dnsmasq serves the zone
 * on 127.0.0.1:53, and a private resolv.conf is bind-mounted over /etc/resolv.conf. Nothing outside
 * the namespace sees either. See /work/shared/PEERS.md, "opendkim-tools".
 */

/** True when this process is root and has `unshare`, `ip` (iproute2), bash and dnsmasq. */
export function privateResolverAvailable(): boolean {
  if (process.getuid?.() !== 0 || !dnsmasqAvailable() || !existsSync('/bin/bash')) return false;
  return ['unshare', 'ip'].every(
    (command) => spawnSync('sh', ['-c', `command -v ${command}`], { stdio: 'ignore' }).status === 0,
  );
}

/**
 * In the namespace: bring loopback up, mount the private resolv.conf, start dnsmasq as a daemon
 * (it returns once it listens; `$dir/dnsmasq.pid` names it), run the command with `timeout` so that
 * the EXIT trap always stops dnsmasq. Arguments: DIR, the number of dnsmasq arguments, those
 * arguments, TIMEOUT_SECONDS, then the command and its arguments.
 */
const SCRIPT = `
set -eu
dir=$1; count=$2; shift 2
dnsmasq_args=("\${@:1:count}"); shift "$count"
seconds=$1; shift
ip link set lo up
mount --bind "$dir/resolv.conf" /etc/resolv.conf
${DNSMASQ} --conf-file="$dir/dnsmasq.conf" --port=53 --listen-address=127.0.0.1 --bind-interfaces \\
  --pid-file="$dir/dnsmasq.pid" --log-facility="$dir/dnsmasq.log" "\${dnsmasq_args[@]}"
trap 'kill "$(cat "$dir/dnsmasq.pid")"' EXIT
status=0
timeout "$seconds" "$@" < "$dir/stdin" || status=$?
exit "$status"
`;

/**
 * Runs `command args…` with `input` on stdin, in a private namespace whose only DNS server is a
 * dnsmasq serving `zone` (as `startDnsServer` would). Resolves the command's exit status and
 * output whatever they are. The resolv.conf there says `options timeout:1 attempts:1`, so a lookup
 * the zone cannot answer fails at once. Check {@link privateResolverAvailable} first.
 */
export async function runWithPrivateResolver(
  zone: DnsZone,
  command: string,
  args: readonly string[],
  options: { input?: string | Uint8Array; timeoutSeconds?: number } = {},
): Promise<ToolResult> {
  const { lines, args: dnsmasqArgs } = dnsmasqZoneOptions(zone);
  const dir = await mkdtemp(join(tmpdir(), 'pw-netns-'));
  try {
    await writeFile(join(dir, 'dnsmasq.conf'), `${[...dnsmasqBaseConfig(), ...lines].join('\n')}\n`);
    await writeFile(join(dir, 'resolv.conf'), 'nameserver 127.0.0.1\noptions timeout:1 attempts:1\n');
    await writeFile(join(dir, 'stdin'), options.input ?? '');
    const seconds = options.timeoutSeconds ?? 15;
    return await runTool(
      'unshare',
      [
        '--net',
        '--mount',
        '/bin/bash',
        '-c',
        SCRIPT,
        'bash',
        dir,
        String(dnsmasqArgs.length),
        ...dnsmasqArgs,
        String(seconds),
        command,
        ...args,
      ],
      { timeout: (seconds + 10) * 1_000 },
    );
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}
