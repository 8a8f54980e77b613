import QRCode from "qrcode";

/** The card's QR code as a PNG (the display of a real card; the phone scans it). */
export async function renderQrPng(text: string, options: { scale?: number } = {}): Promise<Uint8Array> {
  const png = await QRCode.toBuffer(text, {
    type: "png",
    errorCorrectionLevel: "M",
    margin: 4,
    scale: options.scale ?? 4,
  });
  return new Uint8Array(png.buffer, png.byteOffset, png.length);
}

/** The card's QR code as text for a terminal (two modules per character cell). */
export function renderQrTerminal(text: string): Promise<string> {
  return QRCode.toString(text, { type: "terminal", small: true, errorCorrectionLevel: "M" });
}
