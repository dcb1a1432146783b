/**
 * MQTT topic matching, one definition for every trie in slotmq (aedes' emitter, routes,
 * shared groups, sessions and offline queues, retained messages, access rules, granted
 * QoS): a filter matches a topic the same way wherever it is looked up.
 */

/**
 * The most levels any topic or filter may have, whatever `limits.maxTopicLevels` says
 * (the setting is checked against it). qlobber refuses deeper topics ("too many words"),
 * so nothing deeper ever reaches a trie: the limits refuse it first, and the topic-level
 * guard on aedes' publish and subscribe (src/aedes/topic-levels.ts) catches the rest.
 */
export const TOPIC_LEVELS_CEILING = 1024

/**
 * qlobber options for MQTT: '/' levels, '+' one level, '#' the rest (zero levels too:
 * `a/#` matches `a` [MQTT-4.7.1-2]). '+' matches an empty level (`a/+/c` matches `a//c`,
 * `a/+` matches `a/`) [MQTT-4.7.1-3]: qlobber's own default does not.
 */
export const TOPIC_MATCHING = Object.freeze({
  separator: '/',
  wildcard_one: '+',
  wildcard_some: '#',
  match_empty_levels: true,
  max_words: TOPIC_LEVELS_CEILING
})

/**
 * [MQTT-4.7.2-1]: a filter starting with a wildcard does not match topics starting with
 * `$`. A trie matches them anyway; callers check its results with this.
 */
export function filterSees (filter: string, topic: string): boolean {
  return topic.charCodeAt(0) !== 36 || (filter.charCodeAt(0) !== 43 && filter.charCodeAt(0) !== 35)
}

/** Levels of a topic or filter, as qlobber counts them (`a//b` has three). */
export function topicLevels (topic: string): number {
  let n = 1
  for (let i = 0; i < topic.length; i++) if (topic.charCodeAt(i) === 47) n++
  return n
}
