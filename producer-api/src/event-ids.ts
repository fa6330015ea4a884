import { randomFillSync } from 'node:crypto';

/** Ids made per refill: one random fill and one string for all of them. */
const BLOCK = 256;
const HEX = Buffer.from('0123456789abcdef');
const random = Buffer.allocUnsafe(16 * BLOCK);
const text = Buffer.allocUnsafe(36 * BLOCK);
let block = '';
let next = BLOCK;

function refill(): void {
  randomFillSync(random);
  let out = 0;
  for (let id = 0; id < BLOCK; id += 1) {
    const r = id * 16;
    random[r + 6] = (random[r + 6]! & 0x0f) | 0x40; // version 4
    random[r + 8] = (random[r + 8]! & 0x3f) | 0x80; // variant 10xx (RFC 9562)
    for (let i = 0; i < 16; i += 1) {
      if (i === 4 || i === 6 || i === 8 || i === 10) text[out++] = 0x2d; // '-'
      const byte = random[r + i]!;
      text[out++] = HEX[byte >> 4]!;
      text[out++] = HEX[byte & 0x0f]!;
    }
  }
  block = text.toString('latin1', 0, 36 * BLOCK);
  next = 0;
}

/**
 * A random (version 4) UUID, as crypto.randomUUID makes them. That one builds its string by
 * concatenation, and the Avro encoder then flattens each: on the ingest path that cost more
 * than the rest of the encoding. These are slices of one flat string per 256 ids.
 */
export function newEventId(): string {
  if (next === BLOCK) refill();
  const start = next * 36;
  next += 1;
  return block.substring(start, start + 36);
}
