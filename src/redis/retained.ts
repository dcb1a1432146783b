/**
 * Retained messages on Redis: one key per topic, and an index partitioned by the topic's
 * first level, so a wildcard subscription reads only the partitions it can match and
 * never SCANs the keyspace. `#` and `+/…` read every partition (pipelined).
 *
 * Writes store the message, then bump the topic's score in its partition; deletes read
 * the score, delete the message, then unindex only if the score is unchanged
 * (retained-unindex.lua). A race can leave an index entry without a message, which
 * readers skip; it cannot leave a message without its index entry.
 */
import { Readable } from 'node:stream'
import { QlobberTrue } from 'qlobber'
import { TOPIC_MATCHING } from '../topics.js'
import type { RedisClient } from './client.js'
import { decodeRetained, encodeRetained } from './codec.js'
import { firstLevel, type KeySpace } from './keys.js'
import type { Scripts } from './scripts.js'

export type RetainedPacket = Record<string, unknown> & { topic: string, payload: Buffer }

/** Topics read from an index partition per round trip, and messages fetched at once. */
const PAGE = 500

export class RetainedStore {
  readonly #redis: RedisClient
  readonly #keys: KeySpace
  readonly #scripts: Scripts
  /** Partitions this node has already registered in the partition set. */
  readonly #knownPartitions = new Set<string>()

  constructor (redis: RedisClient, keys: KeySpace, scripts: Scripts) {
    this.#redis = redis
    this.#keys = keys
    this.#scripts = scripts
  }

  /** Stores a retained message; an empty payload deletes the topic's message. */
  async store (packet: RetainedPacket): Promise<void> {
    const level = firstLevel(packet.topic)
    const partition = this.#keys.retainedPartition(level)
    const key = this.#keys.retained(packet.topic)
    if (packet.payload.length === 0) {
      const score = await this.#redis.zscore(partition, packet.topic)
      await this.#redis.del(key)
      if (score !== null) await this.#scripts.retainedUnindex(partition, packet.topic, score)
      return
    }
    await this.#redis.set(key, encodeRetained(packet))
    const writes: Array<Promise<unknown>> = [this.#redis.zincrby(partition, 1, packet.topic)]
    if (!this.#knownPartitions.has(level)) {
      writes.push(this.#redis.sadd(this.#keys.retainedPartitions(), level).then(() => this.#knownPartitions.add(level)))
    }
    await Promise.all(writes)
  }

  /** Retained messages matching each pattern in turn, as an object-mode stream for aedes. */
  stream (patterns: string[]): Readable {
    return Readable.from(this.#matchAll(patterns))
  }

  /** Number of indexed retained topics, across all partitions. */
  async count (): Promise<number> {
    const partitions = await this.#redis.smembers(this.#keys.retainedPartitions())
    const sizes = await Promise.all(partitions.map(async p => await this.#redis.zcard(this.#keys.retainedPartition(p))))
    return sizes.reduce((a, b) => a + b, 0)
  }

  async * #matchAll (patterns: string[]): AsyncGenerator<RetainedPacket> {
    for (const pattern of patterns) yield * this.#match(pattern)
  }

  async * #match (pattern: string): AsyncGenerator<RetainedPacket> {
    if (!pattern.includes('+') && !pattern.includes('#')) {
      const stored = await this.#redis.getBuffer(this.#keys.retained(pattern))
      if (stored !== null) yield decodeRetained(pattern, stored)
      return
    }
    const matcher = new QlobberTrue(TOPIC_MATCHING)
    matcher.add(pattern)
    const first = firstLevel(pattern)
    const partitions = first === '+' || first === '#'
      // [MQTT-4.7.2-1] a wildcard first level does not match topics starting with $.
      ? (await this.#redis.smembers(this.#keys.retainedPartitions())).filter(p => !p.startsWith('$')).sort()
      : [first]
    for (const level of partitions) {
      const partition = this.#keys.retainedPartition(level)
      for (let start = 0; ; start += PAGE) {
        const topics = await this.#redis.zrange(partition, String(start), String(start + PAGE - 1))
        const matching = topics.filter(t => matcher.test(t))
        const messages = await Promise.all(matching.map(async t => await this.#redis.getBuffer(this.#keys.retained(t))))
        for (let i = 0; i < matching.length; i++) {
          const stored = messages[i]
          if (stored !== null && stored !== undefined) yield decodeRetained(matching[i] as string, stored)
        }
        if (topics.length < PAGE) break
      }
    }
  }
}
