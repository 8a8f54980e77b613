import { ManualClock } from "@pairkit/core";

/** Server tests start on a fixed date so expiry arithmetic reads plainly. */
export class FakeClock extends ManualClock {
  constructor(start = Date.parse("2026-06-01T12:00:00Z")) {
    super(start);
  }
}
