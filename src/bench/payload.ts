/**
 * Benchmark payloads, laid out as emqtt-bench does: an 8-byte sequence number, an 8-byte
 * timestamp, then padding up to the requested size. The timestamp is the send time in
 * epoch milliseconds as a float64, so latency keeps sub-millisecond precision.
 */
export const HEADER_BYTES = 16

/** Wall-clock milliseconds with sub-millisecond precision (monotonic within a process). */
export function nowMs (): number {
  return performance.timeOrigin + performance.now()
}

export function makePayload (seq: number, size: number): Buffer {
  const buf = Buffer.alloc(Math.max(size, HEADER_BYTES))
  buf.writeBigUInt64BE(BigInt(seq), 0)
  buf.writeDoubleBE(nowMs(), 8)
  return buf
}

export function readPayload (payload: Buffer): { seq: number, sentAtMs: number } | undefined {
  if (payload.length < HEADER_BYTES) return undefined
  return { seq: Number(payload.readBigUInt64BE(0)), sentAtMs: payload.readDoubleBE(8) }
}
