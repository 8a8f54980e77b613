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

export async function measureInterleaved(
  cases: readonly Case[],
  options: { rounds: number; opsPerRound: number; warmupOps?: number },
): Promise<Measurement[]> {
  for (const c of cases) for (let i = 0; i < (options.warmupOps ?? options.opsPerRound); i++) await c.run();
  const samples = cases.map(() => [] as number[]);
  for (let round = 0; round < options.rounds; round++) {
    for (const [index, c] of cases.entries()) {
      const start = process.hrtime.bigint();
      for (let i = 0; i < options.opsPerRound; i++) await c.run();
      samples[index]!.push(Number(process.hrtime.bigint() - start) / 1e6 / options.opsPerRound);
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
