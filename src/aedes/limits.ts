/**
 * Per-node limits (settings `limits.*`), applied through aedes' hooks. Each refusal is
 * counted in `slotmq_limit_refused_total{limit}` and logged (at most one line per limit
 * every 10 s, with the number of refusals not logged since):
 * - connections: a CONNECT beyond `maxConnections` clients on this node gets CONNACK 0x03
 *   (server unavailable); a client taking over its own session on this node is let in.
 * - connection_rate: a new connection beyond `connectionRate` per second from one
 *   address is closed before its CONNECT is read (admitConnection).
 * - topic_length / topic_levels: a PUBLISH topic over the limit closes the connection
 *   (MQTT 3.1.1 has no way to refuse one PUBLISH, and acknowledging a message that is
 *   then dropped would lie to a QoS 1/2 publisher); a will over it is not published;
 *   a SUBSCRIBE filter over it gets return code 0x80.
 * - subscriptions: a filter beyond `maxSubscriptionsPerClient` gets 0x80 (re-subscribing
 *   to a filter already held does not count).
 * - publish_rate: PUBLISH packets beyond `publishRate` per second are handled later; while
 *   one waits aedes reads nothing more from that connection, so TCP pushes back on the
 *   client and nothing is lost. Counted per delayed packet.
 * - packet_size: counted here when `mqtt.maxPacketSize` closes a connection.
 * The hooks run before the access-control hooks they wrap (`next`).
 */
import type { Aedes, AedesOptions, Client } from 'aedes'
import type { Duplex } from 'node:stream'
import type { IncomingMessage } from 'node:http'
import type { Config } from '../config.js'
import type { Logger } from '../logger.js'
import type { BrokerMetrics } from '../metrics.js'
import { ConnectionRate, Gcra, LogThrottle } from '../listeners/rate.js'
import { topicLevels } from '../topics.js'
import { clientsOf } from './internals.js'

type Authenticate = NonNullable<AedesOptions['authenticate']>
type AuthorizePublish = NonNullable<AedesOptions['authorizePublish']>
type AuthorizeSubscribe = NonNullable<AedesOptions['authorizeSubscribe']>

const SERVER_UNAVAILABLE = 3
const LOG_INTERVAL_MS = 10_000

export type LimitName = 'connections' | 'connection_rate' | 'topic_length' | 'topic_levels' | 'subscriptions' |
'publish_rate' | 'packet_size' | 'inflight'

export interface Limits {
  /** Max connections, then `next`. */
  authenticate: (next: Authenticate) => Authenticate
  /** Topic limits and the publish rate, then `next`. */
  authorizePublish: (next: AuthorizePublish) => AuthorizePublish
  /** Topic limits and subscriptions per client, then `next`. */
  authorizeSubscribe: (next: AuthorizeSubscribe) => AuthorizeSubscribe
  /** The connection rate per address; false: the stream has been destroyed. */
  admitConnection: (stream: Duplex, req?: IncomingMessage) => boolean
  /** Counts and logs one refusal (also for limits enforced elsewhere). */
  refused: (limit: LimitName, fields: Record<string, unknown>) => void
}

