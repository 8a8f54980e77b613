import { FramedLink, type LinkRole } from "@pairkit/ble";
import {
  decodeErrorFrame,
  encodeErrorFrame,
  encodeSelectResponse,
  encodeSpake2Request,
  type Link,
  OwnerErrorCode,
  OwnerFrameType,
  runOwnerPairing,
} from "@pairkit/core";
import { describe, expect, it } from "vitest";
import { createFrameChannelPair } from "../../../ble/test/framing/helpers/frame-channel-pair.ts";
import { crypto, makeFixture, TEST_SCRYPT } from "./fixture.ts";

/** Phone and vehicle over real framing (docs/protocol.md §2) on an in-memory GATT connection. */
function framedPair(wire?: (frame: Uint8Array, from: LinkRole) => Uint8Array[]) {
  const channels = createFrameChannelPair({ mtu: 247, ...(wire ? { wire } : {}) });
  return {
    channels,
    phone: new FramedLink(channels.central, { role: "central", crypto }),
    vehicle: new FramedLink(channels.peripheral, { role: "peripheral", crypto }),
  };
}

/** The next ERROR frame on `link`, skipping anything else. */
async function nextError(link: Link) {
  for (;;) {
    const m = await link.receive({ timeoutMs: 2_000 });
    if (m.type === OwnerFrameType.ERROR) return decodeErrorFrame(m.payload);
  }
}

function failure(result: Awaited<ReturnType<typeof runOwnerPairing>>) {
  if (result.ok) throw new Error("expected pairing to fail");
  return result.error;
}

describe("link-layer errors travel with their own ERROR codes (docs/protocol.md §2.8, §3.9)", () => {
  it.each([
    // 0x40 is no frame type: the link refuses the frame (§2.2 step 3).
    { type: 0x40, code: "UNKNOWN_TYPE", retryAllowed: true },
    // 0x16 is reserved for the standard transaction: it passes the link, the protocol refuses it.
    { type: 0x16, code: "UNEXPECTED_MESSAGE", retryAllowed: false },
  ])("the vehicle answers a first frame of type $type with ERROR $code, not silence", async (c) => {
    const f = await makeFixture();
    const { channels, phone, vehicle } = framedPair();
    const served = f.vehicle.serve(vehicle);
    await channels.central.sendFrame(Uint8Array.of(0x01, c.type, 0x00, 0x01, 0x01, 0x00, 0x01));
    expect(await nextError(phone)).toEqual({
      phase: 1,
      errorCode: OwnerErrorCode[c.code as "UNKNOWN_TYPE"],
      retryAllowed: c.retryAllowed,
      detail: c.code,
    });
    await phone.close();
    expect(await served).toMatchObject({ kind: "failed", error: { code: c.code } });
  });

  it.each([
    {
      code: "BAD_VERSION",
      // A frame of version 2 where SELECT's answer should come.
      inject: (v: { channel: { sendFrame(f: Uint8Array): Promise<void> } }) =>
        v.channel.sendFrame(Uint8Array.of(0x02, 0x01, 0x00, 0x01, 0x00, 0x00)),
    },
    {
      code: "MESSAGE_TOO_LARGE",
      // 17 000 bytes, past the phone's 16 KiB limit, from a sender configured to allow it.
      inject: (v: { big: Link }) =>
        v.big.send({ type: OwnerFrameType.SELECT, payload: new Uint8Array(17_000) }),
    },
  ])("the phone reports $code to the vehicle and to its user under that name", async ({ code, inject }) => {
    const f = await makeFixture();
    const channels = createFrameChannelPair({ mtu: 247 });
    const phone = new FramedLink(channels.central, { role: "central", crypto });
    const vehicle = new FramedLink(channels.peripheral, {
      role: "peripheral",
      crypto,
      maxMessageSize: 65_536,
    });
    const pairing = runOwnerPairing({ ...f.phone, link: phone });
    expect((await vehicle.receive({ timeoutMs: 2_000 })).type).toBe(OwnerFrameType.SELECT);
    await inject({ channel: channels.peripheral, big: vehicle });
    const sent = await nextError(vehicle);
    expect(sent).toMatchObject({ errorCode: OwnerErrorCode[code as "BAD_VERSION"], detail: code });
    expect(failure(await pairing)).toMatchObject({ code, phase: "spake2", fromVehicle: false });
  });

  it("the vehicle refuses confirmP: its ERROR is plaintext on the phone's secured link, and the phone says CONFIRMATION_FAILED", async () => {
    const f = await makeFixture();
    // Flip a bit of confirmP on the air (SPAKE2_VERIFY_RESPONSE, plaintext, one frame).
    const { phone, vehicle } = framedPair((frame, from) => {
      if (from === "central" && frame[1] === OwnerFrameType.SPAKE2_VERIFY_RESPONSE) {
        const altered = frame.slice();
        altered[6] = altered[6]! ^ 0x01;
        return [altered];
      }
      return [frame];
    });
    const [result, outcome] = await Promise.all([
      runOwnerPairing({ ...f.phone, link: phone }),
      f.vehicle.serve(vehicle),
    ]);
    expect(outcome).toMatchObject({ kind: "failed", error: { code: "CONFIRMATION_FAILED" } });
    expect(failure(result)).toMatchObject({
      code: "CONFIRMATION_FAILED",
      phase: "spake2",
      fromVehicle: true,
      retryAllowed: true,
      remainingAttempts: 2,
    });
  });

  it("a vehicle that reports an error and drops the link: the phone's failed write still shows the vehicle's code", async () => {
    const f = await makeFixture();
    const { phone, vehicle } = framedPair();
    const pairing = runOwnerPairing({ ...f.phone, link: phone });
    await vehicle.receive({ timeoutMs: 2_000 }); // SELECT
    await vehicle.send({
      type: OwnerFrameType.SELECT,
      payload: encodeSelectResponse({
        appletVersionMajor: 1,
        appletVersionMinor: 0,
        protocolVersion: 1,
        pairingMode: 2,
        capabilities: Uint8Array.of(1),
      }),
    });
    await vehicle.send({
      type: OwnerFrameType.SPAKE2_REQUEST,
      payload: encodeSpake2Request({
        version: 1,
        attemptRemaining: 3,
        salt: new Uint8Array(16),
        scrypt: TEST_SCRYPT,
        vehicleNonce: new Uint8Array(16),
      }),
    });
    // While the phone derives its scalars, the vehicle gives up and hangs up at once.
    await vehicle.send({
      type: OwnerFrameType.ERROR,
      payload: encodeErrorFrame({
        phase: 1,
        errorCode: OwnerErrorCode.BUSY,
        retryAllowed: true,
        detail: "BUSY",
      }),
    });
    await vehicle.close();
    expect(failure(await pairing)).toMatchObject({ code: "BUSY", fromVehicle: true, retryAllowed: true });
  });
});

