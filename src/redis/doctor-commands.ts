/**
 * Every command slotmq sends, directly or from its Lua scripts (docs/managed-redis.md,
 * "The Redis user: permissions"), each with a harmless call that Redis refuses with
 * NOPERM when the user may not run it. Redis checks the ACL before it looks at the
 * connection's state or the slot, so "EXEC without MULTI" or MOVED mean allowed.
 */
import { Cluster, Redis } from 'ioredis'

export interface CommandCheck {
  /** The ACL rule that allows it, e.g. `+hget` or `+cluster|slots`. */
  acl: string
  /** Only needed when this holds (cluster mode, or a server without SPUBLISH). */
  when?: (server: { mode: 'cluster' | 'single', sharded: boolean }) => boolean
  run: (client: Cluster | Redis, tag: string) => Promise<unknown>
}

/** Replies that show the command itself was allowed. */
const ALLOWED_ERROR = /MOVED|ASK|without MULTI|NOSCRIPT/

const key = (tag: string, kind: string): string => `${tag}:${kind}`

/** A command that needs one connection (no key to route by). */
function onOneServer (client: Cluster | Redis): Redis {
  if (!(client instanceof Cluster)) return client
  const server = client.nodes('master')[0]
  if (server === undefined) throw new Error('no primary connected')
  return server
}

async function allowed (work: Promise<unknown>): Promise<unknown> {
  try {
    return await work
  } catch (err) {
    if (ALLOWED_ERROR.test((err as Error).message)) return undefined
    throw err
  }
}

/** Subscribe commands on a connection of their own (it enters subscriber mode). */
async function subscribeCheck (client: Cluster | Redis, channel: string, sharded: boolean): Promise<void> {
  const server = onOneServer(client)
  const conn = server.duplicate({ lazyConnect: true, maxRetriesPerRequest: 0, retryStrategy: () => null })
  conn.on('error', () => {})
  try {
    await conn.connect()
    if (sharded) {
      await allowed(conn.ssubscribe(channel))
      await allowed(conn.sunsubscribe(channel))
    } else {
      await conn.subscribe(channel)
      await conn.unsubscribe(channel)
    }
  } finally {
    conn.disconnect()
  }
}

const cluster: CommandCheck['when'] = (s) => s.mode === 'cluster'
const sharded: CommandCheck['when'] = (s) => s.sharded
const classic: CommandCheck['when'] = (s) => !s.sharded

const c = (acl: string, run: CommandCheck['run'], when?: CommandCheck['when']): CommandCheck => ({ acl, run, ...(when === undefined ? {} : { when }) })

