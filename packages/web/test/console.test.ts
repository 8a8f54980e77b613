import { schnorr } from "@noble/curves/secp256k1.js";
import {
  CCCD_UUID,
  DeviceKind,
  FrameType,
  OWNER_COMMAND_CHARACTERISTIC,
  OWNER_PAIRING_SERVICE,
  pairkitManufacturerData,
} from "@pairkit/ble";
import { openRecoveryKit, toHex, vehicleAdvertisementHash } from "@pairkit/core";
import { nodeCrypto } from "@pairkit/core/node";
import { DEMO } from "@pairkit/server";
import type { Locator, Page } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  CARD_NAME,
  CARD_OWNER,
  ConsoleHarness,
  DESKTOP,
  PHONE,
  skipBrowserTests,
  snap,
} from "./support/harness.ts";

/*
 * The web console in headless Chromium against the real server, radio, fleet and card: every flow
 * a person would walk, at phone and desktop width, with screenshots in packages/web/test-results/.
 */

const ALICE_CAR = DEMO.vehicles.alices;
const ALICE_SECOND_CAR = DEMO.vehicles.alicesSecond;
const STEP_TIMEOUT_MS = 30_000;

/** Waits until `locator` shows text matching `pattern`, and returns that text. */
async function shows(locator: Locator, pattern: RegExp): Promise<string> {
  await locator.filter({ hasText: pattern }).first().waitFor({ timeout: STEP_TIMEOUT_MS });
  return (await locator.first().textContent()) ?? "";
}

async function signIn(page: Page, part: "phone" | "admin", user: string): Promise<void> {
  await page.fill(`#${part}-user`, user);
  await page.click(`#${part}-sign-in`);
  await shows(page.locator(`#${part}-status`), new RegExp(`Signed in as ${user}`));
}

function vehicle(page: Page, vehicleId: string): Locator {
  return page.locator(`article.vehicle[data-vehicle-id="${vehicleId}"]`);
}

