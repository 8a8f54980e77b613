import {
  ATT_OVERHEAD,
  DeviceKind,
  FRAME_HEADER_SIZE,
  type FrameChannel,
  FramedLink,
  FrameType,
  findPeripheral,
  frameCount,
  OWNER_COMMAND_CHARACTERISTIC,
  OWNER_PAIRING_PIPE,
  OWNER_PAIRING_SERVICE,
  openCentralFrameChannel,
  openPeripheralFrameChannel,
  pairkitManufacturerData,
  pairkitScanFilter,
  SEALED_OVERHEAD,
  SimRadio,
} from "@pairkit/ble";
import { constantTimeEqual, type LinkMessage, systemClock } from "@pairkit/core";
import { nodeCrypto } from "@pairkit/core/node";
import { median, printTable, round3 } from "./measure.ts";

/**
 * The floor follows the simulated radio's latency model (packages/ble/src/sim/lane.ts and
 * sim-connection.ts): each direction of a connection is a lane that carries one ATT PDU per
 * connection interval I — a PDU arrives I after the later of its send time and the arrival of the
 * lane's previous PDU.
 * - Write Request (central → peripheral, one per frame): the request takes one hop, its Write
 *   Response one hop back, and the next write waits for that response (one outstanding ATT request;
 *   the link awaits each frame). The n-th frame reaches the peripheral after (2n − 1)·I; the
 *   central's last Write Response lands at 2n·I, after the measured window.
 * - Notification (peripheral → central, one per frame): unacknowledged; the link queues all n at
 *   once and the lane carries one per interval, so the last arrives after n·I.
 */
const BLE_RADIO_MODEL = {
  connectionIntervalMs: 30,
  pdusPerIntervalPerDirection: 1,
  "central→peripheral":
    "write with response: request + response = 2 hops per frame; delivered after (2n − 1) hops",
  "peripheral→central": "notification: 1 hop per frame, back to back; delivered after n hops",
} as const;

const INTERVAL_MS = BLE_RADIO_MODEL.connectionIntervalMs;
const MTUS = [23, 185, 247, 517] as const;
/** MTU 23 needs 148 frames a message, about 13 s for both directions, too long for a quick run. */
const QUICK_MTUS = [185, 247, 517] as const;
const MESSAGE_BYTES = 2048;
const TARGET_RATIO = 1.1;
/** ATT_WRITE_RSP is its opcode alone (Core Vol 3 Part F 3.4.5.2). */
const WRITE_RESPONSE_BYTES = 1;
/** The phone offers the largest ATT MTU (docs/protocol.md §2.1); the vehicle's limit decides the link's. */
const CENTRAL_MTU = 517;
const SETUP_TIMEOUT_MS = 5_000;
/** Above the 8.9 s a 2 KiB message takes in 20-byte writes at MTU 23. */
const RECEIVE_TIMEOUT_MS = 60_000;

type Direction = "central→peripheral" | "peripheral→central";

/** One end of the link, with the size of every frame it handed to an ATT operation, in order. */
interface Side {
  readonly link: FramedLink;
  readonly sent: number[];
}

interface Transfer {
  /** From `send` until the receiver's `receive` resolved. */
  readonly ms: number;
  /** Sizes of the frames the sender put on the air for this message. */
  readonly frames: readonly number[];
  /** Frames the receiver sent meanwhile (0 once LINK_PARAMS has been exchanged). */
  readonly receiverFrames: number;
  readonly intact: boolean;
}

interface Session {
  readonly mtu: number;
  readonly central: Side;
  readonly peripheral: Side;
  /** The central's first message on the connection: LINK_PARAMS goes first, the peripheral answers it. */
  readonly first: Transfer;
  close(): Promise<void>;
}

const OWNER_GATT = [
  {
    uuid: OWNER_PAIRING_SERVICE,
    characteristics: [{ uuid: OWNER_COMMAND_CHARACTERISTIC, properties: ["write", "notify"] as const }],
  },
];

/** Records every frame `channel` is asked to send, so the bench counts what reaches the air, not what it expects. */
function recordSends(channel: FrameChannel): { channel: FrameChannel; sent: number[] } {
  const sent: number[] = [];
  return {
    sent,
    channel: {
      get mtu() {
        return channel.mtu;
      },
      sendFrame(frame, options) {
        sent.push(frame.length);
        return channel.sendFrame(frame, options);
      },
      onFrame: (listener) => channel.onFrame(listener),
      onClose: (listener) => channel.onClose(listener),
      close: () => channel.close(),
    },
  };
}

/**
 * A vehicle advertising the owner pairing service and a phone that scans for it, connects, opens
 * the pipe, exchanges a SELECT-sized message each way in plaintext (which carries the LINK_PARAMS
 * exchange, as in a real session) and secures both links with the same key.
 */