export const NEEDED_COMMANDS: readonly CommandCheck[] = [
  c('+ping', async (r) => await r.ping()),
  c('+hello', async (r) => await onOneServer(r).call('HELLO', '2')),
  c('+client|setname', async (r) => await onOneServer(r).call('CLIENT', 'SETNAME', 'slotmq:doctor')),
  c('+info', async (r) => await r.info('server')),
  c('+time', async (r) => await r.time()),
  c('+command|info', async (r) => await r.call('COMMAND', 'INFO', 'GET')),
  c('+readonly', async (r) => await allowed(onOneServer(r).call('READONLY')), cluster),
  c('+readwrite', async (r) => await allowed(onOneServer(r).call('READWRITE')), cluster),
  c('+cluster|slots', async (r) => await onOneServer(r).call('CLUSTER', 'SLOTS'), cluster),
  c('+cluster|shards', async (r) => await onOneServer(r).call('CLUSTER', 'SHARDS'), cluster),
  c('+cluster|info', async (r) => await onOneServer(r).call('CLUSTER', 'INFO'), cluster),
  c('+set', async (r, t) => await r.set(key(t, 's'), '1', 'PX', 60_000)),
  c('+get', async (r, t) => await r.get(key(t, 's'))),
  c('+mget', async (r, t) => await r.mget(key(t, 's'))),
  c('+exists', async (r, t) => await r.exists(key(t, 's'))),
  c('+incr', async (r, t) => await r.incr(key(t, 's'))),
  c('+pttl', async (r, t) => await r.pttl(key(t, 's'))),
  c('+persist', async (r, t) => await r.persist(key(t, 's'))),
  c('+pexpire', async (r, t) => await r.pexpire(key(t, 's'), 60_000)),
  c('+hset', async (r, t) => { await r.hset(key(t, 'h'), 'f', '1'); await r.pexpire(key(t, 'h'), 60_000).catch(() => {}) }),
  c('+hget', async (r, t) => await r.hget(key(t, 'h'), 'f')),
  c('+hmget', async (r, t) => await r.hmget(key(t, 'h'), 'f')),
  c('+hgetall', async (r, t) => await r.hgetall(key(t, 'h'))),
  c('+hexists', async (r, t) => await r.hexists(key(t, 'h'), 'f')),
  c('+hincrby', async (r, t) => await r.hincrby(key(t, 'h'), 'n', 1)),
  c('+hlen', async (r, t) => await r.hlen(key(t, 'h'))),
  c('+hkeys', async (r, t) => await r.hkeys(key(t, 'h'))),
  c('+hdel', async (r, t) => await r.hdel(key(t, 'h'), 'f')),
  c('+sadd', async (r, t) => { await r.sadd(key(t, 'set'), 'm'); await r.pexpire(key(t, 'set'), 60_000).catch(() => {}) }),
  c('+srem', async (r, t) => await r.srem(key(t, 'set'), 'x')),
  c('+smembers', async (r, t) => await r.smembers(key(t, 'set'))),
  c('+sscan', async (r, t) => await r.sscan(key(t, 'set'), '0')),
  c('+zadd', async (r, t) => { await r.zadd(key(t, 'z'), 1, 'm'); await r.pexpire(key(t, 'z'), 60_000).catch(() => {}) }),
  c('+zscore', async (r, t) => await r.zscore(key(t, 'z'), 'm')),
  c('+zcard', async (r, t) => await r.zcard(key(t, 'z'))),
  c('+zrange', async (r, t) => await r.zrange(key(t, 'z'), '0', '-1')),
  c('+zrangebyscore', async (r, t) => await r.zrangebyscore(key(t, 'z'), '-inf', '+inf')),
  c('+zincrby', async (r, t) => await r.zincrby(key(t, 'z'), 1, 'm')),
  c('+zrem', async (r, t) => await r.zrem(key(t, 'z'), 'x')),
  c('+zpopmin', async (r, t) => await r.zpopmin(key(t, 'z'))),
  c('+xadd', async (r, t) => { await r.xadd(key(t, 'x'), 'MAXLEN', '10', '*', 'f', 'v'); await r.pexpire(key(t, 'x'), 60_000).catch(() => {}) }),
  c('+xrange', async (r, t) => await r.xrange(key(t, 'x'), '-', '+')),
  c('+xtrim', async (r, t) => await r.xtrim(key(t, 'x'), 'MAXLEN', '0')),
  c('+eval', async (r, t) => await r.eval('return 1', 1, key(t, 's'))),
  c('+evalsha', async (r, t) => await allowed(r.evalsha('e0e1f9fabfc9d4800c877a703b823ac0578ff8db', 1, key(t, 's')))),
  c('+multi', async (r) => { const s = onOneServer(r); await s.call('MULTI'); await s.call('DISCARD') }),
  c('+exec', async (r) => await allowed(onOneServer(r).call('EXEC'))),
  c('+discard', async (r) => await allowed(onOneServer(r).call('DISCARD'))),
  c('+del', async (r, t) => await r.del(key(t, 'gone'))),
  c('+spublish', async (r, t) => await r.spublish(key(t, 'ch'), ''), sharded),
  c('+ssubscribe +sunsubscribe', async (r, t) => await subscribeCheck(r, key(t, 'ch'), true), sharded),
  c('+publish', async (r, t) => await r.publish(key(t, 'ch'), ''), classic),
  c('+subscribe +unsubscribe', async (r, t) => await subscribeCheck(r, key(t, 'ch'), false), classic)
]
