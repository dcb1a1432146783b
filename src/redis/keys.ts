/**
 * Every Redis key and channel name slotmq uses is built here, and nowhere else.
 *
 * Layout: `<prefix>mqtt:{<tag>}:<kind>`. Everything inside the braces is the hash tag, so
 * all keys returned by one builder land in one slot and one Lua script may touch them
 * together. Ids and topics are encoded (encodeURIComponent, plus `*`) before they enter a
 * tag, so `{`, `}` and `:` in a client id or topic cannot move the tag or fake a
 * separator. The optional prefix goes outside the braces: it namespaces, it never shards.
 */

export interface KeySpace {
  /** Membership leases: zset member = memberId, score = lease deadline (Redis TIME, ms). */
  nodes: () => string
  /** Membership clock: hash `last` (latest beat of any member) and `quietUntil` (no reaping before), ms. */
  nodesClock: () => string
  /** Tombstones of reaped members: zset memberId -> when it was reaped (ms). */
  nodesReaped: () => string
  /** Inbox frame versions: hash memberId -> the newest frame version the member reads. */
  nodesFrames: () => string
  /** A member's latest statistics (JSON, expiring), in the leases' slot: one MGET reads them all. */
  nodeStats: (memberId: string) => string
  /** One member's routes: set of topic filters, and a hash holding its delta sequence. */
  routes: (memberId: string) => { filters: string, meta: string }
  /** A member's inbox: the sharded pub/sub channel every peer sends to it on. */
  inbox: (memberId: string) => string
  /** A member's journal: stream of the frames with QoS 1/2 messages sent to its inbox. */
  journal: (memberId: string) => string
  /** One retained message, keyed by its topic. */
  retained: (topic: string) => string
  /** Retained index partition: zset of the topics sharing a first level, score = last write. */
  retainedPartition: (firstLevel: string) => string
  /** Set of first levels that have a retained partition (read for `#` and `+/…`). */
  retainedPartitions: () => string
  /** Every key of one client's session: one slot, so one script changes them together. */
  session: (clientId: string) => SessionKeys
  /** Client ids of the sessions a member owns (a hint index for its reaper; meta decides). */
  sessionsOf: (memberId: string) => string
  /** Client ids whose stored will names `brokerId` (a hint index; the will key decides). */
  wills: (brokerId: string) => string
  /** Broker ids that have a will index. */
  willBrokers: () => string
  /** MQTT users kept in Redis: hash user name -> password hash, and a version bumped on every change. */
  auth: () => { users: string, version: string }
}

export interface SessionKeys {
  /** hash { owner, epoch, persistent, parked } */
  meta: string
  /** hash topic filter -> subscription JSON */
  subs: string
  /** zset of outgoing message refs, score = enqueue order */
  queue: string
  /** hash p<ref> -> packet, r<ref> -> message id, m<message id> -> ref, seq */
  out: string
  /**
   * zset of refs the client acknowledged lately, score = when (ms, Redis TIME): a dead
   * node's journal replayed to the session skips them. Expires by itself.
   */
  done: string
  /** hash message id -> inbound QoS 2 packet */
  incoming: string
  /** string: the will packet */
  will: string
}

/** Encodes an id or topic for use inside a hash tag or after a separator. */
export function encodeId (id: string): string {
  // encodeURIComponent leaves * unescaped; escape it too so a pattern-looking id
  // (KEYS/SCAN glob) cannot match more than itself.
  return encodeURIComponent(id).replace(/\*/g, '%2A')
}

export function decodeId (encoded: string): string {
  return decodeURIComponent(encoded)
}

export function createKeySpace (prefix = ''): KeySpace {
  const base = `${prefix}mqtt:`
  return {
    // <prefix>mqtt:{nodes}
    nodes: () => `${base}{nodes}`,
    // <prefix>mqtt:{nodes}:clock
    nodesClock: () => `${base}{nodes}:clock`,
    // <prefix>mqtt:{nodes}:reaped
    nodesReaped: () => `${base}{nodes}:reaped`,
    // <prefix>mqtt:{nodes}:frames
    nodesFrames: () => `${base}{nodes}:frames`,
    // <prefix>mqtt:{nodes}:stats:<memberId>
    nodeStats: (memberId) => `${base}{nodes}:stats:${encodeId(memberId)}`,
    // <prefix>mqtt:{r:<memberId>}:filters | :meta
    routes: (memberId) => {
      const tag = `${base}{r:${encodeId(memberId)}}`
      return { filters: `${tag}:filters`, meta: `${tag}:meta` }
    },
    // <prefix>mqtt:{in:<memberId>}
    inbox: (memberId) => `${base}{in:${encodeId(memberId)}}`,
    // <prefix>mqtt:{in:<memberId>}:j
    journal: (memberId) => `${base}{in:${encodeId(memberId)}}:j`,
    // <prefix>mqtt:{t:<topic>}:retained
    retained: (topic) => `${base}{t:${encodeId(topic)}}:retained`,
    // <prefix>mqtt:{ri:<first level>}
    retainedPartition: (firstLevel) => `${base}{ri:${encodeId(firstLevel)}}`,
    // <prefix>mqtt:{ri}
    retainedPartitions: () => `${base}{ri}`,
    // <prefix>mqtt:{c:<clientId>}:s | :subs | :q | :o | :in | :will
    session: (clientId) => {
      const tag = `${base}{c:${encodeId(clientId)}}`
      return { meta: `${tag}:s`, subs: `${tag}:subs`, queue: `${tag}:q`, out: `${tag}:o`, done: `${tag}:d`, incoming: `${tag}:in`, will: `${tag}:will` }
    },
    // <prefix>mqtt:{s:<memberId>}
    sessionsOf: (memberId) => `${base}{s:${encodeId(memberId)}}`,
    // <prefix>mqtt:{w:<brokerId>}
    wills: (brokerId) => `${base}{w:${encodeId(brokerId)}}`,
    // <prefix>mqtt:{wb}
    willBrokers: () => `${base}{wb}`,
    // <prefix>mqtt:{auth}:users | :version
    auth: () => ({ users: `${base}{auth}:users`, version: `${base}{auth}:version` })
  }
}

/** The retained-index partition a topic belongs to: its first level. */
export function firstLevel (topic: string): string {
  const i = topic.indexOf('/')
  return i < 0 ? topic : topic.slice(0, i)
}
