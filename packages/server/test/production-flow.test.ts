import { once } from "node:events";
import type { AddressInfo } from "node:net";
import type { FastifyInstance } from "fastify";
import { SMTPServer } from "smtp-server";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { AdminBootstrapError, bootstrapAdministrator } from "../src/admin/first-administrator.ts";
import { VehicleLinkClient } from "../src/vehicle-link/vehicle-link-client.ts";
import { databaseBackends } from "./support/databases.ts";
import { startIdentityProvider } from "./support/identity-provider.ts";
import { productionEnv, startTestServer } from "./support/server.ts";

const backends = await databaseBackends();
const LINK_BASE = "https://cars.example.test/pair";

/** An SMTP server standing in for the carmaker's mail relay: it keeps what it receives. */
async function startMailRelay() {
  const received: { to: string[]; raw: string }[] = [];
  const server = new SMTPServer({
    authOptional: true,
    disabledCommands: ["STARTTLS", "AUTH"],
    logger: false,
    onData(stream, session, callback) {
      const chunks: Buffer[] = [];
      stream.on("data", (chunk: Buffer) => chunks.push(chunk));
      stream.on("end", () => {
        received.push({
          to: session.envelope.rcptTo.map((r) => r.address),
          raw: Buffer.concat(chunks).toString("utf8"),
        });
        callback();
      });
    },
  });
  const listener = server.listen(0, "127.0.0.1");
  await once(listener, "listening");
  const { port } = listener.address() as AddressInfo;
  return {
    url: `smtp://127.0.0.1:${port}`,
    received,
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}

/** The first link in a quoted-printable e-mail body. */
function linkIn(raw: string): string {
  const text = raw
    .replace(/=\r?\n/g, "")
    .replace(/=([0-9A-F]{2})/g, (_, h: string) => String.fromCharCode(Number.parseInt(h, 16)));
  const match = text.match(/https?:\/\/\S+/);
  if (!match) throw new Error("no link in the e-mail");
  return match[0];
}

for (const backend of backends) {
  describe.skipIf(backend.skip !== undefined)(
    `production mode end to end on ${backend.name}${backend.skip ? ` (skipped: ${backend.skip})` : ""}`,
    () => {
      let app: FastifyInstance;
      let idp: Awaited<ReturnType<typeof startIdentityProvider>>;
      let relay: Awaited<ReturnType<typeof startMailRelay>>;
      beforeAll(async () => {
        idp = await startIdentityProvider();
        relay = await startMailRelay();
        app = await startTestServer(
          backend.fresh(),
          productionEnv(idp.url, { SMTP_URL: relay.url, PORTAL_LINK_BASE: LINK_BASE }),
        );
      });
      afterAll(async () => {
        await app?.close();
        await relay?.close();
        await idp?.close();
        await backend.cleanup();
      });

      it("bootstraps the first administrator, who registers an owner; the e-mailed link redeems to a password", async () => {
        const { db, crypto } = app.services;
        const as = async (sub: string) => ({ authorization: `Bearer ${await idp.sign({ sub })}` });
        const adminCall = async (method: "POST" | "PUT", url: string, payload: object) =>
          app.inject({ method, url, headers: await as("root-admin"), payload });

        // Production seeds nobody: the administrator's token names no user yet.
        const before = await adminCall("POST", "/admin/users", {
          id: "frank",
          email: "frank@example.com",
          displayName: "Frank",
          role: "customer",
        });
        expect(before.json()).toMatchObject({ code: "UNAUTHENTICATED" });

        const root = { id: "root-admin", email: "root@example.com", displayName: "Root" };
        await bootstrapAdministrator(db, crypto, root, new Date());
        await expect(
          bootstrapAdministrator(
            db,
            crypto,
            { ...root, id: "second-admin", email: "2@example.com" },
            new Date(),
          ),
        ).rejects.toMatchObject({ code: "ADMIN_EXISTS" });
        await expect(
          bootstrapAdministrator(db, crypto, { ...root, id: "bad\u0000" }, new Date()),
        ).rejects.toBeInstanceOf(AdminBootstrapError);
        const audit = await db.selectFrom("auditLog").select(["actor", "event"]).execute();
        expect(audit).toEqual([{ actor: "operator", event: "admin.bootstrapped" }]);

        expect(
          (
            await adminCall("POST", "/admin/users", {
              id: "frank",
              email: "frank@example.com",
              displayName: "Frank",
              role: "customer",
            })
          ).statusCode,
        ).toBe(201);
        const vehicle = await adminCall("POST", "/admin/vehicles", {
          id: "VH-PROD-1",
          vin: "WPKPROD0000000001",
          model: "Production",
          identityPublicKey: Buffer.from(crypto.generateKeyPair().publicKey).toString("base64"),
          policyFlags: 1,
        });
        expect(vehicle.statusCode, vehicle.body).toBe(201);
        expect(
          (await adminCall("POST", "/admin/vehicles/VH-PROD-1/owners", { userId: "frank", pin: "97531" }))
            .statusCode,
        ).toBe(201);
        expect(
          (
            await adminCall("PUT", "/admin/vehicles/VH-PROD-1/subscription", {
              userId: "frank",
              validUntil: new Date(Date.now() + 86_400_000).toISOString(),
            })
          ).statusCode,
        ).toBe(200);

        const { mqttUrl, password } = vehicle.json<{ mqttUrl: string; password: string }>();
        const provisions: string[] = [];
        const car = await VehicleLinkClient.connect(
          { url: mqttUrl, vehicleId: "VH-PROD-1", password },
          { onProvision: (m) => void provisions.push(m.sessionId), onRevoke: () => {} },
        );
        try {
          const accepted = await app.inject({
            method: "POST",
            url: "/portal/password-link",
            payload: { vin: "WPKPROD0000000001", email: "frank@example.com", pin: "97531" },
          });
          expect(accepted.statusCode, accepted.body).toBe(202);
          const mail = relay.received.find((m) => m.to.includes("frank@example.com"));
          expect(mail).toBeDefined();
          const link = linkIn(mail!.raw);
          // The link opens the carmaker's app or page, not the API (which has no page in production).
          expect(link.startsWith(`${LINK_BASE}#token=`), link.slice(0, LINK_BASE.length + 7)).toBe(true);
          const token = new URL(link).hash.slice("#token=".length);

          // What the page at PORTAL_LINK_BASE does: POST the fragment's token to the redeem API.
          const redeemed = await app.inject({ method: "POST", url: "/portal/redeem", payload: { token } });
          expect(redeemed.statusCode, redeemed.body).toBe(200);
          expect(redeemed.headers["cache-control"]).toBe("no-store");
          const reply = redeemed.json();
          expect(reply.pairingPassword).toMatch(/^\d{8}$/);
          expect(provisions).toEqual([reply.sessionId]);
          const again = await app.inject({ method: "POST", url: "/portal/redeem", payload: { token } });
          expect(again.json()).toMatchObject({ code: "LINK_INVALID" });
        } finally {
          await car.close();
        }
      });
    },
  );
}