describe("a peer's ERROR is never answered with one (§3.2, §3.9)", () => {
  it.each([
    {
      name: "a well-formed ERROR",
      payload: encodeErrorFrame({ phase: 1, errorCode: 0x12, retryAllowed: false, detail: "ABORTED" }),
      code: "ABORTED",
    },
    { name: "a malformed ERROR", payload: Uint8Array.of(0x09), code: "MALFORMED_MESSAGE" },
  ])("the vehicle ends quietly when the first message is $name", async ({ payload, code }) => {
    const f = await makeFixture();
    const { phone, vehicle } = framedPair();
    const served = f.vehicle.serve(vehicle);
    await phone.send({ type: OwnerFrameType.ERROR, payload });
    const answer = phone.receive({ timeoutMs: 200 });
    await expect(answer).rejects.toMatchObject({ code: "TIMEOUT" });
    await phone.close();
    expect(await served).toMatchObject({ kind: "failed", error: { code, fromPeer: true } });
    expect(f.vehicle.verifiers.current()!.remainingAttempts).toBe(3);
  });
});

describe("scrypt parameters the phone refuses (§1.2, §3.4)", () => {
  it.each([
    { name: "out of bounds (N = 2^21)", scrypt: { ...TEST_SCRYPT, N: 2 ** 21 } },
    { name: "in bounds but not the bootstrap's", scrypt: { ...TEST_SCRYPT, N: TEST_SCRYPT.N * 2 } },
  ])("$name: INVALID_SCRYPT_PARAMS, no retry, nothing charged", async ({ scrypt }) => {
    const f = await makeFixture();
    const { phone, vehicle } = framedPair();
    const pairing = runOwnerPairing({ ...f.phone, link: phone });
    await vehicle.receive({ timeoutMs: 2_000 }); // SELECT
    await vehicle.send({
      type: OwnerFrameType.SELECT,
      payload: encodeSelectResponse({
        appletVersionMajor: 1,
        appletVersionMinor: 0,
        protocolVersion: 1,
        pairingMode: 2,
        capabilities: Uint8Array.of(1),
      }),
    });
    await vehicle.send({
      type: OwnerFrameType.SPAKE2_REQUEST,
      payload: encodeSpake2Request({
        version: 1,
        attemptRemaining: 3,
        salt: new Uint8Array(16),
        scrypt,
        vehicleNonce: new Uint8Array(16),
      }),
    });
    expect(await nextError(vehicle)).toMatchObject({
      errorCode: OwnerErrorCode.INVALID_SCRYPT_PARAMS,
      retryAllowed: false,
      detail: "INVALID_SCRYPT_PARAMS",
    });
    expect(failure(await pairing)).toMatchObject({
      code: "INVALID_SCRYPT_PARAMS",
      retryAllowed: false,
      remainingAttempts: 3,
    });
  });
});
