import {
  ACTIVE_CARD_PIPE,
  centralVehicleConnector,
  decodeFrameTrace,
  FramedLink,
  FrameTraceRecorder,
  openCentralFrameChannel,
  parseFrameTrace,
  renderTraceListing,
  renderTraceMermaid,
  SimRadio,
  TraceFormatError,
} from "@pairkit/ble";
import {
  ActiveCardPhone,
  derivePasswordScalars,
  encodeScalar,
  LocalPairingApi,
  MemoryKeychain,
  MemoryPairedCardStore,
  MemoryPairingLog,
  nobleCrypto,
  pairOwnerVehicle,
  parseQrPayload,
  SoftwareSecureElement,
  utf8,
  verifierFromScalars,
} from "@pairkit/core";
import {
  advertiseVehicle,
  CardSimulator,
  createCarmakerCa,
  issueVehicleCertificate,
  MemoryCardStore,
  serveCardOnPeripheral,
  VehicleSimulator,
} from "@pairkit/sim";
import { describe, expect, it } from "vitest";

const crypto = nobleCrypto;
const PASSWORD = "48151623";
const SCRYPT = { N: 1024, r: 8, p: 1 };
const VEHICLE_ID = "VH-TRACE-1";

async function recordOwnerPairing() {
  const radio = new SimRadio({ connectionIntervalMs: 1 });
  const api = new LocalPairingApi(crypto);
  const ca = createCarmakerCa(crypto, { now: Date.now() });
  const keyPair = crypto.generateKeyPair();
  const certificate = issueVehicleCertificate(crypto, ca, {
    vehicleId: VEHICLE_ID,
    publicKey: keyPair.publicKey,
    now: Date.now(),
  });
  const vehicle = new VehicleSimulator({
    crypto,
    identity: { vehicleId: VEHICLE_ID, keyPair, certificateChain: [certificate] },
    descriptor: { model: "Trace" },
    mailbox: {
      privateMailbox: { offset: 0, size: 256 },
      confidentialMailbox: { offset: 256, size: 128 },
      signalingBitmapOffset: 384,
      keyAttestationOffset: 400,
    },
    policyFlags: 0,
    ktsPublicKey: api.ktsPublicKey,
  });
  const salt = crypto.randomBytes(16);
  const verifier = verifierFromScalars(crypto, await derivePasswordScalars(crypto, PASSWORD, salt, SCRYPT));
  const sessionId = "5f0c7a52-4c0e-4d59-9a53-2b1d6d7f0a11";
  await vehicle.provision({
    sessionId,
    salt,
    scrypt: SCRYPT,
    w0: encodeScalar(verifier.w0),
    L: verifier.L,
    expiresAt: Date.now() + 600_000,
    maxAttempts: 3,
  });
  const stop = await advertiseVehicle(vehicle, radio.createPeripheral({ id: "car", mtu: 247 }));
  const recorder = new FrameTraceRecorder({ label: "owner pairing" });
  const result = await pairOwnerVehicle({
    crypto,
    bootstrap: { sessionId, password: PASSWORD, scrypt: SCRYPT, vehicleId: VEHICLE_ID },
    deviceId: utf8("trace-phone"),
    trustAnchors: [ca.certificate],
    secureElement: SoftwareSecureElement.inMemory(crypto),
    keychain: new MemoryKeychain(),
    log: new MemoryPairingLog(),
    api,
    ktsPublicKey: api.ktsPublicKey,
    connector: centralVehicleConnector(recorder.tapCentral(radio.createCentral({ mtu: 185 })), { crypto }),
  });
  await stop();
  vehicle.destroy();
  expect(result.ok).toBe(true);
  return recorder.trace();
}

describe("frame trace of a real owner pairing", () => {
  it("records every frame, decodes the handshake's public values and leaves sealed messages sealed", async () => {
    const trace = await recordOwnerPairing();
    const text = JSON.stringify(trace);
    expect(text).not.toContain(PASSWORD);
    expect(text).not.toContain(Buffer.from(PASSWORD).toString("hex"));

    const decoded = decodeFrameTrace(parseFrameTrace(text));
    expect(decoded.peers.get(1)).toEqual({ link: 1, peer: "car", kind: "vehicle" });
    const messages = decoded.entries.flatMap((e) => (e.message ? [e.message] : []));
    expect(decoded.entries.filter((e) => e.frameError)).toEqual([]);
    // Both sides announce their frame size first; the vehicle's answer may overtake the SELECT.
    expect(messages.filter((m) => m.name === "LINK_PARAMS")).toHaveLength(2);
    expect(
      messages
        .filter((m) => m.name !== "LINK_PARAMS")
        .slice(0, 5)
        .map((m) => m.name),
    ).toEqual(["SELECT", "SELECT", "SPAKE2_REQUEST", "SPAKE2_RESPONSE", "SPAKE2_VERIFY"]);
    const request = messages.find((m) => m.name === "SPAKE2_REQUEST")!;
    expect(request.fields).toMatchObject({
      attemptRemaining: 3,
      "scrypt.N": 1024,
      "scrypt.r": 8,
      "scrypt.p": 1,
    });
    expect(request.fields.salt).toMatch(/^[0-9a-f]{32}$/);
    const response = messages.find((m) => m.name === "SPAKE2_RESPONSE")!;
    expect(response.fields.pointX).toMatch(/^04[0-9a-f]{128}$/);
    expect(messages.find((m) => m.name === "SELECT")!.fields.deviceId).toBe(
      Buffer.from("trace-phone").toString("hex"),
    );
    // Everything after the key confirmation is ciphertext with an explicit counter.
    const config = messages.find((m) => m.name === "DEVICE_CONFIG")!;
    expect(config).toMatchObject({ sealed: "link", fields: { counter: "0" } });
    expect(config.fields).not.toHaveProperty("vehicleId");
    expect(messages.filter((m) => m.sealed === "link").length).toBeGreaterThanOrEqual(4);

    const listing = renderTraceListing(decoded);
    expect(listing).toContain("connect to vehicle car");
    expect(listing).toMatch(/= SPAKE2_REQUEST attemptRemaining 3/);
    expect(listing).toMatch(/pointX: 04[0-9a-f]{128}/);
    const mermaid = renderTraceMermaid(decoded);
    expect(mermaid.split("\n")[0]).toBe("sequenceDiagram");
    expect(mermaid).toContain("participant p1 as vehicle car");
    expect(mermaid).toContain("phone->>p1: SPAKE2_RESPONSE");
    expect(mermaid).toMatch(/p1->>phone: DEVICE_CONFIG sealed \(link\) counter 0/);
  });
});

