/**
 * Hostile MQTT input for the fuzz tests: a seeded random source, valid packets built with
 * mqtt-packet, mutations of them (flipped bits, inserted bytes, truncation, bad remaining
 * lengths, bad flags, ill-formed UTF-8, huge declared lengths) and one short-lived raw
 * TCP connection that sends a random mix of them. Connection n of seed s always sends the
 * same bytes, so a failure is replayed with FUZZ_SEED=s.
 */
import { connect as netConnect } from 'node:net'
import mqttPacket, { type Packet } from 'mqtt-packet'
import { uniformInt } from 'pure-rand/distribution/uniformInt'
import { xoroshiro128plus } from 'pure-rand/generator/xoroshiro128plus'

/** Seeded random choices (pure-rand's xoroshiro128+). */
export class Rng {
  readonly #gen: ReturnType<typeof xoroshiro128plus>

  constructor (seed: number) {
    this.#gen = xoroshiro128plus(seed)
  }

  /** An integer in [min, max], both included. */
  int (min: number, max: number): number {
    return uniformInt(this.#gen, min, max)
  }

  chance (p: number): boolean {
    return this.int(0, 9999) < p * 10000
  }

  pick<T> (items: readonly T[]): T {
    return items[this.int(0, items.length - 1)] as T
  }

  bytes (n: number): Buffer {
    return Buffer.from(Array.from({ length: n }, () => this.int(0, 255)))
  }

  word (): string {
    return this.int(0, 0xffffff).toString(36)
  }
}

/** The seed for this run: FUZZ_SEED if set, else a fresh one (always printed). */
export function fuzzSeed (): number {
  const fromEnv = process.env.FUZZ_SEED
  return fromEnv !== undefined && fromEnv !== '' ? Number(fromEnv) >>> 0 : Math.floor(Math.random() * 0xffffffff)
}

/** The seed of connection `n` of a run, so each connection can be replayed on its own. */
export function connectionSeed (runSeed: number, n: number): number {
  return (Math.imul(runSeed ^ 0x9e3779b9, 0x85ebca6b) + Math.imul(n, 0xc2b2ae35)) >>> 0
}

/** Two ASCII bytes in generated strings that `badUtf8` replaces after encoding. */
const MARK = 'QZ'

function topic (rng: Rng): string {
  return `fz/${rng.word()}${rng.chance(0.2) ? MARK : ''}/${rng.word()}`
}

export function validPacket (rng: Rng, clientId: string): Packet {
  const messageId = rng.int(1, 65535)
  const qos = rng.int(0, 2) as 0 | 1 | 2
  switch (rng.int(0, 9)) {
    case 0: return {
      cmd: 'connect',
      protocolId: rng.chance(0.9) ? 'MQTT' : 'MQIsdp',
      protocolVersion: 4,
      clean: rng.chance(0.7),
      clientId: rng.chance(0.1) ? '' : clientId,
      keepalive: rng.int(0, 60),
      ...(rng.chance(0.3) ? { will: { topic: topic(rng), payload: rng.bytes(rng.int(0, 20)), qos, retain: rng.chance(0.2) } } : {}),
      ...(rng.chance(0.2) ? { username: rng.word(), password: rng.bytes(4) } : {})
    }
    case 1:
    case 2:
    case 3: return {
      cmd: 'publish',
      topic: topic(rng),
      payload: rng.bytes(rng.int(0, 200)),
      qos,
      retain: rng.chance(0.1),
      dup: rng.chance(0.1),
      ...(qos > 0 ? { messageId } : {})
    }
    case 4: return { cmd: 'subscribe', messageId, subscriptions: [{ topic: rng.pick(['fz/#', '#', '+/+', topic(rng)]), qos }] }
    case 5: return { cmd: 'unsubscribe', messageId, unsubscriptions: [topic(rng)] }
    case 6: return { cmd: 'pingreq' }
    case 7: return { cmd: rng.pick(['puback', 'pubrec', 'pubrel', 'pubcomp'] as const), messageId }
    case 8: return { cmd: 'disconnect' }
    default: return { cmd: 'pingreq' }
  }
}

const MUTATIONS = ['flip', 'insert', 'truncate', 'badLength', 'overstatedLength', 'badFlags', 'badUtf8', 'hugeLength', 'random'] as const
export type Mutation = typeof MUTATIONS[number]

/** A copy of `packet` broken in one way. */
export function mutate (rng: Rng, packet: Buffer, how: Mutation = rng.pick(MUTATIONS)): Buffer {
  const out = Buffer.from(packet)
  switch (how) {
    case 'flip':
      for (let i = rng.int(1, 4); i > 0; i--) {
        const at = rng.int(0, out.length - 1)
        out[at] = (out[at] ?? 0) ^ (1 << rng.int(0, 7))
      }
      return out
    case 'insert': {
      const at = rng.int(0, out.length)
      return Buffer.concat([out.subarray(0, at), rng.bytes(rng.int(1, 16)), out.subarray(at)])
    }
    case 'truncate':
      return out.subarray(0, rng.int(1, Math.max(1, out.length - 1)))
    case 'badLength':
      // Five continuation bytes: a remaining length longer than MQTT allows [MQTT-2.2.3].
      return Buffer.concat([out.subarray(0, 1), Buffer.from([0xff, 0xff, 0xff, 0xff, rng.int(0, 255)]), out.subarray(2)])
    case 'overstatedLength':
      return Buffer.concat([out.subarray(0, 1), encodeLength(packet.length + rng.int(1, 2000)), out.subarray(2)])
    case 'badFlags':
      out[0] = ((out[0] ?? 0) & 0xf0) | rng.int(0, 15)
      return out
    case 'badUtf8':
      return badUtf8(rng, out)
    case 'hugeLength':
      // Declares up to 256 MiB and sends a few bytes: must not be buffered or waited for forever.
      return Buffer.concat([out.subarray(0, 1), encodeLength(rng.int(2_000_000, 268_435_455)), rng.bytes(rng.int(0, 32))])
    case 'random':
      return rng.bytes(rng.int(1, 64))
  }
}

function badUtf8 (rng: Rng, buf: Buffer): Buffer {
  const at = buf.indexOf(MARK)
  const bad = rng.pick([[0xc3, 0x28], [0xff, 0xfe], [0xed, 0xa0], [0x00, 0x41], [0xc0, 0xaf]])
  if (at < 0) {
    // No marked string in this packet: break the first string after the fixed header.
    const start = 2 + (buf.length > 4 ? 2 : 0)
    if (buf.length > start + 1) buf.set(bad, start)
    return buf
  }
  buf.set(bad, at)
  return buf
}

/** MQTT's variable-length remaining length (1 to 4 bytes). */
function encodeLength (n: number): Buffer {
  const out: number[] = []
  do {
    let b = n % 128
    n = Math.floor(n / 128)
    if (n > 0) b |= 0x80
    out.push(b)
  } while (n > 0 && out.length < 4)
  return Buffer.from(out)
}

/** What one fuzz connection sent and how it ended. */
export interface FuzzOutcome {
  bytes: number
  /** The broker closed the connection (rather than us, after the grace period). */
  closedByBroker: boolean
}

/** The bytes one fuzz connection sends, as the chunks it writes. */
export function fuzzScript (rng: Rng, clientId: string): Buffer[] {
  const gen = (p: Packet): Buffer => {
    try {
      return mqttPacket.generate(p)
    } catch {
      // A combination mqtt-packet refuses to encode (e.g. empty client id, clean 0): send noise instead.
      return rng.bytes(8)
    }
  }
  const packets: Buffer[] = []
  if (rng.chance(0.7)) packets.push(gen({ cmd: 'connect', protocolId: 'MQTT', protocolVersion: 4, clean: true, clientId, keepalive: 30 }))
  for (let i = rng.int(1, 6); i > 0; i--) {
    const valid = gen(validPacket(rng, clientId))
    packets.push(rng.chance(0.5) ? valid : mutate(rng, valid))
  }
  // Write in random fragments, so the parser sees packets split across reads too.
  const all = Buffer.concat(packets)
  const chunks: Buffer[] = []
  for (let at = 0; at < all.length;) {
    const n = rng.chance(0.5) ? all.length - at : rng.int(1, all.length - at)
    chunks.push(all.subarray(at, at + n))
    at += n
  }
  return chunks
}

/** Opens one TCP connection, writes the script, then waits up to `graceMs` for the broker to close it. */
export async function fuzzConnection (port: number, chunks: Buffer[], graceMs: number): Promise<FuzzOutcome> {
  const socket = netConnect(port, '127.0.0.1')
  socket.setNoDelay(true)
  let closedByUs = false
  let bytes = 0
  const closed = new Promise<void>(resolve => socket.on('close', () => resolve()))
  socket.on('error', () => {})
  socket.on('data', () => {})
  await new Promise<void>(resolve => socket.once('connect', resolve).once('error', resolve))
  for (const chunk of chunks) {
    if (socket.destroyed) break
    await new Promise<void>(resolve => socket.write(chunk, () => resolve()))
    bytes += chunk.length
  }
  const timer = setTimeout(() => {
    closedByUs = true
    socket.destroy()
  }, graceMs)
  await closed
  clearTimeout(timer)
  return { bytes, closedByBroker: !closedByUs }
}
