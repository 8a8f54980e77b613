import { once } from "node:events";
import { createServer, type Server } from "node:net";
import { constantTimeEqual, utf8 } from "@pairkit/core";
import { Aedes, type AuthenticateError, type Client } from "aedes";
import { TOPIC_ROOT, VEHICLE_ID_PATTERN } from "./messages.ts";

/** The server's own MQTT user; `$` keeps it out of the vehicle id space. */
export const SERVER_MQTT_USERNAME = "$pairkit-server";

export interface EmbeddedBrokerOptions {
  readonly host: string;
  readonly port: number;
  /** The server's per-process password (random; never leaves the process). */
  readonly serverPassword: string;
  /** Checks a vehicle's credential; the username is the vehicle id. */
  readonly authenticateVehicle: (vehicleId: string, password: Uint8Array) => Promise<boolean>;
  readonly onError?: (error: Error) => void;
}

export interface EmbeddedBroker {
  /** `mqtt://host:port` of the listening socket. */
  readonly url: string;
  close(): Promise<void>;
}

type Role = { readonly kind: "server" } | { readonly kind: "vehicle"; readonly vehicleId: string };
const roles = new WeakMap<Client, Role>();

/**
 * The default broker: aedes in-process. Authentication is per vehicle (username = vehicle id,
 * client id = `vehicle-<id>` so one vehicle cannot take over another's session); authorisation
 * confines a vehicle to publishing under `vehicles/<id>/up/` and subscribing under
 * `vehicles/<id>/down/`. The server may publish any `down/` and subscribe any `up/` topic.
 */
export async function startEmbeddedBroker(options: EmbeddedBrokerOptions): Promise<EmbeddedBroker> {
  const broker = await Aedes.createBroker({
    authenticate(client, username, password, done) {
      const refuse = (): void => {
        const error = new Error("bad credentials") as AuthenticateError;
        // 4 = bad user name or password (MQTT 3.1.1 CONNACK).
        (error as { returnCode: number }).returnCode = 4;
        done(error, false);
      };
      if (username === undefined || password === undefined) return refuse();
      if (username === SERVER_MQTT_USERNAME) {
        if (!constantTimeEqual(password, utf8(options.serverPassword))) return refuse();
        roles.set(client, { kind: "server" });
        return done(null, true);
      }
      if (!VEHICLE_ID_PATTERN.test(username) || client.id !== `vehicle-${username}`) return refuse();
      options.authenticateVehicle(username, new Uint8Array(password)).then(
        (ok) => {
          if (!ok) return refuse();
          roles.set(client, { kind: "vehicle", vehicleId: username });
          done(null, true);
        },
        (error: unknown) => {
          options.onError?.(error instanceof Error ? error : new Error(String(error)));
          refuse();
        },
      );
    },
    authorizePublish(client, packet, callback) {
      const role = client ? roles.get(client) : undefined;
      if (role && mayPublish(role, packet.topic)) return callback(null);
      // MQTT 3.1.1 has no publish refusal: aedes drops the message and closes the connection.
      callback(new Error("publish not authorised"));
    },
    authorizeSubscribe(client, subscription, callback) {
      const role = roles.get(client);
      // A null subscription answers SUBACK 0x80 (failure) without dropping the connection.
      callback(null, role && maySubscribe(role, subscription.topic) ? subscription : null);
    },
    // Deliveries are authorised by the subscription check; no forward rewriting.
  });

  const server: Server = createServer(broker.handle);
  server.listen(options.port, options.host);
  await once(server, "listening");
  // Listening, the server errs only when an accept fails (libuv absorbs EMFILE itself; a rarer
  // errno still surfaces): that client is lost, the broker goes on. Unheard, the event would end
  // the process.
  server.on("error", (error) => options.onError?.(error));
  const address = server.address();
  if (address === null || typeof address === "string") throw new Error("broker: no TCP address");
  const host = address.family === "IPv6" ? `[${address.address}]` : address.address;

  return {
    url: `mqtt://${host}:${address.port}`,
    async close() {
      await new Promise<void>((resolve) => broker.close(() => resolve()));
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

/** `vehicles/<id>/<direction>/…` with at least one level after the direction. */
function underPrefix(topic: string, vehicleId: string | undefined, direction: "up" | "down"): boolean {
  const parts = topic.split("/");
  if (parts.length < 4 || parts[0] !== TOPIC_ROOT || parts[2] !== direction) return false;
  const id = parts[1]!;
  if (vehicleId === undefined) return id === "+" || VEHICLE_ID_PATTERN.test(id);
  return id === vehicleId;
}

function mayPublish(role: Role, topic: string): boolean {
  if (topic.includes("+") || topic.includes("#")) return false;
  return role.kind === "server"
    ? underPrefix(topic, undefined, "down")
    : underPrefix(topic, role.vehicleId, "up");
}

function maySubscribe(role: Role, topic: string): boolean {
  return role.kind === "server"
    ? underPrefix(topic, undefined, "up")
    : underPrefix(topic, role.vehicleId, "down");
}
