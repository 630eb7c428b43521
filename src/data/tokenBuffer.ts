// A growable uint16 token array: documents are appended as they are tokenized, so memory is the token
// count x 2 bytes (about 30 MB for the Linux docs corpus), not the text plus a JS number[] per token.

export class TokenBuffer {
  private data: Uint16Array;
  private size = 0;

  constructor(initialCapacity = 1 << 16) {
    this.data = new Uint16Array(initialCapacity);
  }

  get length(): number {
    return this.size;
  }

  append(ids: ArrayLike<number>): void {
    this.reserve(this.size + ids.length);
    for (let i = 0; i < ids.length; i++) this.data[this.size + i] = ids[i];
    this.size += ids.length;
  }

  /** Moves the tokens from `start` on out of this buffer (used to carve a validation tail). */
  splitOff(start: number): TokenBuffer {
    const tail = new TokenBuffer(Math.max(1, this.size - start));
    tail.append(this.data.subarray(start, this.size));
    this.size = start;
    return tail;
  }

  /** The tokens as a view (no copy); valid until the next append. */
  view(): Uint16Array {
    return this.data.subarray(0, this.size);
  }

  private reserve(needed: number): void {
    if (needed <= this.data.length) return;
    let capacity = this.data.length * 2;
    while (capacity < needed) capacity *= 2;
    const grown = new Uint16Array(capacity);
    grown.set(this.data.subarray(0, this.size));
    this.data = grown;
  }
}

/** Little-endian bytes of the tokens, whatever the host byte order is. */
export function tokensToLittleEndianBytes(tokens: Uint16Array): Uint8Array {
  const bytes = new Uint8Array(tokens.length * 2);
  const view = new DataView(bytes.buffer);
  for (let i = 0; i < tokens.length; i++) view.setUint16(i * 2, tokens[i], true);
  return bytes;
}
