import { Command, CommanderError, Option } from "commander";
import { runAdminBootstrap } from "./admin.ts";
import {
  DEFAULT_ATT_MTU,
  envDefault,
  parseAttMtu,
  parseHttpUrl,
  parseModelName,
  parsePort,
  parsePositiveInteger,
  parseWsUrl,
} from "./args.ts";
import { runAuditVerify } from "./audit.ts";
import { type CardOptions, runCard } from "./card.ts";
import {
  type CardOnlyOptions,
  type CardPairOptions,
  runCardForget,
  runCardPair,
  runCardReconnect,
} from "./card-phone.ts";
import { runCryptoDemo } from "./crypto-demo.ts";
import { runDemo } from "./demo.ts";
import { EXIT, exitCodeFor } from "./exit-codes.ts";
import { type PairOptions, runPair } from "./pair.ts";
import { runRadio } from "./radio.ts";
import { runServe } from "./serve.ts";
import { runTrace } from "./trace.ts";
import { runUnlock, type UnlockOptions } from "./unlock.ts";
import { runVehicle, type VehicleOptions } from "./vehicle.ts";
import {
  parseHex,
  parseSuite,
  runWalletCreate,
  runWalletList,
  runWalletSign,
  runWalletVerify,
  type WalletCreateOptions,
  type WalletSignOptions,
  type WalletVerifyOptions,
} from "./wallet.ts";

/**
 * The `pairkit` command. Configuration comes from flags and the environment, read here at the
 * edge; errors end as one line on stderr and a documented exit code (exit-codes.ts).
 */
