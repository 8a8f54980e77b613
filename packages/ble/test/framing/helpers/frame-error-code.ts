import { expect } from "vitest";
import { FrameError } from "../../../src/index.ts";

/** Runs `fn` and returns the code of the FrameError it throws; fails on any other outcome. */
export function frameErrorCode(fn: () => unknown): string {
  try {
    fn();
  } catch (error) {
    expect(error).toBeInstanceOf(FrameError);
    return (error as FrameError).code;
  }
  throw new Error("expected a FrameError");
}
