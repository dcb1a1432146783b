/**
 * MQTT users kept in Redis, so that every node of one broker agrees on them: one hash
 * (user name -> password hash) and a version counter, both under the `{auth}` tag, so
 * one MULTI changes them together on any Redis Cluster. Managed Redis services have no
 * keyspace notifications, so nodes poll the version (one GET a second) and reload the
 * hash only when it changed.
 */
import type { RedisClient } from '../redis/client.js'
import type { KeySpace } from '../redis/keys.js'

export interface RedisUserSnapshot {
  version: string
  users: Map<string, string>
}

export class RedisUsers {
  readonly #redis: RedisClient
  readonly #keys: { users: string, version: string }

  constructor (redis: RedisClient, keys: KeySpace) {
    this.#redis = redis
    this.#keys = keys.auth()
  }

  /** The users and the version they belong to, read together. */
  async load (): Promise<RedisUserSnapshot> {
    const replies = await this.#redis.multi().get(this.#keys.version).hgetall(this.#keys.users).exec()
    const [version, users] = (replies ?? []).map(([err, value]) => { if (err !== null) throw err; return value }) as [string | null, Record<string, string>]
    return { version: version ?? '0', users: new Map(Object.entries(users)) }
  }

  async version (): Promise<string> {
    return await this.#redis.get(this.#keys.version) ?? '0'
  }

  /** Adds or replaces a user; true when the name is new. */
  async set (name: string, passwordHash: string): Promise<boolean> {
    const [added] = await this.#exec(this.#redis.multi().hset(this.#keys.users, name, passwordHash).incr(this.#keys.version))
    return added === 1
  }

  /** Removes a user; false when there was none of that name. */
  async remove (name: string): Promise<boolean> {
    const [removed] = await this.#exec(this.#redis.multi().hdel(this.#keys.users, name).incr(this.#keys.version))
    return removed === 1
  }

  async names (): Promise<string[]> {
    return (await this.#redis.hkeys(this.#keys.users)).sort()
  }

  async #exec (multi: ReturnType<RedisClient['multi']>): Promise<unknown[]> {
    const replies = await multi.exec()
    return (replies ?? []).map(([err, value]) => { if (err !== null) throw err; return value })
  }
}

/**
 * Polls the version every `intervalMs` and calls `onChange` with the new users when it
 * moved. Redis trouble is reported once per outage; the last users loaded stay in force.
 */
export function pollRedisUsers (store: RedisUsers, from: string, opts: {
  intervalMs: number
  onChange: (snapshot: RedisUserSnapshot) => void
  onError: (err: unknown, recovered: boolean) => void
}): { stop: () => void } {
  let current = from
  let failing = false
  let busy = false
  const timer = setInterval(() => {
    if (busy) return
    busy = true
    void (async () => {
      try {
        if (await store.version() !== current) {
          const snapshot = await store.load()
          current = snapshot.version
          opts.onChange(snapshot)
        }
        if (failing) opts.onError(undefined, true)
        failing = false
      } catch (err) {
        if (!failing) opts.onError(err, false)
        failing = true
      } finally {
        busy = false
      }
    })()
  }, opts.intervalMs)
  timer.unref()
  return { stop: () => clearInterval(timer) }
}
