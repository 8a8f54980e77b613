import {
  connectToCard,
  FRAME_HEADER_SIZE,
  FrameTraceRecorder,
  SimRadio,
  type TraceEvent,
} from "@pairkit/ble";
import {
  ActiveCardPhone,
  CardWallets,
  type CiphersuiteName,
  chainPublicKey,
  ciphersuiteByName,
  createMemoryLinkPair,
  type Link,
  MemoryPairedCardStore,
  SoftwareWalletKeystore,
  systemClock,
  utf8,
  verifyChainSignature,
} from "@pairkit/core";
import { nodeCrypto } from "@pairkit/core/node";
import { CardSimulator, MemoryCardStore, serveCardOnPeripheral } from "@pairkit/sim";
import { median, printTable, round3 } from "./measure.ts";

/**
 * MPC wallets (docs/protocol.md §4.11): what a FROST DKG and one co-signature cost.
 * - Over the simulated BLE radio (30 ms connection interval, card MTU 23 and 185, an open
 *   session): bytes and frames each way, and air time from the call to its verified result.
 *   The floor of its bytes follows the radio model of ble.ts: a phone → card frame is a Write
 *   Request and its Response (2 intervals), a card → phone frame a notification (1 interval).
 *   Air time runs from the first frame leaving the phone's radio to the last reaching it (the
 *   card's CPU inside it counts, the phone's before the first and after the last frame does
 *   not; the call's whole time is reported next to it). Air time beyond the floor is counted in
 *   radio round trips (2 intervals).
 * - Over an in-memory link, CPU per party: the card's share is the CPU time between a message
 *   reaching the card and its reply (its link is metered; one thread, so only one party runs at
 *   a time); the phone's is the rest. Next to it, the floor: the same @noble/curves FROST calls
 *   each party makes, in one process with nothing around them.
 */
const INTERVAL_MS = 30;
const ROUND_TRIP_MS = 2 * INTERVAL_MS;
const MTUS = [23, 185] as const;
const SUITES: readonly CiphersuiteName[] = ["p256", "secp256k1-taproot", "ed25519"];
const MESSAGE = utf8("pairkit bench: pay 1 sat to carol");
const TARGETS = { signExcessRoundTrips: 3, dkgAirMsAtMtu185: 2000 } as const;
const CENTRAL_MTU = 517;
const cardInfo = { deviceName: "AC-Bench", ownerUser: "", firmwareVersion: "1.0.0" };

interface AirRun {
  /** From the call to its verified result, both parties' CPU included. */
  readonly ms: number;
  /** From the first frame leaving the phone's radio to the last one reaching it. */
  readonly airMs: number;
  readonly phoneToCard: { frames: number; bytes: number };
  readonly cardToPhone: { frames: number; bytes: number };
}

/** Frames the phone's radio saw in `events`, each way: header + body bytes (framing included). */
function airOf(events: readonly TraceEvent[], ms: number): AirRun {
  const all = events.filter((e): e is Extract<TraceEvent, { kind: "frame" }> => e.kind === "frame");
  const count = (direction: string) => {
    const frames = all.filter((e) => e.direction === direction);
    return {
      frames: frames.length,
      bytes: frames.reduce((n, f) => n + (f.header ? FRAME_HEADER_SIZE : 0) + f.body.length / 2, 0),
    };
  };
  return {
    ms,
    airMs: all.length > 0 ? all.at(-1)!.t - all[0]!.t : 0,
    phoneToCard: count("central-to-peripheral"),
    cardToPhone: count("peripheral-to-central"),
  };
}

/** The air-time floor of a run's frames in this radio model. */
const floorMs = (run: AirRun) => (2 * run.phoneToCard.frames + run.cardToPhone.frames) * INTERVAL_MS;

