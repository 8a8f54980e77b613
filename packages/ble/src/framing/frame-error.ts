// The framing errors are declared beside core's Link port, where protocol code maps them to
// ERROR codes (docs/protocol.md §3.9); the framing modules keep importing them from here.
export { FrameError, type FrameErrorCode } from "@pairkit/core";
