import { randomUUID } from "node:crypto";
import { type Clock, PairkitError, TimeoutError, TransportError } from "@pairkit/core";
import mqtt, { type MqttClient } from "mqtt";
import {
  AckMessage,
  decodeMessage,
  type EventMessage,
  EventMessage as EventSchema,
  encodeMessage,
  LinkMessageError,
  ProvisionMessage,
  parseUpTopic,
  RevokeMessage,
  topics,
} from "./messages.ts";

export interface ServerLinkOptions {
  readonly url: string;
  readonly username: string | undefined;
  readonly password: string | undefined;
  readonly clock: Clock;
  /**
   * Called for every well-formed vehicle event; the vehicle id comes from the topic (broker ACL).
   * A rejection means "not handled": the event is handed over again after a backoff.
   */
  readonly onEvent: (vehicleId: string, event: EventMessage) => Promise<void>;
  /** Malformed or failed messages; never carries payload content. */
  readonly onWarning: (message: string, vehicleId: string | undefined, error?: unknown) => void;
}

interface Pending {
  readonly vehicleId: string;
  readonly resolve: (ack: AckMessage) => void;
  readonly reject: (error: Error) => void;
  readonly cancelTimer: () => void;
}

/** The vehicle did not acknowledge a delivery in time, or is known to be offline. */
export class VehicleOfflineError extends PairkitError {
  constructor(vehicleId: string, options?: { cause?: unknown }) {
    super("VEHICLE_OFFLINE", `vehicle ${vehicleId} did not acknowledge`, options);
  }
}

/** Backoff between handlings of an event that failed: doubling from the first delay up to the cap. */
const EVENT_RETRY_FIRST_MS = 100;
const EVENT_RETRY_MAX_MS = 30_000;

/**
 * The server's end of the vehicle link: one MQTT connection that publishes deliveries under
 * `vehicles/<id>/down/` and hears every vehicle's `up/` topics. A delivery resolves with the
 * vehicle's ack; the ack must come from the same vehicle's topic. Replicas each hold their own
 * connection; event handling is idempotent, so it does not matter that all of them hear events.
 */
export class ServerVehicleLink {
  readonly #client: MqttClient;
  readonly #options: ServerLinkOptions;
  readonly #pending = new Map<string, Pending>();
  /** Timers of events waiting to be handled again. */
  readonly #retries = new Set<() => void>();
  #closed = false;

  private constructor(client: MqttClient, options: ServerLinkOptions) {
    this.#client = client;
    this.#options = options;
    client.on("message", (topic, payload) => this.#onMessage(topic, payload));
  }

  static async connect(options: ServerLinkOptions): Promise<ServerVehicleLink> {
    const client = mqtt.connect(options.url, {
      clientId: `pairkit-server-${randomUUID()}`,
      username: options.username,
      password: options.password,
      protocolVersion: 4,
      clean: true,
      reconnectPeriod: 1000,
      connectTimeout: 10_000,
    });
    try {
      await new Promise<void>((resolve, reject) => {
        client.once("connect", () => resolve());
        client.once("error", reject);
      });
      // mqtt.js rejects when the broker refuses the subscription (SUBACK 0x80).
      await client.subscribeAsync(topics.allUp, { qos: 1 });
    } catch (cause) {
      client.end(true);
      throw cause instanceof PairkitError
        ? cause
        : new TransportError("MQTT_CONNECT_FAILED", "cannot connect to the MQTT broker", { cause });
    }
    return new ServerVehicleLink(client, options);
  }

  get connected(): boolean {
    return this.#client.connected;
  }

  /** Publishes a verifier and waits for the vehicle's ack. */
  provision(vehicleId: string, message: ProvisionMessage, timeoutMs: number): Promise<AckMessage> {
    return this.#deliver(
      vehicleId,
      message.deliveryId,
      topics.provision(vehicleId),
      encodeMessage(ProvisionMessage, message),
      timeoutMs,
    );
  }