async function overRadio(mtu: number, suite: CiphersuiteName, rounds: number) {
  const radio = new SimRadio({ clock: systemClock, connectionIntervalMs: INTERVAL_MS });
  const card = await CardSimulator.open({ crypto: nodeCrypto, store: new MemoryCardStore(), ...cardInfo });
  const peripheral = radio.createPeripheral({ id: "card", mtu });
  await serveCardOnPeripheral(peripheral, card, { crypto: nodeCrypto });
  const recorder = new FrameTraceRecorder({ label: `mpc-${suite}-${mtu}` });
  const central = recorder.tapCentral(radio.createCentral({ mtu: CENTRAL_MTU }));
  const phone = new ActiveCardPhone({ crypto: nodeCrypto, store: new MemoryPairedCardStore() });
  const qr = card.qrPayload();
  const target = { crypto: nodeCrypto, identityPublicKey: qr.identityPublicKey };
  await (await connectToCard(central, target, (link) => phone.pair(link, qr, "bench"))).close();
  const session = await connectToCard(central, target, (link) => phone.reconnect(link, qr.deviceId));
  const wallets = new CardWallets(session, {
    crypto: nodeCrypto,
    keystore: SoftwareWalletKeystore.inMemory(),
  });
  const measure = async (operation: () => Promise<unknown>) => {
    const from = recorder.trace().events.length;
    const start = performance.now();
    await operation();
    const ms = performance.now() - start;
    return airOf(recorder.trace().events.slice(from), ms);
  };
  const dkg: AirRun[] = [];
  const sign: AirRun[] = [];
  try {
    for (let round = 0; round < rounds; round++) {
      let walletId: Uint8Array | undefined;
      let verified = false;
      dkg.push(
        await measure(async () => {
          walletId = (await wallets.createWallet({ ciphersuite: suite })).wallet.walletId;
        }),
      );
      sign.push(
        await measure(async () => {
          const signature = await wallets.sign(walletId!, { message: MESSAGE });
          const wallet = card.wallets.find((w) => w.walletId.every((b, i) => b === walletId![i]))!;
          verified = verifyChainSignature(suite, chainPublicKey(wallet), MESSAGE, signature);
        }),
      );
      if (!verified) throw new Error(`${suite} MTU ${mtu}: the bench's signature does not verify`);
    }
  } finally {
    await session.close();
    await peripheral.close();
    card.destroy();
  }
  const summarize = (runs: AirRun[]) => {
    const airMs = median(runs.map((r) => r.airMs));
    const floor = floorMs(runs[0]!);
    return {
      phoneToCard: runs[0]!.phoneToCard,
      cardToPhone: runs[0]!.cardToPhone,
      floorMs: floor,
      airMs: round3(airMs),
      excessRoundTrips: round3((airMs - floor) / ROUND_TRIP_MS),
      ms: round3(median(runs.map((r) => r.ms))),
      rounds: runs.map((r) => ({ airMs: round3(r.airMs), ms: round3(r.ms) })),
    };
  };
  return { mtu, suite, dkg: summarize(dkg), sign: summarize(sign) };
}

/** A card-side link that adds up the CPU time from each message's arrival to the card's reply. */
function meteredLink(link: Link): { link: Link; cpuMs: () => number } {
  let total = 0;
  let since: NodeJS.CpuUsage | undefined;
  const stop = () => {
    if (since) {
      const { user, system } = process.cpuUsage(since);
      total += (user + system) / 1e3;
      since = undefined;
    }
  };
  return {
    cpuMs: () => total,
    link: {
      send: (message, options) => {
        stop();
        return link.send(message, options);
      },
      receive: async (options) => {
        stop();
        const message = await link.receive(options);
        since = process.cpuUsage();
        return message;
      },
      secure: (key) => link.secure(key),
      close: () => link.close(),
      get closed() {
        return link.closed;
      },
    },
  };
}

const cpuNow = () => {
  const { user, system } = process.cpuUsage();
  return (user + system) / 1e3;
};

