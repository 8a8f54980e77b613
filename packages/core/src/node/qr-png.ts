import { PNG } from "pngjs";
import { QrCodeError } from "../card/errors.ts";
import { decodeQrFromRgba } from "../card/qr-image.ts";

/** Decodes a PNG (pngjs, Node only) and returns the text of the QR code in it. */
export function readQrFromPng(png: Uint8Array): string {
  let image: PNG;
  try {
    image = PNG.sync.read(Buffer.from(png.buffer, png.byteOffset, png.length));
  } catch (cause) {
    throw new QrCodeError("QR_IMAGE_INVALID", "not a readable PNG image", { cause });
  }
  return decodeQrFromRgba(image.data, image.width, image.height);
}
