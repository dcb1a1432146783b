/**
 * MQTT topic matching, one definition for every trie in slotmq (routes, shared groups,
 * sessions, retained, access rules, granted QoS): the rules aedes' own emitter uses.
 */

/** qlobber options for MQTT: '/' levels, '+' one level, '#' the rest, empty levels match. */
export const TOPIC_MATCHING = { separator: '/', wildcard_one: '+', wildcard_some: '#', match_empty_levels: true }

/**
 * [MQTT-4.7.2-1]: a filter starting with a wildcard does not match topics starting with
 * `$`. A trie matches them anyway; callers check its results with this.
 */
export function filterSees (filter: string, topic: string): boolean {
  return topic.charCodeAt(0) !== 36 || (filter.charCodeAt(0) !== 43 && filter.charCodeAt(0) !== 35)
}