export function createLimits (
  settings: Config['limits'],
  deps: { aedes: Aedes, metrics: BrokerMetrics, log: Logger }
): Limits {
  const log = deps.log.child({ module: 'limits' })
  const throttle = new LogThrottle(LOG_INTERVAL_MS)
  const refused = (limit: LimitName, fields: Record<string, unknown>): void => {
    deps.metrics.limitRefused.inc({ limit })
    const { log: now, suppressed } = throttle.take(limit)
    if (now) log.warn({ limit, ...fields, suppressed }, 'limit reached')
  }

  const admitted = new Set<Client>()
  const clients = clientsOf(deps.aedes)
  const connectionRate = settings.connectionRate > 0 ? new ConnectionRate(settings.connectionRate) : undefined
  const publishRates = new WeakMap<Client, Gcra>()
  /** Filters let through but not yet in client.subscriptions (a SUBSCRIBE in progress). */
  const pendingFilters = new WeakMap<Client, Set<string>>()
  deps.aedes.on('subscribe', (subs, client) => {
    const pending = pendingFilters.get(client)
    if (pending !== undefined) for (const s of subs) pending.delete(s.topic)
  })
  deps.aedes.on('connackSent', (_packet, client) => pendingFilters.delete(client))
  const countClosed = (_client: Client, err: Error): void => {
    if (/maximum packet size/.test(err.message)) deps.metrics.limitRefused.inc({ limit: 'packet_size' })
    else if (/topic has too many levels/.test(err.message)) deps.metrics.limitRefused.inc({ limit: 'topic_levels' })
  }
  deps.aedes.on('clientError', countClosed)
  deps.aedes.on('connectionError', countClosed)

  /** The limit a topic (or filter) breaks, if any. */
  const topicProblem = (topic: string): { limit: LimitName, max: number } | undefined => {
    if (settings.maxTopicLength > 0 && Buffer.byteLength(topic) > settings.maxTopicLength) {
      return { limit: 'topic_length', max: settings.maxTopicLength }
    }
    if (topicLevels(topic) > settings.maxTopicLevels) return { limit: 'topic_levels', max: settings.maxTopicLevels }
    return undefined
  }

  return {
    refused,
    authenticate: (next) => (client, username, password, done) => {
      const max = settings.maxConnections
      const takeover = client.id !== null && clients[client.id] !== undefined
      if (max > 0 && admitted.size >= max && !takeover) {
        refused('connections', { clientId: client.id, remote: remoteOf(client), max })
        return done(Object.assign(new Error('server unavailable: connection limit reached'), { returnCode: SERVER_UNAVAILABLE }), null)
      }
      admitted.add(client)
      client.conn.once('close', () => admitted.delete(client))
      next(client, username, password, done)
    },

    authorizePublish: (next) => (client, packet, callback) => {
      const problem = topicProblem(packet.topic)
      if (problem !== undefined) {
        const will = client !== null && packet === (client as { will?: unknown }).will
        refused(problem.limit, { clientId: client?.id, max: problem.max, will })
        return callback(new Error(`publish topic over a limit: ${problem.limit}`))
      }
      if (settings.publishRate === 0 || client === null || packet === (client as { will?: unknown }).will) {
        return next(client, packet, callback)
      }
      let rate = publishRates.get(client)
      if (rate === undefined) {
        rate = new Gcra(settings.publishRate)
        publishRates.set(client, rate)
      }
      const waitMs = rate.reserve(Date.now())
      if (waitMs === 0) return next(client, packet, callback)
      refused('publish_rate', { clientId: client.id, max: settings.publishRate, waitMs: Math.round(waitMs) })
      setTimeout(() => {
        // The client is busy publishing; its held packets must not make it look idle.
        ;(client as unknown as { _keepaliveTimer?: NodeJS.Timeout | null })._keepaliveTimer?.refresh()
        next(client, packet, callback)
      }, waitMs)
    },

    authorizeSubscribe: (next) => (client, sub, callback) => {
      const problem = topicProblem(sub.topic)
      if (problem !== undefined) {
        refused(problem.limit, { clientId: client.id, max: problem.max, filter: 'subscribe' })
        return callback(null, null)
      }
      const max = settings.maxSubscriptionsPerClient
      if (max > 0) {
        const held = (client as unknown as { subscriptions: Record<string, unknown> }).subscriptions
        let pending = pendingFilters.get(client)
        if (pending === undefined) {
          pending = new Set()
          pendingFilters.set(client, pending)
        }
        if (!(sub.topic in held) && !pending.has(sub.topic)) {
          let count = Object.keys(held).length
          for (const f of pending) if (!(f in held)) count++
          if (count >= max) {
            refused('subscriptions', { clientId: client.id, max })
            return callback(null, null)
          }
          pending.add(sub.topic)
        }
      }
      next(client, sub, callback)
    },

    admitConnection: (stream, req) => {
      if (connectionRate === undefined) return true
      const address = req?.socket.remoteAddress ?? (stream as { remoteAddress?: string }).remoteAddress
      if (address === undefined || connectionRate.admit(address)) return true
      refused('connection_rate', { remote: address, max: settings.connectionRate })
      stream.destroy()
      req?.socket.destroy()
      return false
    }
  }
}

function remoteOf (client: Client): string | undefined {
  return client.req?.socket.remoteAddress ?? (client.conn as { remoteAddress?: string }).remoteAddress
}
