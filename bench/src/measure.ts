/** One timed workload: how many bytes it processes per run, and the run itself. */
export interface Workload {
  readonly bytes: number;
  run(): unknown;
}

/**
 * Throughput in MB/s (10^6 bytes) of each workload, measured side by side: after warm-up, the
 * workloads take turns, one run each per round, so that drift in the machine's speed hits all of
 * them alike. Each figure is the median of its runs. A run may return a promise; it is awaited.
 */
export async function compareThroughput<K extends string>(
  workloads: Record<K, Workload>,
  { warmup = 3, rounds = 9 } = {},
): Promise<Record<K, number>> {
  const entries = Object.entries(workloads) as [K, Workload][];
  for (let i = 0; i < warmup; i++) for (const [, workload] of entries) await workload.run();
  const rates = new Map<K, number[]>(entries.map(([name]) => [name, []]));
  for (let round = 0; round < rounds; round++) {
    for (const [name, workload] of entries) {
      const start = process.hrtime.bigint();
      await workload.run();
      const seconds = Number(process.hrtime.bigint() - start) / 1e9;
      rates.get(name)!.push(workload.bytes / 1e6 / seconds);
    }
  }
  const medians = {} as Record<K, number>;
  for (const [name, list] of rates) {
    list.sort((a, b) => a - b);
    medians[name] = list[Math.floor(list.length / 2)]!;
  }
  return medians;
}
