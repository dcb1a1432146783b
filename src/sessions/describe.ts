/** What GET /sessions/<id> shows: a session as stored on Redis (no payloads). */
import type { Ownership } from './ownership.js'
import type { SessionContext } from './types.js'

export async function describeSession (ctx: SessionContext, owners: Ownership, clientId: string): Promise<Record<string, unknown> | undefined> {
  const { redis, keys, links } = ctx
  const k = keys.session(clientId)
  const [meta, subs, queued, incoming, will, ttl] = await Promise.all([
    redis.hgetall(k.meta),
    redis.hgetall(k.subs),
    redis.zcard(k.queue),
    redis.hlen(k.incoming),
    redis.exists(k.will),
    redis.pttl(k.meta)
  ])
  if (meta.owner === undefined) return undefined
  const owner = meta.owner
  return {
    clientId,
    owner,
    epoch: meta.epoch,
    persistent: meta.persistent === '1',
    connected: meta.parked !== '1',
    ...(owner === links.memberId() ? { connectedHere: owners.connected(clientId) !== undefined } : {}),
    expiresInMs: ttl > 0 ? ttl : null,
    subscriptions: Object.entries(subs).map(([topic, json]) => ({ topic, ...(JSON.parse(json) as object) })),
    queued,
    inboundQos2: incoming,
    will: will === 1
  }
}