/** CPU per party over an in-memory link (radio excluded), median over `rounds`. */
async function cpuPerParty(suite: CiphersuiteName, rounds: number) {
  const card = await CardSimulator.open({ crypto: nodeCrypto, store: new MemoryCardStore(), ...cardInfo });
  const phone = new ActiveCardPhone({ crypto: nodeCrypto, store: new MemoryPairedCardStore() });
  const connect = () => {
    const [phoneLink, cardLink] = createMemoryLinkPair();
    const metered = meteredLink(cardLink);
    return { phoneLink, metered, served: card.serve(metered.link) };
  };
  const first = connect();
  await (await phone.pair(first.phoneLink, card.qrPayload(), "bench")).close();
  await first.served;
  const { phoneLink, metered, served } = connect();
  const session = await phone.reconnect(phoneLink, card.deviceId);
  const wallets = new CardWallets(session, {
    crypto: nodeCrypto,
    keystore: SoftwareWalletKeystore.inMemory(),
  });
  const split = async (operation: () => Promise<void>) => {
    const cardBefore = metered.cpuMs();
    const start = cpuNow();
    await operation();
    const total = cpuNow() - start;
    const cardMs = metered.cpuMs() - cardBefore;
    return { phone: total - cardMs, card: cardMs };
  };
  const dkg: { phone: number; card: number }[] = [];
  const sign: { phone: number; card: number }[] = [];
  try {
    for (let round = 0; round < rounds + 1; round++) {
      let walletId: Uint8Array | undefined;
      const d = await split(async () => {
        walletId = (await wallets.createWallet({ ciphersuite: suite })).wallet.walletId;
      });
      const s = await split(async () => {
        await wallets.sign(walletId!, { message: MESSAGE });
      });
      // The first round warms the JIT and the curve's precomputed tables.
      if (round > 0) {
        dkg.push(d);
        sign.push(s);
      }
    }
  } finally {
    await session.close();
    await served;
    card.destroy();
  }
  const med = (runs: { phone: number; card: number }[]) => ({
    phone: round3(median(runs.map((r) => r.phone))),
    card: round3(median(runs.map((r) => r.card))),
  });
  return { dkg: med(dkg), sign: med(sign) };
}

/** The same FROST calls each party makes, straight on @noble/curves, median CPU ms over `rounds`. */
function nobleFloor(suite: CiphersuiteName, rounds: number) {
  const frost = ciphersuiteByName(suite).frost;
  const signers = { min: 2, max: 2 };
  const [phoneId, cardId] = [frost.Identifier.fromNumber(1), frost.Identifier.fromNumber(2)];
  const time = <T>(call: () => T): [T, number] => {
    const start = cpuNow();
    const result = call();
    return [result, cpuNow() - start];
  };
  const runs: { dkg: { phone: number; card: number }; sign: { phone: number; card: number } }[] = [];
  for (let round = 0; round < rounds + 1; round++) {
    const [p1, tp1] = time(() => frost.DKG.round1(phoneId, signers));
    const [c1, tc1] = time(() => frost.DKG.round1(cardId, signers));
    const [c2, tc2] = time(() => frost.DKG.round2(c1.secret, [p1.public]));
    const [p2, tp2] = time(() => frost.DKG.round2(p1.secret, [c1.public]));
    const [pKey, tp3] = time(() =>
      frost.DKG.round3(
        p1.secret,
        [c1.public],
        [{ identifier: cardId, signingShare: c2[phoneId]!.signingShare }],
      ),
    );
    const [cKey, tc3] = time(() =>
      frost.DKG.round3(
        c1.secret,
        [p1.public],
        [{ identifier: phoneId, signingShare: p2[cardId]!.signingShare }],
      ),
    );
    const pub = pKey.public;
    const [cRound, tcc] = time(() => frost.commit(cKey.secret));
    const [pRound, tpc] = time(() => frost.commit(pKey.secret));
    const commitments = [pRound.commitments, cRound.commitments];
    const [cShare, tcs] = time(() => frost.signShare(cKey.secret, pub, cRound.nonces, commitments, MESSAGE));
    const [, tpCoordinate] = time(() => {
      const pShare = frost.signShare(pKey.secret, pub, pRound.nonces, commitments, MESSAGE);
      const shares = { [phoneId]: pShare, [cardId]: cShare };
      for (const [id, share] of Object.entries(shares))
        frost.verifyShare(pub, commitments, MESSAGE, id, share);
      const signature = frost.aggregate(pub, commitments, MESSAGE, shares);
      if (!frost.verify(signature, MESSAGE, pub.commitments[0]!))
        throw new Error("noble floor: no signature");
    });
    if (round > 0) {
      runs.push({
        dkg: { phone: tp1 + tp2 + tp3, card: tc1 + tc2 + tc3 },
        sign: { phone: tpc + tpCoordinate, card: tcc + tcs },
      });
    }
  }
  const med = (pick: (r: (typeof runs)[number]) => number) => round3(median(runs.map(pick)));
  return {
    dkg: { phone: med((r) => r.dkg.phone), card: med((r) => r.dkg.card) },
    sign: { phone: med((r) => r.sign.phone), card: med((r) => r.sign.card) },
  };
}

