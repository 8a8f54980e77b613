import { writeFile } from "node:fs/promises";
import { PNG } from "pngjs";

const WIDTH = 640;
const HEIGHT = 480;

/**
 * A camera feed for Chromium's fake capture device (`--use-file-for-fake-video-capture`): one
 * Y4M frame, 640×480 grey-scale, the PNG centred on white as if the card's display filled part
 * of the view. Chromium loops the file, so the page sees the code in every frame.
 */
export async function writeCameraFeed(png: Uint8Array, path: string): Promise<void> {
  const image = PNG.sync.read(Buffer.from(png));
  if (image.width > WIDTH || image.height > HEIGHT) throw new Error("the QR image is larger than the frame");
  const luma = Buffer.alloc(WIDTH * HEIGHT, 255);
  const left = Math.floor((WIDTH - image.width) / 2);
  const top = Math.floor((HEIGHT - image.height) / 2);
  for (let y = 0; y < image.height; y++) {
    for (let x = 0; x < image.width; x++) {
      const i = 4 * (y * image.width + x);
      const grey = Math.round((image.data[i]! + image.data[i + 1]! + image.data[i + 2]!) / 3);
      luma[(top + y) * WIDTH + left + x] = grey;
    }
  }
  const chroma = Buffer.alloc((WIDTH / 2) * (HEIGHT / 2), 128);
  await writeFile(
    path,
    Buffer.concat([
      Buffer.from(`YUV4MPEG2 W${WIDTH} H${HEIGHT} F5:1 Ip A1:1 C420jpeg\nFRAME\n`),
      luma,
      chroma,
      chroma,
    ]),
  );
}
