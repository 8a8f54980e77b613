/** Subject and text of the RFC 5322 message the sink got (nodemailer writes quoted-printable text). */
export function readMessage(raw: string): { subject: string; body: string } {
  const split = raw.search(/\r?\n\r?\n/);
  const head = split < 0 ? raw : raw.slice(0, split);
  const text = split < 0 ? "" : raw.slice(split).replace(/^\s+/, "");
  const subject = /^subject:\s*(.*)$/im.exec(head)?.[1]?.trim() ?? "(no subject)";
  const quotedPrintable = /^content-transfer-encoding:\s*quoted-printable/im.test(head);
  const body = quotedPrintable
    ? decodeUtf8(
        text
          .replace(/=\r?\n/g, "")
          .replace(/=([0-9A-F]{2})/g, (_, hex: string) => String.fromCharCode(Number.parseInt(hex, 16))),
      )
    : text;
  return { subject, body: body.replace(/\r\n/g, "\n") };
}

/** Quoted-printable escapes are bytes: reassemble them as UTF-8. */
function decodeUtf8(binary: string): string {
  return new TextDecoder().decode(Uint8Array.from(binary, (c) => c.charCodeAt(0)));
}
