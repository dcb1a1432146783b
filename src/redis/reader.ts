/** Reads the binary encodings of frames and stored packets; a short buffer is a typed error. */
import { BrokerError, ERR } from '../errors.js'

export function malformed (what: string, why: string): BrokerError {
  return new BrokerError(ERR.FRAME, `malformed ${what}: ${why}`)
}

export class BinaryReader {
  readonly #buf: Buffer
  readonly #what: string
  #o = 0
  /** Where the last `repeatedStr` was read, and its value. */
  #lastAt = -1
  #lastLength = 0
  #last = ''
  constructor (buf: Buffer, what: string) {
    this.#buf = buf
    this.#what = what
  }

  get done (): boolean { return this.#o >= this.#buf.length }
  #need (n: number): number {
    const at = this.#o
    if (at + n > this.#buf.length) throw malformed(this.#what, 'truncated')
    this.#o += n
    return at
  }

  u8 (): number { return this.#buf.readUInt8(this.#need(1)) }
  u16 (): number { return this.#buf.readUInt16BE(this.#need(2)) }
  u32 (): number { return this.#buf.readUInt32BE(this.#need(4)) }
  f64 (): number { return this.#buf.readDoubleBE(this.#need(8)) }
  bytes (n: number): Buffer { const at = this.#need(n); return this.#buf.subarray(at, at + n) }
  str (n: number): string { const at = this.#need(n); return this.#buf.toString('utf8', at, at + n) }
  /**
   * A string that usually repeats the previous one read this way (every publish in a frame
   * names the same broker): equal bytes give the same string without decoding it again.
   */
  repeatedStr (n: number): string {
    const at = this.#need(n)
    const buf = this.#buf
    if (n !== this.#lastLength || this.#lastAt < 0 || buf.compare(buf, this.#lastAt, this.#lastAt + n, at, at + n) !== 0) {
      this.#last = buf.toString('utf8', at, at + n)
      this.#lastLength = n
    }
    this.#lastAt = at
    return this.#last
  }
}
