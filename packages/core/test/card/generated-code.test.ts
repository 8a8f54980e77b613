import { execFileSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { expect, it } from "vitest";

const root = fileURLToPath(new URL("../../../../", import.meta.url));
const generated = "pairkit/activecard/v1/active_card_pb.ts";

it("the committed protobuf-es code is what `npm run proto:gen` produces from proto/", () => {
  const out = mkdtempSync(join(tmpdir(), "pairkit-proto-"));
  try {
    const template = readFileSync(join(root, "proto/buf.gen.yaml"), "utf8").replace(
      "out: packages/core/src/card/gen",
      `out: ${out}`,
    );
    const templatePath = join(out, "buf.gen.yaml");
    writeFileSync(templatePath, template);
    execFileSync(join(root, "node_modules/.bin/buf"), ["generate", "proto", "--template", templatePath], {
      cwd: root,
      stdio: "pipe",
    });
    expect(readFileSync(join(out, generated), "utf8")).toBe(
      readFileSync(join(root, "packages/core/src/card/gen", generated), "utf8"),
    );
  } finally {
    rmSync(out, { recursive: true, force: true });
  }
});