describe("frame trace of a real Active Card pairing", () => {
  it("decodes the wrapper and its plaintext protobuf fields; the user binding stays ciphertext", async () => {
    const radio = new SimRadio({ connectionIntervalMs: 1 });
    const card = await CardSimulator.open({
      crypto,
      store: new MemoryCardStore(),
      deviceName: "AC-Trace",
      ownerUser: "bob@example.com",
      firmwareVersion: "1.0.0",
    });
    await serveCardOnPeripheral(radio.createPeripheral({ id: "card" }), card, { crypto });
    const recorder = new FrameTraceRecorder({ label: "card" });
    const central = recorder.tapCentral(radio.createCentral({ mtu: 23 }));
    const client = await central.connect("card", { timeoutMs: 5000 });
    const link = new FramedLink(await openCentralFrameChannel(client, ACTIVE_CARD_PIPE), {
      role: "central",
      crypto,
    });
    const phone = new ActiveCardPhone({ crypto, store: new MemoryPairedCardStore() });
    await (await phone.pair(link, parseQrPayload(card.qrText(), Date.now()), "bob@example.com")).close();
    card.destroy();

    const trace = recorder.trace();
    expect(JSON.stringify(trace)).not.toContain(Buffer.from("bob@example.com").toString("hex"));
    const decoded = decodeFrameTrace(trace);
    expect(decoded.entries.at(-1)?.event.kind).toBe("disconnect");
    const messages = decoded.entries.flatMap((e) => (e.message ? [e.message] : []));
    const identity = messages.find((m) => m.name === "SEND_IDENTITY_PUBLIC_KEY")!;
    expect(identity.frames).toBeGreaterThan(1); // ATT MTU 23: 14 body bytes a frame
    expect(identity.fields).toMatchObject({ "contents.source": "mobile", "contents.reconnect": false });
    expect(identity.fields["contents.pubkey"]).toMatch(/^04[0-9a-f]{128}$/);
    expect(identity.fields.sessionId).toMatch(/^[0-9a-f]{32}$/);
    const binding = messages.find((m) => m.name === "SEND_USER_IDENTITY")!;
    expect(binding).toMatchObject({ sealed: "card" });
    expect(binding.fields).not.toHaveProperty("contents.encryptedUserId");
    expect(renderTraceMermaid(decoded)).toContain("phone->>p1: SEND_USER_IDENTITY sealed (card) counter");
  });
});

describe("parseFrameTrace", () => {
  const valid = {
    format: "pairkit.frame-trace",
    version: 1,
    startedAt: "2026-11-28T00:00:00.000Z",
    events: [{ kind: "connect", t: 0, link: 1, peer: "car" }],
  };
  it.each([
    ["{", "TRACE_NOT_JSON", "$"],
    [JSON.stringify([]), "TRACE_MALFORMED", "$"],
    [JSON.stringify({ ...valid, format: "other" }), "TRACE_MALFORMED", "$.format"],
    [JSON.stringify({ ...valid, version: 2 }), "TRACE_UNSUPPORTED_VERSION", "$.version"],
    [
      JSON.stringify({ ...valid, events: [{ kind: "frame", t: 1, link: 1 }] }),
      "TRACE_MALFORMED",
      "$.events[0].direction",
    ],
    [
      JSON.stringify({
        ...valid,
        events: [
          {
            kind: "frame",
            t: 1,
            link: 1,
            direction: "central-to-peripheral",
            service: "x",
            header: { version: 1, type: 300, seq: 0, totalSeq: 1, payloadLength: 0, flags: 0 },
            body: "",
          },
        ],
      }),
      "TRACE_MALFORMED",
      "$.events[0].header.type",
    ],
    [
      JSON.stringify({ ...valid, events: [{ kind: "connect", t: -1, link: 1, peer: "car" }] }),
      "TRACE_MALFORMED",
      "$.events[0].t",
    ],
  ])("rejects %s with %s at %s", (text, code, path) => {
    const error = (() => {
      try {
        parseFrameTrace(text);
      } catch (e) {
        return e;
      }
    })();
    expect(error).toBeInstanceOf(TraceFormatError);
    expect(error).toMatchObject({ code, path });
  });

  it("reports a frame that breaks the framing rules on its entry instead of throwing", () => {
    const decoded = decodeFrameTrace(
      parseFrameTrace(
        JSON.stringify({
          ...valid,
          events: [
            ...valid.events,
            {
              kind: "frame",
              t: 2,
              link: 1,
              direction: "peripheral-to-central",
              service: "x",
              header: { version: 1, type: 3, seq: 0, totalSeq: 1, payloadLength: 5, flags: 0 },
              body: "00",
            },
          ],
        }),
      ),
    );
    expect(decoded.entries[1]?.frameError).toMatch(/^LENGTH_MISMATCH/);
    expect(renderTraceListing(decoded)).toContain("! frame rejected: LENGTH_MISMATCH");
  });
});
