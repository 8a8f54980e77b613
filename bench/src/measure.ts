/**
 * Interleaved measurement: every case runs once per round, in turn, so that load changes on a
 * noisy machine hit all cases alike; each case's figure is the median over rounds of the mean
 * time per operation. Only ratios between cases measured together are meaningful.
 */
export interface Case {
  readonly name: string;
  /** One operation; may be async. */
  readonly run: () => unknown;
}

export interface Measurement {
  readonly name: string;
  /** Median over rounds of milliseconds per operation. */
  readonly ms: number;
  /** Every round's milliseconds per operation, for spread. */
  readonly rounds: readonly number[];
}

/**
 * What a round's time is: elapsed wall time, or the CPU time (user + system, all threads) the
 * process spent, which time slices lost to other processes on a shared machine do not inflate.
 */
export type BenchClock = "wall" | "cpu";

const elapsedMs: Record<BenchClock, () => () => number> = {
  wall: () => {
    const start = process.hrtime.bigint();
    return () => Number(process.hrtime.bigint() - start) / 1e6;
  },
  cpu: () => {
    const start = process.cpuUsage();
    return () => {
      const { user, system } = process.cpuUsage(start);
      return (user + system) / 1e3;
    };
  },
};

export async function measureInterleaved(
  cases: readonly Case[],
  options: { rounds: number; opsPerRound: number; warmupOps?: number; clock?: BenchClock },
): Promise<Measurement[]> {
  for (const c of cases) for (let i = 0; i < (options.warmupOps ?? options.opsPerRound); i++) await c.run();
  const samples = cases.map(() => [] as number[]);
  const startClock = elapsedMs[options.clock ?? "wall"];
  for (let round = 0; round < options.rounds; round++) {
    for (const [index, c] of cases.entries()) {
      const elapsed = startClock();
      for (let i = 0; i < options.opsPerRound; i++) await c.run();
      samples[index]!.push(elapsed() / options.opsPerRound);
    }
  }
  return cases.map((c, index) => ({ name: c.name, ms: median(samples[index]!), rounds: samples[index]! }));
}

export function median(values: readonly number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  return sorted.length % 2 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
}

export const round3 = (x: number): number => Math.round(x * 1000) / 1000;

export function printTable(title: string, rows: readonly Record<string, string | number | boolean>[]): void {
  console.log(`\n${title}`);
  console.table(rows);
}
