import { randomUUID } from "node:crypto";
import { PairkitError, TransportError } from "@pairkit/core";
import mqtt, { type MqttClient } from "mqtt";
import {
  AckMessage,
  decodeMessage,
  EventMessage,
  encodeMessage,
  LinkMessageError,
  ProvisionMessage,
  RevokeMessage,
  StatusMessage,
  topics,
} from "./messages.ts";

export interface VehicleLinkClientOptions {
  /** Broker URL, e.g. `mqtt://127.0.0.1:1883`. */
  readonly url: string;
  readonly vehicleId: string;
  /** The vehicle's MQTT password (issued at registration). */
  readonly password: string;
  /** The last verifier sequence the vehicle stored before a restart (0 when none). */
  readonly verifierSeq?: number;
}

export interface VehicleLinkHandlers {
  /** Store the verifier, replacing any earlier one; throw to reject the delivery. */
  readonly onProvision: (message: ProvisionMessage) => void | Promise<void>;
  /** Forget the endpoint; throw to reject the delivery. */
  readonly onRevoke: (message: RevokeMessage) => void | Promise<void>;
}

/** A provision older than the verifier the vehicle already holds (delivered out of order). */
export class StaleVerifierError extends PairkitError {
  constructor() {
    super("STALE_VERIFIER", "a newer verifier is already stored");
  }
}

/** Events without their `eventId`, which the client assigns. */
export type VehicleEvent = EventMessage extends infer E
  ? E extends EventMessage
    ? Omit<E, "eventId">
    : never
  : never;

/**
 * The vehicle's end of the vehicle link (docs/vehicle-link.md): connects with the vehicle's
 * credential, answers every provision/revoke with an ack, and publishes events. Used by the vehicle
 * simulator; a firmware team can read it as the reference client.
 */
export class VehicleLinkClient {
  readonly #client: MqttClient;
  readonly #vehicleId: string;
  /**
   * Highest verifier sequence stored. Deliveries from several server replicas can arrive out of
   * order; an older verifier must never replace a newer one. Firmware should persist this value.
   */
  #verifierSeq: number;
  #inbox: Promise<void> = Promise.resolve();

  private constructor(client: MqttClient, vehicleId: string, verifierSeq: number) {
    this.#client = client;
    this.#vehicleId = vehicleId;
    this.#verifierSeq = verifierSeq;
  }

  static async connect(
    options: VehicleLinkClientOptions,
    handlers: VehicleLinkHandlers,
  ): Promise<VehicleLinkClient> {
    const { vehicleId } = options;
    const client = mqtt.connect(options.url, {
      clientId: `vehicle-${vehicleId}`,
      username: vehicleId,
      password: options.password,
      protocolVersion: 4,
      clean: true,
      reconnectPeriod: 1000,
      connectTimeout: 10_000,
      will: {
        topic: topics.status(vehicleId),
        payload: encodeMessage(StatusMessage, { online: false }),
        qos: 1,
        retain: true,
      },
    });
    try {
      await new Promise<void>((resolve, reject) => {
        client.once("connect", () => resolve());
        client.once("error", reject);
      });
      // mqtt.js rejects when the broker refuses the subscription (SUBACK 0x80).
      await client.subscribeAsync(topics.vehicleDown(vehicleId), { qos: 1 });
      await client.publishAsync(topics.status(vehicleId), encodeMessage(StatusMessage, { online: true }), {
        qos: 1,
        retain: true,
      });
    } catch (cause) {
      client.end(true);
      throw cause instanceof PairkitError
        ? cause
        : new TransportError("MQTT_CONNECT_FAILED", "cannot connect to the MQTT broker", { cause });
    }
    const link = new VehicleLinkClient(client, vehicleId, options.verifierSeq ?? 0);
    client.on("message", (topic, payload) => {
      // One delivery at a time, in arrival order, so the sequence check cannot interleave.
      link.#inbox = link.#inbox
        .then(() => link.#onMessage(topic, payload, handlers))
        .catch(() => {
          // Only a failed ack publish lands here; the server then times out and reports VEHICLE_OFFLINE.
        });
    });
    return link;
  }

  async publishEvent(event: VehicleEvent): Promise<void> {
    const message = { ...event, eventId: randomUUID() } as EventMessage;
    await this.#client.publishAsync(topics.event(this.#vehicleId), encodeMessage(EventMessage, message), {
      qos: 1,
    });
  }

  /** Highest verifier sequence stored so far; persist it across restarts. */
  get verifierSeq(): number {
    return this.#verifierSeq;
  }

  get connected(): boolean {
    return this.#client.connected;
  }

  /** Announces offline (retained) and disconnects. */
  async close(): Promise<void> {
    if (this.#client.connected) {
      await this.#client
        .publishAsync(topics.status(this.#vehicleId), encodeMessage(StatusMessage, { online: false }), {
          qos: 1,
          retain: true,
        })
        .catch(() => {});
    }
    await this.#client.endAsync();
  }

  async #onMessage(topic: string, payload: Buffer, handlers: VehicleLinkHandlers): Promise<void> {
    let deliveryId: string;
    let work: () => void | Promise<void>;
    try {
      if (topic === topics.provision(this.#vehicleId)) {
        const message = decodeMessage(ProvisionMessage, payload);
        deliveryId = message.deliveryId;
        work = async () => {
          if (message.seq <= this.#verifierSeq) throw new StaleVerifierError();
          await handlers.onProvision(message);
          this.#verifierSeq = message.seq;
        };
      } else if (topic === topics.revoke(this.#vehicleId)) {
        const message = decodeMessage(RevokeMessage, payload);
        deliveryId = message.deliveryId;
        work = () => handlers.onRevoke(message);
      } else {
        return;
      }
    } catch (error) {
      if (error instanceof LinkMessageError) return; // Nothing to ack without a delivery id.
      throw error;
    }
    let ack: AckMessage;
    try {
      await work();
      ack = { deliveryId, status: "ok" };
    } catch (error) {
      // Only the code goes back: a handler's message might describe secret state.
      ack = { deliveryId, status: "rejected", reason: error instanceof PairkitError ? error.code : "ERROR" };
    }
    await this.#client.publishAsync(topics.ack(this.#vehicleId), encodeMessage(AckMessage, ack), { qos: 1 });
  }
}
