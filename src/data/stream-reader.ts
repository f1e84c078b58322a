/**
 * Pulls exact byte counts out of a stream of chunks, so a format parser can say "give me the
 * next 512 bytes" or "skip 30 MB" without holding more than one chunk it does not need.
 */
export class ChunkReader {
  private chunk: Buffer = Buffer.alloc(0);
  private done = false;

  constructor(private readonly source: AsyncIterator<Buffer>) {}

  /** Bytes read so far (the stream position of the next byte). */
  position = 0;

  private async fill(): Promise<boolean> {
    while (this.chunk.length === 0) {
      if (this.done) return false;
      const next = await this.source.next();
      if (next.done) {
        this.done = true;
        return false;
      }
      this.chunk = next.value;
    }
    return true;
  }

  /**
   * Exactly `n` bytes, or fewer only if the stream ends first (the caller decides whether that
   * is a truncation).
   */
  async read(n: number): Promise<Buffer> {
    if (this.chunk.length >= n || !(await this.fill()) || this.chunk.length >= n) {
      const take = Math.min(n, this.chunk.length);
      const out = this.chunk.subarray(0, take);
      this.chunk = this.chunk.subarray(take);
      this.position += take;
      return out;
    }
    const out = Buffer.allocUnsafe(n);
    let got = 0;
    while (got < n && (await this.fill())) {
      const take = Math.min(n - got, this.chunk.length);
      this.chunk.copy(out, got, 0, take);
      this.chunk = this.chunk.subarray(take);
      got += take;
    }
    this.position += got;
    return got === n ? out : out.subarray(0, got);
  }

  /** Drop `n` bytes; returns how many were really there. */
  async skip(n: number): Promise<number> {
    let left = n;
    while (left > 0 && (await this.fill())) {
      const take = Math.min(left, this.chunk.length);
      this.chunk = this.chunk.subarray(take);
      left -= take;
    }
    this.position += n - left;
    return n - left;
  }
}
