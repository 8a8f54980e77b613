import { ApiError, CardRefusedError, type OwnerPairingFailure, TimeoutError } from "@pairkit/core";
import { describe, expect, it } from "vitest";
import { explainError, explainPairingFailure } from "../src/explain.ts";
import { readMessage } from "../src/mail.ts";

const failure = (f: Partial<OwnerPairingFailure>): OwnerPairingFailure => ({
  phase: "spake2",
  code: "CONFIRMATION_FAILED",
  message: "confirmation failed",
  retryAllowed: true,
  remainingAttempts: undefined,
  fromVehicle: false,
  ...f,
});

describe("failures in plain words", () => {
  it("names a wrong password with the attempts left, and says when none are", () => {
    expect(explainPairingFailure(failure({ remainingAttempts: 4 }))).toBe(
      "Wrong pairing password. 4 attempts left. (CONFIRMATION_FAILED)",
    );
    expect(explainPairingFailure(failure({ remainingAttempts: 1 }))).toContain("1 attempt left.");
    expect(explainPairingFailure(failure({ remainingAttempts: 0 }))).toContain(
      "No attempts left: ask for a new pairing password.",
    );
  });

  it("tells a vehicle that is not found apart from one that stops answering", () => {
    const scan = failure({ phase: "connect", code: "TIMEOUT", cause: new TimeoutError("scan", 20_000) });
    expect(explainPairingFailure(scan)).toMatch(/^The vehicle was not found nearby/);
    expect(explainPairingFailure(failure({ phase: "config", code: "TIMEOUT" }))).toBe(
      "The vehicle stopped answering. (TIMEOUT)",
    );
  });

  it("explains a card's refusal reason that is an inherited object name as an unknown code", () => {
    for (const reason of ["constructor", "toString", "__proto__", "hasOwnProperty", "valueOf"]) {
      expect(explainError(new CardRefusedError("challenge", reason))).toBe(
        `Something went wrong. (${reason})`,
      );
    }
  });

  it("explains server refusals with their wait, and card refusals by phase", () => {
    expect(explainError(new ApiError("VEHICLE_OFFLINE", "no ack", { retryAfter: 30 }))).toBe(
      "The vehicle is offline: it did not answer the server. Check that it is switched on and connected. Try again in 30 s. (VEHICLE_OFFLINE)",
    );
    expect(explainError(new ApiError("PIN_LOCKED", "locked", { retryAfter: 900 }))).toContain(
      "Try again in 15 min.",
    );
    expect(explainError(new ApiError("PAIRING_PASSWORD_EXPIRED", "gone"))).toMatch(/expired/);
    expect(explainError(new CardRefusedError("challenge", "NOT_PAIRED"))).toMatch(/does not know this phone/);
    expect(explainError(new CardRefusedError("binding", ""))).toMatch(
      /refused to bind this user.*CARD_REFUSED/,
    );
    expect(explainError(new Error("boom"))).toBe("Something went wrong: boom");
  });
});

describe("the development mailbox's message reader", () => {
  it("reads the subject and undoes quoted-printable soft breaks and escapes (UTF-8)", () => {
    const raw = [
      "Subject: Your digital key pairing link",
      "Content-Type: text/plain; charset=utf-8",
      "Content-Transfer-Encoding: quoted-printable",
      "",
      "Open this link =E2=80=94 once:",
      "http://127.0.0.1:8080/portal/redeem#token=3Dabc=",
      "def",
    ].join("\r\n");
    expect(readMessage(raw)).toEqual({
      subject: "Your digital key pairing link",
      body: "Open this link — once:\nhttp://127.0.0.1:8080/portal/redeem#token=abcdef",
    });
  });

  it("keeps a plain body as it is", () => {
    expect(readMessage("Subject: hi\n\nplain text")).toEqual({ subject: "hi", body: "plain text" });
  });
});