export async function runMpcBench(options: { quick?: boolean } = {}) {
  const quick = options.quick ?? false;
  const radioRounds = quick ? 1 : 3;
  const cpuRounds = quick ? 3 : 15;
  const air = [];
  for (const mtu of quick ? [185] : MTUS) {
    for (const suite of SUITES) air.push(await overRadio(mtu, suite, radioRounds));
  }
  const cpu = [];
  for (const suite of SUITES) {
    cpu.push({
      suite,
      pairkit: await cpuPerParty(suite, cpuRounds),
      nobleFloor: nobleFloor(suite, cpuRounds),
    });
  }
  const verdicts = {
    signExcessRoundTrips: Math.max(...air.map((a) => a.sign.excessRoundTrips)),
    dkgAirMsAtMtu185: Math.max(...air.filter((a) => a.mtu === 185).map((a) => a.dkg.airMs)),
  };
  const met = {
    signExcessRoundTrips: verdicts.signExcessRoundTrips <= TARGETS.signExcessRoundTrips,
    dkgAirMsAtMtu185: verdicts.dkgAirMsAtMtu185 <= TARGETS.dkgAirMsAtMtu185,
  };

  printTable(
    `MPC over the simulated radio (${INTERVAL_MS} ms interval, open session), median of ${radioRounds}`,
    air.flatMap((a) =>
      (["dkg", "sign"] as const).map((op) => ({
        MTU: a.mtu,
        suite: a.suite,
        op,
        "phone→card frames/B": `${a[op].phoneToCard.frames}/${a[op].phoneToCard.bytes}`,
        "card→phone frames/B": `${a[op].cardToPhone.frames}/${a[op].cardToPhone.bytes}`,
        "floor ms": a[op].floorMs,
        "air ms": a[op].airMs,
        "excess RTs": a[op].excessRoundTrips,
        "call ms": a[op].ms,
      })),
    ),
  );
  printTable(
    `CPU ms per party (in-memory link), median of ${cpuRounds}, next to @noble/curves FROST alone`,
    cpu.flatMap((c) =>
      (["dkg", "sign"] as const).map((op) => ({
        suite: c.suite,
        op,
        "phone ms": c.pairkit[op].phone,
        "phone floor": c.nobleFloor[op].phone,
        "card ms": c.pairkit[op].card,
        "card floor": c.nobleFloor[op].card,
      })),
    ),
  );
  printTable(
    "targets",
    Object.entries(TARGETS).map(([name, target]) => ({
      target: name,
      limit: target,
      value: verdicts[name as keyof typeof verdicts],
      met: met[name as keyof typeof met],
    })),
  );
  return {
    machine: { node: process.version, cpus: (await import("node:os")).cpus().length },
    radioModel: {
      connectionIntervalMs: INTERVAL_MS,
      floor: "2 intervals per phone→card frame (write + response), 1 per card→phone frame (notification)",
      roundTripMs: ROUND_TRIP_MS,
      bytes: "frame header + body, as the phone's radio saw them (ATT headers not counted)",
      airMs: "first frame out of the phone's radio to the last frame in; ms: the whole call",
    },
    signedMessageBytes: MESSAGE.length,
    air,
    cpu,
    targets: TARGETS,
    verdicts,
    met,
  };
}