async function openSession(mtu: number, kenc: Uint8Array): Promise<Session> {
  const radio = new SimRadio({ clock: systemClock, connectionIntervalMs: INTERVAL_MS });
  const vehicle = radio.createPeripheral({ id: "vehicle", mtu });
  await vehicle.setServices(OWNER_GATT);
  const peripheralChannel = new Promise<FrameChannel>((resolve, reject) => {
    vehicle.onConnection((connection) => {
      openPeripheralFrameChannel(connection, OWNER_PAIRING_PIPE, { timeoutMs: SETUP_TIMEOUT_MS }).then(
        resolve,
        reject,
      );
    });
  });
  await vehicle.startAdvertising({
    serviceUuids: [OWNER_PAIRING_SERVICE],
    localName: "PK-BENCH",
    manufacturerData: pairkitManufacturerData(DeviceKind.VEHICLE),
  });
  const phone = radio.createCentral({ mtu: CENTRAL_MTU });
  const found = await findPeripheral(phone, {
    filters: [pairkitScanFilter(DeviceKind.VEHICLE)],
    timeoutMs: SETUP_TIMEOUT_MS,
  });
  const client = await phone.connect(found.peripheralId, { timeoutMs: SETUP_TIMEOUT_MS });
  const centralPipe = recordSends(await openCentralFrameChannel(client, OWNER_PAIRING_PIPE));
  const peripheralPipe = recordSends(await peripheralChannel);
  const central: Side = {
    link: new FramedLink(centralPipe.channel, { role: "central", crypto: nodeCrypto }),
    sent: centralPipe.sent,
  };
  const peripheral: Side = {
    link: new FramedLink(peripheralPipe.channel, { role: "peripheral", crypto: nodeCrypto }),
    sent: peripheralPipe.sent,
  };
  // Stand-ins for SELECT and its response; the link does not look inside messages.
  const select = { type: FrameType.SELECT, payload: nodeCrypto.randomBytes(8) };
  const first = await transfer(central, peripheral, select);
  // Queued behind the peripheral's LINK_PARAMS, so both sides know the frame size once it arrives.
  await transfer(peripheral, central, select);
  central.link.secure(kenc);
  peripheral.link.secure(kenc);
  return {
    mtu,
    central,
    peripheral,
    first,
    async close() {
      await central.link.close();
      await peripheral.link.close();
      await vehicle.close();
    },
  };
}

async function transfer(from: Side, to: Side, message: LinkMessage): Promise<Transfer> {
  const sentBefore = from.sent.length;
  const receiverBefore = to.sent.length;
  const start = performance.now();
  const sending = from.link.send(message);
  const received = await to.link.receive({ timeoutMs: RECEIVE_TIMEOUT_MS });
  const ms = performance.now() - start;
  // The last Write Response is still in the air: let it land so the next transfer starts on idle lanes.
  await sending;
  return {
    ms,
    frames: from.sent.slice(sentBefore),
    receiverFrames: to.sent.length - receiverBefore,
    intact: received.type === message.type && constantTimeEqual(received.payload, message.payload),
  };
}

/** Connection intervals a message of `frames` frames needs, from `send` to delivery, in this radio model. */
function hopsToDeliver(direction: Direction, frames: number): number {
  return direction === "central→peripheral" ? 2 * frames - 1 : frames;
}

/** ATT PDU bytes a message puts on the air (link-layer and L2CAP headers not counted). */
function attBytes(direction: Direction, frames: readonly number[]): number {
  const perPdu = ATT_OVERHEAD + (direction === "central→peripheral" ? WRITE_RESPONSE_BYTES : 0);
  return sum(frames) + perPdu * frames.length;
}

const sum = (values: readonly number[]) => values.reduce((a, b) => a + b, 0);

