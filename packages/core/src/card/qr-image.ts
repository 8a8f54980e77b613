import jsQRModule from "jsqr";
import { QrCodeError } from "./errors.ts";

// jsqr is a CommonJS bundle flagged __esModule: Node hands the default import the exports
// object, bundlers hand it `exports.default`. Both carry the function at `.default`.
const jsQR = ((jsQRModule as { default?: unknown }).default ?? jsQRModule) as typeof jsQRModule.default;

/**
 * Finds and decodes a QR code in RGBA pixels (a canvas's ImageData in a browser, a decoded
 * PNG on Node via `readQrFromPng`) and returns its text.
 */
export function decodeQrFromRgba(
  rgba: Uint8Array | Uint8ClampedArray,
  width: number,
  height: number,
): string {
  if (!Number.isInteger(width) || !Number.isInteger(height) || width <= 0 || height <= 0) {
    throw new QrCodeError("QR_IMAGE_INVALID", "image dimensions must be positive integers");
  }
  if (rgba.length !== width * height * 4) {
    throw new QrCodeError(
      "QR_IMAGE_INVALID",
      `expected ${width * height * 4} RGBA bytes, got ${rgba.length}`,
    );
  }
  const pixels = new Uint8ClampedArray(rgba.buffer, rgba.byteOffset, rgba.length);
  const code = jsQR(pixels, width, height, { inversionAttempts: "attemptBoth" });
  if (!code) throw new QrCodeError("QR_NOT_FOUND", "no QR code found in the image");
  return code.data;
}
