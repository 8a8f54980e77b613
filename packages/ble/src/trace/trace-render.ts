import type { DecodedMessage, DecodedTrace, TracePeer } from "./trace-decoder.ts";
import type { TraceDirection } from "./trace-format.ts";

/**
 * A readable listing of a decoded trace: one line per connection event and frame (time,
 * connection, direction, header), and under the frame that completes a message its decoded
 * fields.
 */
export function renderTraceListing(decoded: DecodedTrace): string {
  const { trace } = decoded;
  const lines = [
    `pairkit frame trace v${trace.version}${trace.label ? ` — ${trace.label}` : ""} — started ${trace.startedAt}`,
    `${"t (ms)".padStart(9)}  link  direction`,
  ];
  const pad = " ".repeat(17);
  for (const { event, frameError, message } of decoded.entries) {
    const at = event.t.toFixed(1).padStart(9);
    const peer = decoded.peers.get(event.link);
    const link = `#${event.link}`.padEnd(4);
    if (event.kind === "connect") {
      lines.push(`${at}  ${link}  connect to ${peer?.kind ?? "peripheral"} ${event.peer}`);
      continue;
    }
    if (event.kind === "disconnect") {
      lines.push(`${at}  ${link}  disconnect`);
      continue;
    }
    const arrow = arrowText(event.direction, peer);
    const h = event.header;
    const header = h
      ? `type 0x${hex(h.type)} seq ${h.seq}/${h.totalSeq} len ${h.payloadLength} flags 0x${hex(h.flags)}${h.version === 1 ? "" : ` version ${h.version}`}`
      : `${event.body.length / 2} bytes, no header`;
    lines.push(`${at}  ${link}  ${arrow.padEnd(18)} ${header}`);
    if (frameError) lines.push(`${pad}! frame rejected: ${frameError}`);
    if (message) {
      lines.push(`${pad}= ${messageTitle(message)}`);
      for (const [name, value] of Object.entries(message.fields)) {
        lines.push(`${pad}    ${name}: ${typeof value === "string" ? value : String(value)}`);
      }
      if (message.error) lines.push(`${pad}! not decoded: ${message.error}`);
    }
  }
  return `${lines.join("\n")}\n`;
}

/** A Mermaid sequence diagram: the phone and each peer, one arrow per message, connections as notes. */
export function renderTraceMermaid(decoded: DecodedTrace): string {
  const ids = new Map<string, string>();
  const lines = ["sequenceDiagram", "  participant phone as Phone"];
  const participant = (peer: TracePeer | undefined): string => {
    const key = peer?.peer ?? "peripheral";
    let id = ids.get(key);
    if (!id) {
      id = `p${ids.size + 1}`;
      ids.set(key, id);
      lines.push(`  participant ${id} as ${label(`${peer?.kind ?? "peripheral"} ${key}`)}`);
    }
    return id;
  };
  // Participants first, in order of appearance, so Mermaid lays them out left to right.
  for (const peer of decoded.peers.values()) participant(peer);
  for (const { event, frameError, message } of decoded.entries) {
    const id = participant(decoded.peers.get(event.link));
    if (event.kind === "connect") lines.push(`  Note over phone,${id}: connect (link ${event.link})`);
    else if (event.kind === "disconnect")
      lines.push(`  Note over phone,${id}: disconnect (link ${event.link})`);
    else {
      const [from, to] = event.direction === "central-to-peripheral" ? ["phone", id] : [id, "phone"];
      if (frameError) lines.push(`  Note over ${from},${to}: rejected frame ${label(frameError)}`);
      if (message) lines.push(`  ${from}->>${to}: ${label(messageTitle(message))}`);
    }
  }
  return `${lines.join("\n")}\n`;
}

function messageTitle(message: DecodedMessage): string {
  const parts = [message.name];
  const f = message.fields;
  if (message.sealed)
    parts.push(`sealed (${message.sealed}) counter ${f.counter}, ${f.ciphertextLength} bytes`);
  else if (f.attemptRemaining !== undefined) parts.push(`attemptRemaining ${f.attemptRemaining}`);
  else if (f.errorCode !== undefined) parts.push(String(f.errorCode));
  else if (f.maxFrameSize !== undefined) parts.push(`maxFrameSize ${f.maxFrameSize}`);
  if (message.frames > 1) parts.push(`[${message.frames} frames]`);
  return parts.join(" ");
}

function arrowText(direction: TraceDirection, peer: TracePeer | undefined): string {
  const kind = peer?.kind ?? "peripheral";
  return direction === "central-to-peripheral" ? `phone → ${kind}` : `${kind} → phone`;
}

/** Mermaid treats `;` and `#` as syntax and a newline as the end of the statement. */
function label(text: string): string {
  return text.replace(/[;#\n\r]/g, " ");
}

function hex(byte: number): string {
  return byte.toString(16).padStart(2, "0");
}
