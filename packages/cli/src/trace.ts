import { decodeFrameTrace, parseFrameTrace, renderTraceListing, renderTraceMermaid } from "@pairkit/ble";
import { readArgumentFile } from "./args.ts";

/**
 * `pairkit trace FILE`: decodes a recorded frame trace (docs/trace.md) into a listing of every
 * frame with its decoded fields, or with `--mermaid` into a sequence diagram.
 */
export async function runTrace(
  file: string,
  options: { mermaid?: boolean },
  out: NodeJS.WritableStream,
): Promise<void> {
  const text = (await readArgumentFile(file, "FILE")).toString("utf8");
  const decoded = decodeFrameTrace(parseFrameTrace(text));
  out.write(options.mermaid ? renderTraceMermaid(decoded) : renderTraceListing(decoded));
}