describe.skipIf(skipBrowserTests)("web console in Chromium", () => {
  let harness: ConsoleHarness;
  beforeAll(async () => {
    harness = await ConsoleHarness.start();
  }, 120_000);
  afterAll(async () => {
    await harness?.close();
  });

  it("portal → mailbox → e-mailed link → phone pairs over the radio → unlock (phone width)", async () => {
    await harness.withPage("portal", PHONE, async (page) => {
      await page.goto("/");
      await page.fill("#portal-vin", ALICE_CAR.vin);
      await page.fill("#portal-email", DEMO.users.alice.email);
      await page.fill("#portal-pin", DEMO.pin);
      await snap(page, "portal-1-form-phone");
      await page.click("#portal-submit");
      await shows(page.locator("#portal-status"), /e-mailed a one-time pairing link/);
      const link = page.locator("#mailbox a.mail-link").first();
      await link.waitFor({ timeout: STEP_TIMEOUT_MS });
      const href = (await link.getAttribute("href")) ?? "";
      expect(href).toMatch(new RegExp(`^${harness.url}/portal/redeem#token=[A-Za-z0-9_-]{43}$`));
      await snap(page, "portal-2-mailbox-phone");

      await link.click();
      await shows(
        page.locator("#phone-notice"),
        new RegExp(`Link redeemed: a pairing password for ${ALICE_CAR.id}`),
      );
      // The one-time token left the address bar as soon as the page read it.
      expect(page.url()).toBe(`${harness.url}/`);
      await signIn(page, "phone", "alice");
      await vehicle(page, ALICE_SECOND_CAR.id).waitFor();
      const car = vehicle(page, ALICE_CAR.id);
      expect(await car.locator("input.password").inputValue()).toMatch(/^[0-9]{8}$/);
      await snap(page, "portal-3-redeemed-phone");
      await car.locator("button.start-pairing").click();
      await shows(car.locator(".status"), /Paired: key [0-9a-f]{8}…, attested by the KTS/);
      expect(await car.locator('.progress li[data-state="done"]').count()).toBe(7);
      await shows(car.locator(".key-state"), /active, attested/);
      await snap(page, "portal-4-paired-phone");
      await car.locator("button.unlock").click();
      await shows(car.locator(".status"), /Unlocked \(transaction/);
      await snap(page, "portal-5-unlocked-phone");
      // The link works once: reopening it is refused in plain words.
      await page.goto(href);
      await shows(page.locator("#phone-notice"), /already been used or has expired.*LINK_INVALID/);
    });
  });

  it("app flow: refusals in plain words; a wrong password shows the attempts left, the right one pairs and unlocks (desktop)", async () => {
    await harness.withPage("app", DESKTOP, async (page) => {
      await page.goto("/");
      await page.click("#tab-phone");
      await signIn(page, "phone", "bob");
      const bobs = vehicle(page, DEMO.vehicles.bobs.id);
      await bobs.locator("button.add-key").click();
      await shows(bobs.locator(".status"), /no active digital-key subscription.*NO_SUBSCRIPTION/);

      await signIn(page, "phone", "alice");
      // Without "replace" the server refuses: this vehicle has an owner key from the portal flow.
      const first = vehicle(page, ALICE_CAR.id);
      await first.locator("button.add-key").click();
      await shows(first.locator(".status"), /already has an owner key.*OWNER_DEVICE_EXISTS/);

      const car = vehicle(page, ALICE_SECOND_CAR.id);
      await car.locator("button.add-key").click();
      await shows(car.locator(".status"), /Pairing password issued/);
      const password = await car.locator("input.password").inputValue();
      const wrong = `${(Number(password[0]) + 1) % 10}${password.slice(1)}`;
      await car.locator("input.password").fill(wrong);
      await car.locator("button.start-pairing").click();
      await shows(
        car.locator(".status"),
        /Wrong pairing password\. 4 attempts left\. \(CONFIRMATION_FAILED\)/,
      );
      expect(await car.locator('.progress li[data-state="failed"]').getAttribute("data-phase")).toBe(
        "spake2",
      );
      await snap(page, "app-1-wrong-password-desktop");
      await car.locator("input.password").fill(password);
      await car.locator("button.start-pairing").click();
      await shows(car.locator(".status"), /Paired: key/);
      await car.locator("button.unlock").click();
      await shows(car.locator(".status"), /Unlocked/);
      await snap(page, "app-2-unlocked-desktop");
    });
  });

  it("Active Card: QR image upload → bind → reconnect → forget → refused (phone width)", async () => {
    await harness.withPage("card", PHONE, async (page) => {
      await page.goto("/");
      await page.click("#tab-card");
      await page.locator(`#dev-cards figure[data-card-name="${CARD_NAME}"] img`).waitFor();
      const { cards } = (await (await fetch(`${harness.url}/dev/cards`)).json()) as {
        cards: { name: string; qrPngBase64: string }[];
      };
      await snap(page, "card-1-qr-phone");
      await page.setInputFiles("#card-qr-file", {
        name: `${CARD_NAME}.png`,
        mimeType: "image/png",
        buffer: Buffer.from(cards[0]!.qrPngBase64, "base64"),
      });
      await shows(page.locator("#card-status"), new RegExp(`Found card ${CARD_NAME}`));
      await page.fill("#card-user", CARD_OWNER);
      await page.click("#card-pair");
      await shows(
        page.locator("#card-status"),
        new RegExp(`Paired with ${CARD_NAME}; bound to ${CARD_OWNER}`),
      );
      expect(harness.card.pairedPhones.map((p) => p.userId)).toEqual([CARD_OWNER]);
      await snap(page, "card-2-paired-phone");
      const paired = page.locator("article.paired-card");
      await paired.locator("button.card-reconnect").click();
      await shows(page.locator("#card-status"), /Reconnected to .*encrypted session established/);
      await paired.locator("button.card-forget").click();
      await shows(page.locator("#card-status"), /have forgotten each other/);
      expect(harness.card.pairedPhones).toHaveLength(0);
      await paired.locator("button.card-reconnect").click();
      await shows(page.locator("#card-status"), /does not know this phone.*NOT_PAIRED/);
      await snap(page, "card-3-refused-phone");
    });
  });

  it("Active Card by camera: the card refuses another user, then binds its owner (desktop)", async () => {
    await harness.withPage("camera", DESKTOP, async (page, context) => {
      await context.grantPermissions(["camera"]);
      await page.goto("/");
      await page.click("#tab-card");
      await page.click("#card-camera-start");
      await shows(page.locator("#card-status"), new RegExp(`Found card ${CARD_NAME}`));
      await page.fill("#card-user", "bob@example.com");
      await page.click("#card-pair");
      await shows(
        page.locator("#card-status"),
        /refused to bind this user: it belongs to someone else.*CARD_REFUSED/,
      );
      await page.fill("#card-user", CARD_OWNER);
      await page.click("#card-pair");
      await shows(
        page.locator("#card-status"),
        new RegExp(`Paired with ${CARD_NAME}; bound to ${CARD_OWNER}`),
      );
      expect(harness.card.pairedPhones).toHaveLength(1);
      await snap(page, "card-4-camera-desktop");
    });
  });

  it("Active Card MPC wallet: create a Taproot wallet with the card, sign a text; the signature shown verifies (phone width)", async () => {
    await harness.withPage("wallet", PHONE, async (page) => {
      await page.goto("/");
      await page.click("#tab-card");
      const { cards } = (await (await fetch(`${harness.url}/dev/cards`)).json()) as {
        cards: { name: string; qrPngBase64: string }[];
      };
      await page.setInputFiles("#card-qr-file", {
        name: `${CARD_NAME}.png`,
        mimeType: "image/png",
        buffer: Buffer.from(cards[0]!.qrPngBase64, "base64"),
      });
      await page.fill("#card-user", CARD_OWNER);
      await page.click("#card-pair");
      await shows(page.locator("#card-status"), new RegExp(`Paired with ${CARD_NAME}`));

      await page.selectOption("#wallet-suite", "secp256k1-taproot");
      await page.click("#wallet-create");
      await shows(page.locator("#wallet-status"), /Wallet created \(2-of-2\)/);
      const publicKey = (await page.locator("#wallet-public-key").textContent()) ?? "";
      // The key shown is the x-only form of the group key the card holds a share of.
      expect(harness.card.wallets.map((w) => toHex(w.groupPublicKey.subarray(1)))).toContain(publicKey);

      const text = "pay 1 sat to carol";
      await page.fill("#wallet-message", text);
      await page.click("#wallet-sign");
      await shows(page.locator("#wallet-status"), /Signed: the signature verifies/);
      const signature = (await page.locator("#wallet-signature").textContent()) ?? "";
      const [sig, key] = [Buffer.from(signature, "hex"), Buffer.from(publicKey, "hex")];
      expect(schnorr.verify(sig, Buffer.from(text), key)).toBe(true);
      expect(schnorr.verify(sig, Buffer.from(`${text}.`), key)).toBe(false);

      // Announced to screen readers, labelled, and no sideways scrolling at 390 px.
      expect(await page.getAttribute("#wallet-status", "aria-live")).toBe("polite");
      for (const id of ["wallet-suite", "wallet-message", "wallet-recovery-passphrase"]) {
        expect(await page.locator(`label[for="${id}"]`).count()).toBe(1);
      }
      const wider = await page.evaluate(() =>
        Array.from(document.querySelectorAll("#card *"))
          .filter((e) => e.getBoundingClientRect().right > document.documentElement.clientWidth + 0.5)
          .map((e) => `${e.tagName.toLowerCase()}#${e.id}.${e.className}`),
      );
      expect(wider).toEqual([]);
      expect(await page.evaluate(() => document.documentElement.scrollWidth)).toBeLessThanOrEqual(
        PHONE.width,
      );
      await snap(page, "wallet-1-signed-phone");
    });
  });

  it("Active Card MPC wallet with a recovery passphrase: 2-of-3, the downloaded kit opens with the passphrase only (desktop)", async () => {
    await harness.withPage("wallet-recovery", DESKTOP, async (page) => {
      await page.goto("/");
      await page.click("#tab-card");
      const { cards } = (await (await fetch(`${harness.url}/dev/cards`)).json()) as {
        cards: { name: string; qrPngBase64: string }[];
      };
      await page.setInputFiles("#card-qr-file", {
        name: `${CARD_NAME}.png`,
        mimeType: "image/png",
        buffer: Buffer.from(cards[0]!.qrPngBase64, "base64"),
      });
      await page.fill("#card-user", CARD_OWNER);
      await page.click("#card-pair");
      await shows(page.locator("#card-status"), new RegExp(`Paired with ${CARD_NAME}`));
      await page.selectOption("#wallet-suite", "ed25519");
      await page.fill("#wallet-recovery-passphrase", "correct horse battery");
      await page.click("#wallet-create");
      await shows(page.locator("#wallet-status"), /Wallet created \(2-of-3\); download its recovery kit/);
      expect(await page.inputValue("#wallet-recovery-passphrase")).toBe("");
      const href = (await page.getAttribute("#wallet-recovery-download", "href")) ?? "";
      const kit = Buffer.from(href.replace(/^data:application\/octet-stream;base64,/, ""), "base64");
      const publicKey = (await page.locator("#wallet-public-key").textContent()) ?? "";
      const opened = await openRecoveryKit(nodeCrypto, kit, { passphrase: "correct horse battery" });
      expect(toHex(opened.wallet.groupPublicKey)).toBe(publicKey);
      expect(opened.wallet.maxSigners).toBe(3);
      await expect(
        openRecoveryKit(nodeCrypto, kit, { passphrase: "wrong horse battery" }),
      ).rejects.toMatchObject({ code: "RECOVERY_KIT_LOCKED" });
      await snap(page, "wallet-2-recovery-desktop");
    });
  });

  it("admin: tables update live; revoking a key ends revoked once the vehicle confirms (desktop)", async () => {
    await harness.withPage("admin", DESKTOP, async (page) => {
      await page.goto("/");
      await page.click("#tab-admin");
      await signIn(page, "admin", "erin");
      await shows(page.locator("#admin-live"), /Live/);
      await shows(page.locator("#audit-chain"), /Hash chain intact \(\d+ entries verified\)/);
      const sessions = page.locator("#admin-session tbody tr");
      const before = await sessions.count();
      expect(before).toBeGreaterThan(0);

      // A change made elsewhere (alice's app asks for a password) appears without a reload.
      const { token } = (await (
        await fetch(`${harness.url}/dev/token`, {
          method: "POST",
          headers: { "content-type": "application/json" },
          body: JSON.stringify({ userId: "alice" }),
        })
      ).json()) as { token: string };
      const request = await fetch(`${harness.url}/pairing/password/request`, {
        method: "POST",
        headers: { "content-type": "application/json", authorization: `Bearer ${token}` },
        body: JSON.stringify({
          vehicleId: ALICE_CAR.id,
          replaceExisting: true,
          deviceInfo: { platform: "node", model: "test", appVersion: "1" },
        }),
      });
      expect(request.status).toBe(200);
      await page.waitForFunction(
        (n) => document.querySelectorAll("#admin-session tbody tr").length > n,
        before,
        { timeout: STEP_TIMEOUT_MS },
      );

      const active = page.locator("#admin-key tbody tr", {
        has: page.locator('td[data-column="state"]', { hasText: /^active$/ }),
      });
      const keyId = await active.first().getAttribute("data-id");
      expect(keyId).toMatch(/^[0-9a-f-]{36}$/);
      await snap(page, "admin-1-tables-desktop");
      await active.first().locator("button.revoke").click();
      const state = page.locator(`#admin-key tr[data-id="${keyId}"] td[data-column="state"]`);
      await shows(state, /^revoked$/);
      await shows(page.locator("#admin-status"), /revoked: the vehicle confirmed/);
      await shows(page.locator("#audit-chain"), /Hash chain intact/);
      await snap(page, "admin-2-revoked-desktop");
    });
  });

  it("Web Bluetooth: chooser, connect, discovery, subscription and the first frames reach an emulated vehicle (desktop)", async () => {
    await harness.withPage("web-bluetooth", DESKTOP, async (page, context) => {
      const bt = await harness.browser.newBrowserCDPSession();
      const address = "09:09:09:09:09:09";
      const writes: Buffer[] = [];
      await bt.send("BluetoothEmulation.enable", { state: "powered-on", leSupported: true });
      try {
        const advertised = pairkitManufacturerData(
          DeviceKind.VEHICLE,
          vehicleAdvertisementHash(nodeCrypto, ALICE_CAR.id),
        );
        await bt.send("BluetoothEmulation.simulatePreconnectedPeripheral", {
          address,
          name: "PK-VEHICLE",
          manufacturerData: [
            { key: advertised.companyId, data: Buffer.from(advertised.data).toString("base64") },
          ],
          knownServiceUuids: [OWNER_PAIRING_SERVICE],
        });
        const { serviceId } = await bt.send("BluetoothEmulation.addService", {
          address,
          serviceUuid: OWNER_PAIRING_SERVICE,
        });
        const { characteristicId } = await bt.send("BluetoothEmulation.addCharacteristic", {
          serviceId,
          characteristicUuid: OWNER_COMMAND_CHARACTERISTIC,
          properties: { write: true, notify: true },
        });
        await bt.send("BluetoothEmulation.addDescriptor", { characteristicId, descriptorUuid: CCCD_UUID });
        // The test is the vehicle's GATT server: it accepts every operation.
        bt.on("BluetoothEmulation.gattOperationReceived", ({ type }) => {
          bt.send("BluetoothEmulation.simulateGATTOperationResponse", { address, type, code: 0 }).catch(
            () => {},
          );
        });
        bt.on("BluetoothEmulation.characteristicOperationReceived", (event) => {
          if (event.type === "write" && event.data) writes.push(Buffer.from(event.data, "base64"));
          bt.send("BluetoothEmulation.simulateCharacteristicOperationResponse", {
            characteristicId: event.characteristicId,
            type: event.type,
            code: 0,
          }).catch(() => {});
        });
        bt.on("BluetoothEmulation.descriptorOperationReceived", (event) => {
          bt.send("BluetoothEmulation.simulateDescriptorOperationResponse", {
            descriptorId: event.descriptorId,
            type: event.type,
            code: 0,
          }).catch(() => {});
        });
        const pageSession = await context.newCDPSession(page);
        await pageSession.send("DeviceAccess.enable");
        const chosen = new Promise<void>((resolve) => {
          const answered = new Set<string>();
          pageSession.on("DeviceAccess.deviceRequestPrompted", ({ id, devices }) => {
            const device = devices.find((d) => d.id === address);
            if (!device || answered.has(id)) return;
            answered.add(id);
            pageSession.send("DeviceAccess.selectPrompt", { id, deviceId: device.id }).catch(() => {});
            resolve();
          });
        });

        await page.goto("/");
        await page.click("#tab-phone");
        await signIn(page, "phone", "alice");
        await page.selectOption("#phone-transport", "web-bluetooth");
        const car = vehicle(page, ALICE_CAR.id);
        await car.locator("input.replace-existing").check();
        await car.locator("button.add-key").click();
        await shows(car.locator(".status"), /Pairing password issued/);
        await car.locator("button.start-pairing").click();
        await chosen;
        // LINK_PARAMS, then the whole SELECT command in 20-byte frames (the page cannot read the MTU).
        await expect.poll(() => writes.map((w) => w[1]).includes(1), { timeout: STEP_TIMEOUT_MS }).toBe(true);
        expect(writes[0]![1]).toBe(FrameType.LINK_PARAMS);
        expect(writes.every((w) => w[0] === 1 && w.length <= 20)).toBe(true);
        await snap(page, "web-bluetooth-1-select-sent-desktop");
        // The limit: BluetoothEmulation cannot notify, so the vehicle's SELECT response never comes.
        await bt.send("BluetoothEmulation.simulateGATTDisconnection", { address });
        await shows(car.locator(".status"), /connection to the vehicle was lost.*DISCONNECTED/);
        expect(await car.locator('.progress li[data-state="failed"]').getAttribute("data-phase")).toBe(
          "select",
        );
        await snap(page, "web-bluetooth-2-limit-desktop");
      } finally {
        await bt.send("BluetoothEmulation.disable").catch(() => {});
        await bt.detach().catch(() => {});
      }
    });
  });
});