export async function runBleBench(options: { quick?: boolean; mtus?: readonly number[] } = {}) {
  const quick = options.quick ?? false;
  const mtus = options.mtus ?? (quick ? QUICK_MTUS : MTUS);
  const rounds = quick ? 1 : 5;
  const kenc = nodeCrypto.randomBytes(32);
  const sessions: Session[] = [];
  try {
    for (const mtu of mtus) sessions.push(await openSession(mtu, kenc));
    const samples = new Map<string, Transfer[]>();
    const record = (mtu: number, direction: Direction, t: Transfer) => {
      const k = `${mtu} ${direction}`;
      samples.set(k, [...(samples.get(k) ?? []), t]);
    };
    // Round-robin over MTUs and directions, so that load changes on the machine hit every case alike.
    for (let round = 0; round < rounds; round++) {
      for (const s of sessions) {
        const message = (type: number) => ({ type, payload: nodeCrypto.randomBytes(MESSAGE_BYTES) });
        record(
          s.mtu,
          "central→peripheral",
          await transfer(s.central, s.peripheral, message(FrameType.DEVICE_CONFIG)),
        );
        record(
          s.mtu,
          "peripheral→central",
          await transfer(s.peripheral, s.central, message(FrameType.DEVICE_CONFIG)),
        );
      }
    }

    const cases = sessions.flatMap((s) =>
      (["central→peripheral", "peripheral→central"] as const).map((direction) => {
        const sender = direction === "central→peripheral" ? s.central : s.peripheral;
        const all = samples.get(`${s.mtu} ${direction}`)!;
        const frames = all[0]!.frames;
        const frameSize = sender.link.frameSize;
        const framesByFormula = frameCount(MESSAGE_BYTES + SEALED_OVERHEAD, frameSize);
        const hops = hopsToDeliver(direction, framesByFormula);
        const floorMs = hops * INTERVAL_MS;
        const ms = median(all.map((t) => t.ms));
        return {
          mtu: s.mtu,
          direction,
          frameSize,
          frames: frames.length,
          framesByFormula,
          payloadBytes: MESSAGE_BYTES,
          frameBytes: sum(frames),
          attBytesOnAir: attBytes(direction, frames),
          framingOverheadBytes: sum(frames) - MESSAGE_BYTES,
          framingOverheadByFormula: FRAME_HEADER_SIZE * framesByFormula + SEALED_OVERHEAD,
          hops,
          floorMs,
          ms: round3(ms),
          msPerHop: round3(ms / hops),
          ratio: round3(ms / floorMs),
          met: ms / floorMs <= TARGET_RATIO,
          rounds: all.map((t) => ({
            ms: round3(t.ms),
            frames: t.frames.length,
            receiverFrames: t.receiverFrames,
            intact: t.intact,
          })),
        };
      }),
    );

    const connection = sessions.map((s) => {
      // LINK_PARAMS write + the SELECT frame(s): both writes, so the same model as a message.
      const hops = hopsToDeliver("central→peripheral", s.first.frames.length);
      const linkParamsFrames = [s.first.frames[0]!, s.peripheral.sent[0]!];
      return {
        mtu: s.mtu,
        linkParams: {
          frameBytes: sum(linkParamsFrames),
          attBytesOnAir:
            attBytes("central→peripheral", linkParamsFrames.slice(0, 1)) +
            attBytes("peripheral→central", linkParamsFrames.slice(1)),
        },
        firstMessage: {
          payloadBytes: 8,
          writes: s.first.frames.length,
          hops,
          floorMs: hops * INTERVAL_MS,
          ms: round3(s.first.ms),
          ratio: round3(s.first.ms / (hops * INTERVAL_MS)),
          intact: s.first.intact,
        },
      };
    });

    printTable(
      `2 KiB sealed message over the simulated radio, ${INTERVAL_MS} ms interval, ms from send to receive (median of ${rounds})` +
        (quick ? "; quick: MTU 23 skipped" : ""),
      cases.map((c) => ({
        MTU: c.mtu,
        direction: c.direction,
        F: c.frameSize,
        frames: c.frames,
        "frame B": c.frameBytes,
        "ATT B on air": c.attBytesOnAir,
        "overhead B": c.framingOverheadBytes,
        hops: c.hops,
        "floor ms": c.floorMs,
        ms: c.ms,
        "ms/hop": c.msPerHop,
        ratio: c.ratio,
        [`≤ ${TARGET_RATIO}`]: c.met,
        intact: `${c.rounds.filter((r) => r.intact).length}/${c.rounds.length}`,
      })),
    );
    printTable(
      "first message on a connection (LINK_PARAMS + 8-byte SELECT, plaintext), outside the figures above",
      connection.map((c) => ({
        MTU: c.mtu,
        writes: c.firstMessage.writes,
        "floor ms": c.firstMessage.floorMs,
        ms: c.firstMessage.ms,
        ratio: c.firstMessage.ratio,
        "LINK_PARAMS B (frames, both ways)": c.linkParams.frameBytes,
        "LINK_PARAMS ATT B": c.linkParams.attBytesOnAir,
      })),
    );
    console.log(
      `radio model: ${BLE_RADIO_MODEL["central→peripheral"]}; ${BLE_RADIO_MODEL["peripheral→central"]}`,
    );

    return {
      machine: { node: process.version, cpus: (await import("node:os")).cpus().length },
      radioModel: BLE_RADIO_MODEL,
      messageBytes: MESSAGE_BYTES,
      sealedBytes: MESSAGE_BYTES + SEALED_OVERHEAD,
      target: TARGET_RATIO,
      allMet: cases.every((c) => c.met),
      rounds,
      cases,
      connection,
    };
  } finally {
    for (const s of sessions) await s.close();
  }
}
