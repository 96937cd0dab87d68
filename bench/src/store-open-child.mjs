// Child process of store.ts, run by plain Node on the built packages (as stream-memory-child.mjs) so that
// it starts with nothing of the parent in memory and nothing but the store adds to its resident memory:
// opens one user's INBOX in a Maildir as a server's first session would (store.user, open, status), then
// sends the time that took, the message count, and the process's peak and starting RSS.
import { readFileSync } from 'node:fs';

const [root, user] = process.argv.slice(2);

/** A field of /proc/self/status in MiB: VmHWM is the kernel's high-water mark of this process's RSS. */
function statusMb(field) {
  try {
    const match = new RegExp(`^${field}:\\s+(\\d+) kB`, 'm').exec(readFileSync('/proc/self/status', 'utf8'));
    if (match) return Number(match[1]) / 1024;
  } catch {
    // Not Linux: the sampled RSS below stands in.
  }
  return undefined;
}

let sampled = 0;
const sample = () => {
  sampled = Math.max(sampled, process.memoryUsage.rss() / 2 ** 20);
};
const sampler = setInterval(sample, 10);

const { createMaildirStore } = await import('@postwire/store/maildir');
sample();
const startRssMb = statusMb('VmRSS') ?? sampled;
const start = process.hrtime.bigint();
const store = createMaildirStore({ root });
const mailbox = await (await store.user(user)).open('INBOX');
const status = await mailbox.status();
const seconds = Number(process.hrtime.bigint() - start) / 1e9;
sample();
clearInterval(sampler);
const peakRssMb = statusMb('VmHWM') ?? sampled;
await mailbox.close();
await store.close();
process.send?.({ seconds, messages: status.messages, peakRssMb, startRssMb });
