import { ManualClock } from "../../src/index.ts";

/** Owner-pairing tests start on a fixed date so certificate validity and expiry read plainly. */
export class FakeClock extends ManualClock {
  constructor(start = Date.UTC(2026, 10, 27, 12)) {
    super(start);
  }
}
