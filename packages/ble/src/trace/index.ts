// Frame traces (docs/trace.md): record what a phone's radio sees, decode and render it.
// Isomorphic: no Node imports, so the web console can use it as well.

export * from "./trace-decoder.ts";
export * from "./trace-format.ts";
export * from "./trace-recorder.ts";
export * from "./trace-render.ts";
