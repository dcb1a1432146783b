/**
 * Retained messages first, then live ones, and one copy per subscription.
 *
 * aedes 1.2.0 (lib/handlers/subscribe.js) registers a subscription before it writes the
 * SUBACK, and reads the retained store for it afterwards, while messages already flow to
 * it live. A retained PUBLISH in between is stored, then delivered live; if the store is
 * read after the write, the subscription got the message twice, live and retained (a
 * PUBLISH right after a wildcard SUBACK, or a QoS 0 retained PUBLISH followed by a
 * SUBSCRIBE in the same TCP write; across nodes the window is wider).
 *
 * Here the live deliveries of a subscription being set up (from its SUBSCRIBE until its
 * retained messages have been handed to the connection) are held, in order, and the
 * retained messages read for it are remembered by identity (`brokerId`, `brokerCounter`:
 * the same on a live copy, on every node, and in the retained store). Then the held
 * messages go out, except live copies of retained messages already sent, as Mosquitto
 * sends them: the retained messages at SUBSCRIBE, then what is published. What was read
 * stays remembered for READ_MEMORY_MS: the live copy of a message stored just before the
 * read may still be on its way from the publisher's node, and is dropped when it comes.
 */
import { finished, Readable } from 'node:stream'
import type { Aedes, Client } from 'aedes'
import type { Deliver, DeliverablePacket } from './internals.js'

/** How long the retained messages read for a subscription are remembered afterwards. */
const READ_MEMORY_MS = 30_000

interface Phase {
  /** SUBSCRIBEs for this filter whose retained messages are not all handed over yet. */
  reading: number
  /** Live deliveries held meanwhile, in order. */
  held: Array<{ packet: DeliverablePacket, deliver: Deliver }>
  /** Identities of the retained messages read (their live copy is dropped). */
  read: Set<string>
  expiry: NodeJS.Timeout | undefined
}

type RetainedSource = { createRetainedStreamCombi: (patterns: string[]) => Readable }
interface Subscribe { cmd?: string, subscriptions?: Array<{ topic: string }> }
interface ParserEvents { prependListener: (event: 'packet', listener: (packet: Subscribe) => void) => unknown }

export interface OncePerSubscription {
  /** Starts watching a client's SUBSCRIBE packets; call right after aedes creates the client. */
  onClient: (client: Client & { _parser: ParserEvents }) => void
  /** Wraps the live delivery of one subscription (`client`, `filter`). */
  live: (client: object, filter: string, deliver: Deliver) => Deliver
}

const noop = (): void => {}

export function installOncePerSubscription (aedes: Aedes, persistence: RetainedSource): OncePerSubscription {
  const phases = new WeakMap<object, Map<string, Phase>>()
  /** The SUBSCRIBE whose retained messages aedes is about to read (set by its 'subscribe' event). */
  let next: { client: object, filters: string[] } | undefined

  const phaseOf = (client: object, filter: string): Phase | undefined => phases.get(client)?.get(filter)

  const begin = (client: object, filter: string): void => {
    let byFilter = phases.get(client)
    if (byFilter === undefined) phases.set(client, byFilter = new Map())
    let phase = byFilter.get(filter)
    if (phase === undefined) byFilter.set(filter, phase = { reading: 0, held: [], read: new Set(), expiry: undefined })
    clearTimeout(phase.expiry)
    phase.expiry = undefined
    phase.reading++
  }

  const end = (client: object, filter: string): void => {
    const phase = phaseOf(client, filter)
    if (phase === undefined || --phase.reading > 0) return
    const held = phase.held.splice(0)
    for (const { packet, deliver } of held) {
      const id = packet.retain ? identity(packet) : undefined
      if (id === undefined || !phase.read.delete(id)) deliver(packet, noop)
    }
    phase.expiry = setTimeout(() => { if (phase.reading === 0) phases.get(client)?.delete(filter) }, READ_MEMORY_MS)
    phase.expiry.unref()
  }

  // aedes emits 'subscribe' and then, at once, reads the retained messages of the filters
  // it granted, in that order.
  aedes.on('subscribe', (subs, client) => {
    const granted: string[] = []
    for (const sub of subs) {
      // the granted QoS, 128 for a refused filter (aedes' typings know only 0 to 2)
      if ((sub.qos as number) === 128) end(client, sub.topic)
      else granted.push(sub.topic)
    }
    if (granted.length === 0) return
    next = { client, filters: granted }
    setImmediate(() => {
      // Not read after all (not expected of aedes 1.2.0): stop holding.
      if (next?.client !== client || next.filters !== granted) return
      next = undefined
      for (const filter of granted) end(client, filter)
    })
  })

  const combi = persistence.createRetainedStreamCombi.bind(persistence)
  persistence.createRetainedStreamCombi = (patterns) => {
    const link = next
    next = undefined
    if (link === undefined || link.filters.length !== patterns.length || link.filters.some((f, i) => f !== patterns[i])) {
      return combi(patterns)
    }
    const { client } = link
    const stream = Readable.from(readRemembering(client, patterns))
    let ended = false
    const endAll = (): void => {
      if (ended) return
      ended = true
      for (const filter of patterns) end(client, filter)
    }
    // aedes pipes the stream into a transform that hands each message to the connection
    // and takes the next once it is written: when that transform finishes, every
    // retained message is out, and the held ones follow. A stream that fails or is
    // destroyed (the connection closed) ends the holding at once.
    const pipe = stream.pipe.bind(stream)
    stream.pipe = <T extends NodeJS.WritableStream>(dest: T, opts?: { end?: boolean }): T => {
      // only its writable side: nothing reads what the transform passes on
      finished(dest, { readable: false }, endAll)
      return pipe(dest, opts)
    }
    stream.once('error', endAll)
    stream.once('close', () => { if (!stream.readableEnded) endAll() })
    return stream
  }

  async function * readRemembering (client: object, filters: string[]): AsyncGenerator<unknown> {
    for (const filter of filters) {
      const phase = phaseOf(client, filter)
      for await (const packet of combi([filter]) as AsyncIterable<DeliverablePacket>) {
        const id = identity(packet)
        if (phase !== undefined && id !== undefined) phase.read.add(id)
        yield packet
      }
    }
  }

  return {
    onClient (client) {
      client._parser.prependListener('packet', (packet) => {
        if (packet.cmd !== 'subscribe') return
        // aedes handles a filter repeated in one SUBSCRIBE once (the last one)
        for (const filter of new Set((packet.subscriptions ?? []).map(s => s.topic))) begin(client, filter)
      })
    },
    live (client, filter, deliver) {
      return (packet, cb) => {
        const phase = phaseOf(client, filter)
        if (phase === undefined) return deliver(packet, cb)
        if (phase.reading > 0) {
          phase.held.push({ packet, deliver })
          return cb()
        }
        const id = packet.retain ? identity(packet) : undefined
        if (id !== undefined && phase.read.delete(id)) return cb()
        deliver(packet, cb)
      }
    }
  }
}

function identity (packet: DeliverablePacket): string | undefined {
  const { brokerId, brokerCounter } = packet
  if (typeof brokerId !== 'string' || typeof brokerCounter !== 'number') return undefined
  return `${brokerCounter}@${brokerId}`
}
