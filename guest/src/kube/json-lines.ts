/** Splits a watch stream (one JSON object per line, in arbitrary chunks) into parsed objects. */
export class JsonLines {
  readonly #maxLineBytes: number;
  #pending: Buffer[] = [];
  #pendingBytes = 0;

  constructor(maxLineBytes: number) {
    this.#maxLineBytes = maxLineBytes;
  }

  push(chunk: Buffer): unknown[] {
    const out: unknown[] = [];
    let start = 0;
    for (let newline = chunk.indexOf(10); newline !== -1; newline = chunk.indexOf(10, start)) {
      const line = Buffer.concat([...this.#pending, chunk.subarray(start, newline)]);
      this.#pending = [];
      this.#pendingBytes = 0;
      start = newline + 1;
      const text = line.toString("utf8").trim();
      if (text !== "") out.push(JSON.parse(text));
    }
    const rest = chunk.subarray(start);
    this.#pendingBytes += rest.length;
    if (this.#pendingBytes > this.#maxLineBytes)
      throw new Error(`a watch event is longer than ${this.#maxLineBytes} bytes`);
    if (rest.length > 0) this.#pending.push(rest);
    return out;
  }
}
