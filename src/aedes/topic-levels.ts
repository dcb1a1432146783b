/**
 * Topic levels. aedes 1.2.0 clamps its `maxTopicLevels` to 100, because the tries it
 * builds (mqemitter, aedes-persistence) use qlobber's default of 100 words, and checks it
 * in the SUBSCRIBE handler before any hook: a filter of 101 levels closed the connection
 * whatever `limits.maxTopicLevels` said, and the other filters of that SUBSCRIBE were lost.
 *
 * slotmq's tries all take TOPIC_MATCHING (src/topics.ts), deep enough for the configured
 * limit, which src/aedes/limits.ts enforces first: SUBACK 0x80 for a filter over it
 * [MQTT-3.8.4-1], a close for a PUBLISH topic over it. aedes' own check is turned off, so a
 * well-formed SUBSCRIBE is never answered with a close; what reaches aedes' publish,
 * subscribe and unsubscribe from elsewhere (a stored will published by a peer) is still
 * refused beyond TOPIC_LEVELS_CEILING, as aedes refused it beyond 100.
 */
import type { Aedes } from 'aedes'
import { TOPIC_LEVELS_CEILING, topicLevels } from '../topics.js'
import { useTopicMatching, type EmitterMatcher } from './internals.js'

type Done = (err?: Error | null) => void
type Call = (first: unknown, second?: unknown, third?: unknown) => void

/**
 * Installs the guard. `mq` is the emitter handed to aedes; its trie is replaced before
 * anything subscribes (so call this before aedes is created, or at least before it listens).
 */
export function installTopicLevels (aedes: Aedes, mq: EmitterMatcher): void {
  useTopicMatching(mq)
  const broker = aedes as unknown as { maxTopicLevels: number, publish: Call, subscribe: Call, unsubscribe: Call }
  broker.maxTopicLevels = Number.POSITIVE_INFINITY
  const guard = (name: 'publish' | 'subscribe' | 'unsubscribe', topicOf: (first: unknown) => unknown, doneOf: (second: unknown, third: unknown) => unknown): void => {
    const original = broker[name].bind(aedes)
    broker[name] = (first, second, third) => {
      const topic = topicOf(first)
      if (typeof topic === 'string' && topicLevels(topic) > TOPIC_LEVELS_CEILING) {
        (doneOf(second, third) as Done | undefined)?.(new Error('topic has too many levels'))
        return
      }
      original(first, second, third)
    }
  }
  // publish (packet, [client,] done); subscribe and unsubscribe (topic, listener, done)
  guard('publish', (packet) => (packet as { topic?: unknown }).topic, (second, third) => typeof second === 'function' ? second : third)
  guard('subscribe', (topic) => topic, (_second, third) => third)
  guard('unsubscribe', (topic) => topic, (_second, third) => third)
}