export function buildProgram(env: NodeJS.ProcessEnv, setExitCode: (code: number) => void): Command {
  const program = new Command("pairkit")
    .description("Secure BLE pairing of digital keys: owner pairing (SPAKE2+) and Active Card pairing")
    .exitOverride()
    .showHelpAfterError();

  program
    .command("crypto-demo")
    .description("run one SPAKE2+ owner-pairing key agreement per crypto back-end, with timings")
    .action(() => runCryptoDemo(process.stdout));

  const serveCommand = (name: string, description: string) =>
    program
      .command(name)
      .description(description)
      .option("--port <port>", "HTTP port (env PORT, default 8080)", parsePort)
      .option("--radio-port <port>", "WebSocket radio port (default 8081)", parsePort)
      .option("--state-dir <dir>", "fleet and card state (env PAIRKIT_STATE_DIR, default .pairkit)")
      .action((options: { port?: number; radioPort?: number; stateDir?: string }) =>
        runServe(env, options, process.stdout),
      );
  serveCommand(
    "serve",
    "run the pairing backend, embedded broker, WebSocket radio, simulated fleet and Active Card on embedded defaults",
  );
  serveCommand("start", "the main job on embedded defaults (same as serve)");

  program
    .command("radio")
    .description("run the WebSocket radio (simulated BLE air, docs/radio.md) on its own")
    .option("--port <port>", "port", parsePort, 8081)
    .option("--host <host>", "interface", "127.0.0.1")
    .option("--interval <ms>", "BLE connection interval in ms", parsePort, 30)
    .action((o: { port: number; host: string; interval: number }) =>
      runRadio({ port: o.port, host: o.host, intervalMs: o.interval }, process.stdout),
    );

  program
    .command("card")
    .description("run the Active Card simulator on a WebSocket radio; shows its QR code")
    .requiredOption("--radio <url>", "WebSocket radio URL, e.g. ws://127.0.0.1:8081")
    .option("--state <file>", "the card's flash (identity key, paired phones)", "card-state.json")
    .option("--name <name>", "device name in the QR code", "AC-Card")
    .option("--owner <user>", "owner shown in the QR code", "")
    .option("--firmware <version>", "firmware version in the QR code", "1.0.0")
    .option("--qr-png <file>", "also write the QR code as PNG")
    .option("--daily-limit <n>", "most MPC signatures per wallet per UTC day", parsePositiveInteger)
    .action((o: CardOptions) => runCard(o, process.stdout));

  program
    .command("audit")
    .description("audit log commands")
    .command("verify")
    .description("verify the hash chain of the audit log (DATABASE_URL or the embedded database)")
    .action(async () => setExitCode(await runAuditVerify(env, process.stdout)));

  program
    .command("admin")
    .description("administration commands")
    .command("bootstrap")
    .description(
      "create the first administrator in the configured database (DATABASE_URL or the embedded one); refused once one exists",
    )
    .requiredOption("--id <sub>", "the administrator's user id: the sub of their identity provider's tokens")
    .requiredOption("--email <address>", "the administrator's e-mail")
    .requiredOption("--name <display name>", "the administrator's display name")
    .action(async (o: { id: string; email: string; name: string }) =>
      setExitCode(
        await runAdminBootstrap(env, { id: o.id, email: o.email, displayName: o.name }, process.stdout),
      ),
    );

  program
    .command("demo")
    .description("run every flow once in one process on embedded defaults, with live progress and a summary")
    .option("--json", "print exactly one JSON document: scenarios, outcomes, phase timings, frame traces")
    .option(
      "--scrypt-n <N>",
      "scrypt cost of pairing passwords (env SCRYPT_N; default the production 32768)",
      parsePositiveInteger,
      envDefault(env, "SCRYPT_N", parsePositiveInteger),
    )
    .action(async (o: { json?: boolean; scryptN?: number }) =>
      setExitCode(
        await runDemo(
          { json: o.json === true, ...(o.scryptN === undefined ? {} : { scryptN: o.scryptN }) },
          process.stdout,
        ),
      ),
    );

  const serverOption = () =>
    new Option("--server <url>", "pairing server (env PAIRKIT_SERVER_URL)")
      .argParser(parseHttpUrl)
      .default(envDefault(env, "PAIRKIT_SERVER_URL", parseHttpUrl) ?? "http://127.0.0.1:8080");
  const mtuOption = () =>
    new Option("--mtu <bytes>", "ATT MTU the phone offers; the link uses the smaller of both offers")
      .argParser(parseAttMtu)
      .default(DEFAULT_ATT_MTU);
  const radioOption = () =>
    new Option("--radio <url>", "WebSocket radio (env PAIRKIT_RADIO_URL)")
      .argParser(parseWsUrl)
      .default(envDefault(env, "PAIRKIT_RADIO_URL", parseWsUrl) ?? "ws://127.0.0.1:8081");

  program
    .command("pair")
    .description(
      "the phone side: request a pairing password, pair with a vehicle over the radio, optionally unlock",
    )
    .requiredOption("--vehicle <id>", "vehicle to pair with, e.g. VH-DEMO-1")
    .addOption(serverOption())
    .addOption(radioOption())
    .addOption(mtuOption())
    .option("--user <id>", "seeded user to get a development token for (otherwise env PAIRKIT_TOKEN)")
    .option("--store <file>", "the phone's secure element file, encrypted at rest", "phone-se.json")
    .option("--device-id <id>", "this phone's device id (SPAKE2+ idProver)", "pairkit-cli")
    .option("--unlock", "unlock the vehicle with the new key", false)
    .option("--replace-existing", "replace the vehicle's current owner key", false)
    .option("--trust-anchor <file>", "carmaker root certificate (DER); default: GET /dev/trust-anchors")
    .option("--trace <file>", "write the frame trace of this run (read it with pairkit trace)")
    .action(async (o: PairOptions) => setExitCode(await runPair(o, env, process.stdout)));

  program
    .command("unlock")
    .description("the standard transaction with the key pairkit pair kept for a vehicle")
    .requiredOption("--vehicle <id>", "vehicle to open, e.g. VH-DEMO-1")
    .addOption(serverOption())
    .addOption(radioOption())
    .addOption(mtuOption())
    .option("--store <file>", "the phone's secure element file that pairkit pair filled", "phone-se.json")
    .option("--trust-anchor <file>", "carmaker root certificate (DER); default: GET /dev/trust-anchors")
    .action(async (o: UnlockOptions) => setExitCode(await runUnlock(o, env, process.stdout)));

  const cardStoreOption = () =>
    new Option("--store <file>", "the phone's paired cards, encrypted at rest").default("phone-cards.json");
  program
    .command("card-pair")
    .description(
      "the phone side of Active Card pairing: pair with a card on the radio from its QR code, bind a user",
    )
    .requiredOption("--qr <file>", "the card's QR code: a PNG image, or a file with its JSON text")
    .requiredOption("--user <id>", "the user to bind (the card's owner, if its QR code names one)")
    .addOption(radioOption())
    .addOption(cardStoreOption())
    .action(async (o: CardPairOptions) => setExitCode(await runCardPair(o, env, process.stdout)));
  program
    .command("card-reconnect")
    .description("open an authenticated session with a card pairkit card-pair paired, without its QR code")
    .requiredOption("--card <deviceId>", "the card's device id (printed by card-pair)")
    .addOption(radioOption())
    .addOption(cardStoreOption())
    .action(async (o: CardOnlyOptions) => setExitCode(await runCardReconnect(o, env, process.stdout)));
  program
    .command("card-forget")
    .description("reconnect to a paired card and have it and this phone forget each other")
    .requiredOption("--card <deviceId>", "the card's device id (printed by card-pair)")
    .addOption(radioOption())
    .addOption(cardStoreOption())
    .action(async (o: CardOnlyOptions) => setExitCode(await runCardForget(o, env, process.stdout)));

  const wallet = program
    .command("wallet")
    .description(
      "MPC wallets held jointly by this phone and a card card-pair paired (FROST, docs/protocol.md §4.11)",
    );
  wallet
    .command("create")
    .description("run the distributed key generation with the card: a 2-of-2 wallet; prints its public key")
    .requiredOption("--card <deviceId>", "the card's device id (printed by card-pair)")
    .option("--suite <name>", "p256, secp256k1-taproot or ed25519", parseSuite, "p256")
    .option("--label <text>", "shown by the card (≤ 64 bytes)", "")
    .addOption(radioOption())
    .addOption(cardStoreOption())
    .action(async (o: WalletCreateOptions) => setExitCode(await runWalletCreate(o, env, process.stdout)));
  wallet
    .command("sign")
    .description("co-sign a message or a 32-byte digest with the wallet's card; prints the signature")
    .requiredOption("--wallet <id>", "the wallet id (hex, printed by wallet create)", parseHex)
    .option("--message <text>", "sign these UTF-8 bytes (≤ 512)")
    .option("--digest <hex>", "sign this 32-byte digest", parseHex)
    .addOption(radioOption())
    .addOption(cardStoreOption())
    .action(async (o: WalletSignOptions) => setExitCode(await runWalletSign(o, env, process.stdout)));
  wallet
    .command("verify")
    .description("check a signature offline with the chain's plain verifier; exit 0 valid, 1 invalid")
    .requiredOption("--suite <name>", "p256, secp256k1-taproot or ed25519", parseSuite)
    .requiredOption("--public-key <hex>", "BIP340 x-only, Ed25519 or SEC1 compressed key", parseHex)
    .requiredOption("--signature <hex>", "the signature", parseHex)
    .option("--message <text>", "the signed UTF-8 bytes")
    .option("--digest <hex>", "the signed 32-byte digest", parseHex)
    .action((o: WalletVerifyOptions) => setExitCode(runWalletVerify(o, process.stdout)));
  wallet
    .command("list")
    .description("the wallets this phone holds a share of, with their public keys")
    .addOption(cardStoreOption())
    .action(async (o: { store: string }) => setExitCode(await runWalletList(o, env, process.stdout)));

  program
    .command("vehicle")
    .description(
      "run one vehicle simulator: registers with a server (development mode), joins MQTT, advertises on a radio",
    )
    .requiredOption(
      "--id <vehicleId>",
      "a vehicle registered with the server: VH-DEMO-1..3, or one added with POST /admin/vehicles",
    )
    .addOption(
      new Option(
        "--model <name>",
        "the model it reports (default: the demo vehicle's, else its id)",
      ).argParser(parseModelName),
    )
    .addOption(serverOption())
    .addOption(radioOption())
    .option("--state <file>", "identity, carmaker CA and paired keys between runs", "vehicle-state.json")
    .option("--trust-anchor-out <file>", "write the carmaker root certificate (DER) for pairkit pair")
    .action((o: VehicleOptions) => runVehicle(o, process.stdout));

  program
    .command("trace")
    .description("decode a frame trace into a listing of every frame with its fields, or a Mermaid diagram")
    .argument("<file>", "a trace file (docs/trace.md)")
    .option("--mermaid", "print a Mermaid sequence diagram instead of the listing")
    .action((file: string, o: { mermaid?: boolean }) => runTrace(file, o, process.stdout));

  return program;
}

async function main(argv: readonly string[]): Promise<number> {
  let code: number = EXIT.OK;
  try {
    await buildProgram(process.env, (c) => {
      code = c;
    }).parseAsync(argv, { from: "user" });
    return code;
  } catch (error) {
    if (error instanceof CommanderError) {
      return error.exitCode === 0 ? EXIT.OK : EXIT.USAGE;
    }
    process.stderr.write(`pairkit: ${error instanceof Error ? error.message : String(error)}\n`);
    return exitCodeFor(error);
  }
}

process.exitCode = await main(process.argv.slice(2).length > 0 ? process.argv.slice(2) : ["start"]);
