import { MessageFormatError, WireReader, WireWriter } from "./wire.ts";

/**
 * DEVICE_CONFIG.mailbox: where the secure element lays out the key's mailboxes, as TLV
 * (tag u8, length u8, value). All four tags are required, once each, in ascending order;
 * unknown tags are rejected (a layout the phone does not understand must not be half-applied).
 */
export interface MailboxLayout {
  readonly privateMailbox: { readonly offset: number; readonly size: number };
  readonly confidentialMailbox: { readonly offset: number; readonly size: number };
  readonly signalingBitmapOffset: number;
  readonly keyAttestationOffset: number;
}

export const MailboxTag = {
  PRIVATE_MAILBOX: 0x01,
  CONFIDENTIAL_MAILBOX: 0x02,
  SIGNALING_BITMAP_OFFSET: 0x03,
  KEY_ATTESTATION_OFFSET: 0x04,
} as const;

const VALUE_LENGTH: Record<number, number> = { 1: 4, 2: 4, 3: 2, 4: 2 };

export function encodeMailbox(m: MailboxLayout): Uint8Array {
  const w = new WireWriter("mailbox");
  w.u8(MailboxTag.PRIVATE_MAILBOX).u8(4).u16(m.privateMailbox.offset).u16(m.privateMailbox.size);
  w.u8(MailboxTag.CONFIDENTIAL_MAILBOX)
    .u8(4)
    .u16(m.confidentialMailbox.offset)
    .u16(m.confidentialMailbox.size);
  w.u8(MailboxTag.SIGNALING_BITMAP_OFFSET).u8(2).u16(m.signalingBitmapOffset);
  w.u8(MailboxTag.KEY_ATTESTATION_OFFSET).u8(2).u16(m.keyAttestationOffset);
  return w.finish();
}

export function decodeMailbox(bytes: Uint8Array): MailboxLayout {
  const r = new WireReader(bytes, "mailbox");
  const values = new Map<number, WireReader>();
  let previous = 0;
  while (r.remaining > 0) {
    const tag = r.u8("tag");
    const length = r.u8("length");
    if (!(tag in VALUE_LENGTH)) r.fail(`unknown tag 0x${tag.toString(16)}`);
    if (tag <= previous) r.fail("tags must appear once each, in ascending order");
    if (length !== VALUE_LENGTH[tag])
      r.fail(`tag 0x${tag.toString(16)} must have length ${VALUE_LENGTH[tag]}`);
    values.set(tag, new WireReader(r.bytesOf(length, "value"), "mailbox"));
    previous = tag;
  }
  const get = (tag: number): WireReader => {
    const v = values.get(tag);
    if (!v) throw new MessageFormatError("mailbox", `tag 0x${tag.toString(16)} missing`);
    return v;
  };
  const priv = get(MailboxTag.PRIVATE_MAILBOX);
  const conf = get(MailboxTag.CONFIDENTIAL_MAILBOX);
  return {
    privateMailbox: { offset: priv.u16("offset"), size: priv.u16("size") },
    confidentialMailbox: { offset: conf.u16("offset"), size: conf.u16("size") },
    signalingBitmapOffset: get(MailboxTag.SIGNALING_BITMAP_OFFSET).u16("offset"),
    keyAttestationOffset: get(MailboxTag.KEY_ATTESTATION_OFFSET).u16("offset"),
  };
}
