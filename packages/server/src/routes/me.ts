import type { FastifyInstance } from "fastify";
import { bearerToken } from "../auth/authenticator.ts";
import { errorReplies, MyVehiclesReply } from "../http/schemas.ts";
import type { Services } from "../services.ts";

/** What a signed-in user sees of their own vehicles (the console's phone emulator lists them). */
export async function meRoutes(app: FastifyInstance, services: Services): Promise<void> {
  const { db, clock } = services;

  app.get(
    "/me/vehicles",
    {
      schema: {
        tags: ["me"],
        summary: "The vehicles I own, with my digital key subscription and my current owner key",
        security: [{ bearer: [] }],
        response: { 200: MyVehiclesReply, ...errorReplies },
      },
    },
    async (request) => {
      const { userId } = await services.authenticate(bearerToken(request.headers.authorization));
      const now = clock.now();
      const vehicles = await db
        .selectFrom("ownerships")
        .innerJoin("vehicles", "vehicles.id", "ownerships.vehicleId")
        .select(["vehicles.id as vehicleId", "vehicles.vin", "vehicles.model"])
        .where("ownerships.userId", "=", userId)
        .orderBy("vehicles.id")
        .execute();
      if (vehicles.length === 0) return { vehicles: [] };
      const vehicleIds = vehicles.map((v) => v.vehicleId);
      const subscriptions = await db
        .selectFrom("subscriptions")
        .select(["vehicleId", "validUntil"])
        .where("userId", "=", userId)
        .where("product", "=", "digital_key")
        .where("vehicleId", "in", vehicleIds)
        .execute();
      const keys = await db
        .selectFrom("digitalKeys")
        .select(["keyId", "vehicleId", "state", "attested"])
        .where("ownerUserId", "=", userId)
        .where("role", "=", "owner")
        .where("state", "in", ["active", "revoking"])
        .where("vehicleId", "in", vehicleIds)
        .orderBy("createdAt", "desc")
        .execute();
      return {
        vehicles: vehicles.map((vehicle) => {
          const validUntil = subscriptions.find((s) => s.vehicleId === vehicle.vehicleId)?.validUntil;
          const key = keys.find((k) => k.vehicleId === vehicle.vehicleId);
          return {
            ...vehicle,
            subscribed: validUntil !== undefined && validUntil.getTime() > now,
            subscriptionValidUntil: validUntil?.toISOString() ?? null,
            ownerKey: key ? { keyId: key.keyId, state: key.state, attested: key.attested } : null,
          };
        }),
      };
    },
  );
}