  /** Tells the vehicle to forget an endpoint and waits for its ack. */
  revoke(vehicleId: string, message: RevokeMessage, timeoutMs: number): Promise<AckMessage> {
    return this.#deliver(
      vehicleId,
      message.deliveryId,
      topics.revoke(vehicleId),
      encodeMessage(RevokeMessage, message),
      timeoutMs,
    );
  }

  async close(): Promise<void> {
    this.#closed = true;
    if (this.#retries.size > 0) {
      this.#options.onWarning(`${this.#retries.size} vehicle event(s) left unhandled at close`, undefined);
    }
    for (const cancel of this.#retries) cancel();
    this.#retries.clear();
    for (const [id, pending] of this.#pending) {
      pending.cancelTimer();
      pending.reject(new TransportError("LINK_CLOSED", "vehicle link closed"));
      this.#pending.delete(id);
    }
    await this.#client.endAsync();
  }

  #deliver(
    vehicleId: string,
    deliveryId: string,
    topic: string,
    payload: Buffer,
    timeoutMs: number,
  ): Promise<AckMessage> {
    return new Promise<AckMessage>((resolve, reject) => {
      const cancelTimer = this.#options.clock.setTimeout(() => {
        this.#pending.delete(deliveryId);
        reject(new VehicleOfflineError(vehicleId, { cause: new TimeoutError("vehicle ack", timeoutMs) }));
      }, timeoutMs);
      this.#pending.set(deliveryId, { vehicleId, resolve, reject, cancelTimer });
      this.#client.publish(topic, payload, { qos: 1 }, (error) => {
        if (!error) return;
        const pending = this.#pending.get(deliveryId);
        if (!pending) return;
        this.#pending.delete(deliveryId);
        pending.cancelTimer();
        reject(new TransportError("MQTT_PUBLISH_FAILED", "cannot publish to the vehicle", { cause: error }));
      });
    });
  }

  /**
   * The broker considers a QoS 1 message delivered once mqtt.js has acked it, which it does on
   * arrival, and the session is clean: nothing will redeliver an event. So an event whose handling
   * failed (the database is down, a conflict outlived its retries) is handled again here until it
   * succeeds or the link closes; handling is idempotent by eventId, so a repeat is harmless.
   */
  #handleEvent(vehicleId: string, event: EventMessage, run: number): void {
    this.#options.onEvent(vehicleId, event).catch((error: unknown) => {
      if (this.#closed) {
        this.#options.onWarning(`handling ${event.type} failed at close`, vehicleId, error);
        return;
      }
      const delay = Math.min(EVENT_RETRY_MAX_MS, EVENT_RETRY_FIRST_MS * 2 ** (run - 1));
      this.#options.onWarning(
        `handling ${event.type} failed (run ${run}); handling it again in ${delay} ms`,
        vehicleId,
        error,
      );
      const cancel = this.#options.clock.setTimeout(() => {
        this.#retries.delete(cancel);
        this.#handleEvent(vehicleId, event, run + 1);
      }, delay);
      this.#retries.add(cancel);
    });
  }

  #onMessage(topic: string, payload: Buffer): void {
    const parsed = parseUpTopic(topic);
    if (!parsed) {
      this.#options.onWarning("message on an unexpected topic", undefined);
      return;
    }
    const { vehicleId, kind } = parsed;
    try {
      if (kind === "ack") {
        const ack = decodeMessage(AckMessage, payload);
        const pending = this.#pending.get(ack.deliveryId);
        // An ack for another vehicle's delivery is ignored: a vehicle can only answer for itself.
        if (!pending || pending.vehicleId !== vehicleId) return;
        this.#pending.delete(ack.deliveryId);
        pending.cancelTimer();
        pending.resolve(ack);
      } else if (kind === "event") {
        // `status` (retained online flag, also the vehicle's last will) is for operators; the
        // server decides liveness by acks alone, which cannot race a stale retained flag.
        this.#handleEvent(vehicleId, decodeMessage(EventSchema, payload), 1);
      }
    } catch (error) {
      if (!(error instanceof LinkMessageError)) throw error;
      this.#options.onWarning(`dropped ${kind}: ${error.message}`, vehicleId);
    }
  }
}
