import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { type FrameTrace, openRadioCentral } from "@pairkit/ble";
import { PairkitError, SoftwareSecureElement } from "@pairkit/core";
import { nodeCrypto } from "@pairkit/core/node";
import { Listr, PRESET_TIMER } from "listr2";
import { demoScenarios, ScenarioFailure } from "./demo-scenarios.ts";
import { EXIT } from "./exit-codes.ts";
import { ServerClient } from "./server-client.ts";
import { startStack } from "./stack.ts";

export interface DemoOptions {
  /** Print exactly one JSON document instead of the live progress and the summary. */
  readonly json: boolean;
  /** scrypt cost of pairing passwords; undefined: the production default. */
  readonly scryptN?: number;
}

export interface PhaseResult {
  readonly title: string;
  outcome: "passed" | "failed" | "skipped";
  ms: number;
  detail?: string;
  error?: string;
}

export interface ScenarioResult {
  readonly name: string;
  readonly title: string;
  outcome: "passed" | "failed";
  ms: number;
  readonly phases: PhaseResult[];
  trace?: FrameTrace;
  /** Public values to check independently (the MPC wallet's key, message and signature). */
  evidence?: Record<string, string>;
}

/** The document `pairkit demo --json` prints (docs/cli.md). */
export interface DemoReport {
  readonly format: "pairkit.demo";
  readonly version: 1;
  readonly ok: boolean;
  readonly durationMs: number;
  readonly scrypt: { readonly N: number; readonly r: number; readonly p: number; readonly note: string };
  readonly scenarios: readonly ScenarioResult[];
}

/** A step that hangs (a vehicle that never answers) fails its scenario instead of the demo. */
const PHASE_TIMEOUT_MS = 30_000;

/**
 * `pairkit demo`: the whole system in one process on embedded defaults — a fresh database in a
 * temporary directory, the embedded broker and SMTP sink on free ports, the WebSocket radio, the
 * fleet and the card — and a phone driving every flow, each scenario's air recorded as a frame
 * trace. Exit 0 when every scenario passed, 1 otherwise.
 */
export async function runDemo(options: DemoOptions, out: NodeJS.WritableStream): Promise<number> {
  const started = performance.now();
  const dir = await mkdtemp(join(tmpdir(), "pairkit-demo-"));
  try {
    const stack = await startStack({
      env: {
        PAIRKIT_MODE: "development",
        PORT: "0",
        MQTT_PORT: "0",
        SMTP_SINK_PORT: "0",
        PGLITE_DIR: join(dir, "db"),
        LOG_LEVEL: "silent",
        ...(options.scryptN === undefined ? {} : { SCRYPT_N: String(options.scryptN) }),
      },
      stateDir: join(dir, "state"),
      radioPort: 0,
    });
    const central = await openRadioCentral(stack.radio.url, { mtu: 185 });
    try {
      const { scrypt } = stack.config.pairing;
      const note =
        options.scryptN === undefined
          ? "the production cost"
          : `reduced for the demo with --scrypt-n (production: N=32768)`;
      if (!options.json) {
        out.write(
          `pairkit demo: server ${stack.server.url}, radio ${stack.radio.url}, data in ${dir} (removed at the end)\n`,
        );
        out.write(
          `pairing passwords stretched with scrypt N=${scrypt.N} r=${scrypt.r} p=${scrypt.p} (${note})\n`,
        );
      }
      if (!stack.simulators) throw new Error("the demo stack runs in development mode");
      const scenarios = demoScenarios({
        simulators: stack.simulators,
        server: new ServerClient(stack.server.url),
        central,
        secureElement: SoftwareSecureElement.inMemory(nodeCrypto),
      });
      const results: ScenarioResult[] = scenarios.map((s) => ({
        name: s.name,
        title: s.title,
        outcome: "passed",
        ms: 0,
        phases: s.phases.map((p) => ({ title: p.title, outcome: "skipped", ms: 0 })),
      }));
      const list = new Listr(
        scenarios.map((scenario, i) => ({
          title: scenario.title,
          task: (_ctx, task) =>
            task.newListr(
              scenario.phases.map((phase, j) => ({
                title: phase.title,
                task: async (_phaseCtx, t) => {
                  const result = results[i]!.phases[j]!;
                  const begin = performance.now();
                  try {
                    result.detail = await withTimeout(phase.run(), PHASE_TIMEOUT_MS);
                    result.outcome = "passed";
                    t.title = `${phase.title}: ${result.detail}`;
                  } catch (error) {
                    result.outcome = "failed";
                    result.error = describe(error);
                    results[i]!.outcome = "failed";
                    throw new Error(result.error);
                  } finally {
                    result.ms = Math.round(performance.now() - begin);
                    results[i]!.ms += result.ms;
                  }
                },
              })),
              { exitOnError: true },
            ),
        })),
        {
          concurrent: false,
          exitOnError: false,
          renderer: options.json ? "silent" : "default",
          fallbackRenderer: "simple",
          rendererOptions: { collapseSubtasks: false, timer: PRESET_TIMER },
          fallbackRendererOptions: { timer: PRESET_TIMER },
        },
      );
      await list.run();
      scenarios.forEach((s, i) => {
        results[i]!.trace = s.recorder.trace();
        if (s.evidence && Object.keys(s.evidence).length > 0) results[i]!.evidence = s.evidence;
      });
      const report: DemoReport = {
        format: "pairkit.demo",
        version: 1,
        ok: results.every((r) => r.outcome === "passed"),
        durationMs: Math.round(performance.now() - started),
        scrypt: { ...scrypt, note },
        scenarios: results,
      };
      out.write(options.json ? `${JSON.stringify(report)}\n` : summary(report));
      return report.ok ? EXIT.OK : EXIT.FAILURE;
    } finally {
      await central.close();
      await stack.close();
    }
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

function summary(report: DemoReport): string {
  const rows = report.scenarios.map((s) => [
    s.name,
    s.outcome,
    `${(s.ms / 1000).toFixed(1)} s`,
    String(s.trace?.events.filter((e) => e.kind === "frame").length ?? 0),
    s.outcome === "passed"
      ? (s.phases.at(-1)?.detail ?? "")
      : (s.phases.find((p) => p.outcome === "failed")?.error ?? ""),
  ]);
  const table = [["scenario", "outcome", "time", "frames", "result"], ...rows];
  const widths = table[0]!.map((_, c) => Math.max(...table.map((row) => row[c]!.length)));
  const lines = table.map((row) => `  ${row.map((cell, c) => cell.padEnd(widths[c]!)).join("  ")}`.trimEnd());
  const passed = report.scenarios.filter((s) => s.outcome === "passed").length;
  return [
    "",
    "Summary",
    ...lines,
    `${passed} of ${report.scenarios.length} scenarios passed in ${(report.durationMs / 1000).toFixed(1)} s` +
      " (frame traces: pairkit demo --json)",
    "",
  ].join("\n");
}

function describe(error: unknown): string {
  if (error instanceof ScenarioFailure) return error.message;
  if (error instanceof PairkitError) return `${error.code}: ${error.message}`;
  return error instanceof Error ? error.message : String(error);
}

function withTimeout<T>(promise: Promise<T>, ms: number): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new ScenarioFailure(`no result within ${ms / 1000} s`)), ms);
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}
