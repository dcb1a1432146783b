/**
 * Access control rules, in the spirit of Mosquitto's acl_file and EMQX's ACL:
 * - a rule allows or denies `publish`, `subscribe` (which also means receiving) or `all`
 *   on one MQTT topic filter, for one user, one client id, anonymous clients, or everyone
 *   (no selector); `%u` and `%c` in the filter stand for the user name and client id;
 * - with no rules at all everything is allowed; once there is one rule, a client may do
 *   only what some rule applying to it allows, and a deny rule wins over any allow rule;
 * - PUBLISH to `$SYS` or `$SYS/...` is denied to every client whatever the rules say;
 * - a filter starting with a wildcard never reaches `$` topics, as in subscriptions
 *   [MQTT-4.7.2-1]: reading `$SYS` needs a rule whose filter starts with `$SYS`.
 * A SUBSCRIBE is granted when an allow rule's filter covers the whole subscription filter
 * and no deny rule's does; each message is checked again as it is delivered, so a deny
 * rule for part of a granted wildcard, or a rule removed by a reload, still holds.
 */
import { Qlobber } from 'qlobber'
import { filterSees, TOPIC_MATCHING } from '../topics.js'

export type AclAction = 'publish' | 'subscribe' | 'all'

export interface AclRule {
  permission: 'allow' | 'deny'
  action: AclAction
  topic: string
  user?: string | undefined
  clientId?: string | undefined
  anonymous?: boolean | undefined
}

export interface Identity {
  /** The authenticated user name; undefined for an anonymous client. */
  username: string | undefined
  clientId: string
}

export interface ClientAcl {
  mayPublish: (topic: string) => boolean
  maySubscribe: (filter: string) => boolean
  mayReceive: (topic: string) => boolean
}

const OPEN: ClientAcl = {
  mayPublish: (topic) => !isSysTopic(topic),
  maySubscribe: () => true,
  mayReceive: () => true
}

/** `$SYS` topics are written by brokers only. */
export function isSysTopic (topic: string): boolean {
  return topic === '$SYS' || topic.startsWith('$SYS/')
}

/** Why a rule's topic filter is not a valid MQTT topic filter, or undefined. */
export function filterProblem (filter: string): string | undefined {
  if (filter.length === 0) return 'empty topic filter'
  const levels = filter.split('/')
  for (const [i, level] of levels.entries()) {
    if (level.includes('#') && (level !== '#' || i !== levels.length - 1)) return '# must be a whole last level'
    if (level.includes('+') && level !== '+') return '+ must be a whole level'
  }
  return undefined
}

/** The rules of one auth file, compiled per client when it connects. */
export class Acl {
  readonly rules: readonly AclRule[]

  constructor (rules: readonly AclRule[]) {
    this.rules = rules
  }

  forClient (identity: Identity): ClientAcl {
    if (this.rules.length === 0) return OPEN
    const sets = { pubAllow: matcher(), pubDeny: matcher(), subAllow: [] as string[], subDeny: [] as string[], readAllow: matcher(), readDeny: matcher() }
    for (const rule of this.rules) {
      if (!applies(rule, identity)) continue
      const filter = substitute(rule.topic, identity)
      if (filter === undefined) continue
      const allow = rule.permission === 'allow'
      if (rule.action !== 'subscribe') (allow ? sets.pubAllow : sets.pubDeny).add(filter, filter)
      if (rule.action !== 'publish') {
        (allow ? sets.subAllow : sets.subDeny).push(filter);
        (allow ? sets.readAllow : sets.readDeny).add(filter, filter)
      }
    }
    return {
      mayPublish: (topic) => !isSysTopic(topic) && reaches(sets.pubAllow, topic) && !reaches(sets.pubDeny, topic),
      maySubscribe: (filter) => sets.subAllow.some(r => covers(r, filter)) && !sets.subDeny.some(r => covers(r, filter)),
      mayReceive: (topic) => reaches(sets.readAllow, topic) && !reaches(sets.readDeny, topic)
    }
  }
}

/**
 * True when every topic that `filter` matches is also matched by `rule` (both MQTT topic
 * filters). qlobber matches topics against filters; this compares two filters.
 */
export function covers (rule: string, filter: string): boolean {
  const r = rule.split('/')
  const f = filter.split('/')
  if (filter.startsWith('$') && (r[0] === '+' || r[0] === '#')) return false
  for (const [i, level] of r.entries()) {
    if (level === '#') return true
    const other = f[i]
    if (other === undefined || other === '#') return false
    if (level !== '+' && level !== other) return false
  }
  return f.length === r.length
}

function applies (rule: AclRule, identity: Identity): boolean {
  if (rule.user !== undefined) return rule.user === identity.username
  if (rule.clientId !== undefined) return rule.clientId === identity.clientId
  if (rule.anonymous === true) return identity.username === undefined
  return true
}

/**
 * Replaces %u and %c. A rule naming %u does not apply to anonymous clients, and none
 * applies when the value holds `/`, `+` or `#`: user `alice/x` must not reach `alice`'s
 * topics through `home/%u/#`, nor user `+` everyone's.
 */
function substitute (topic: string, identity: Identity): string | undefined {
  if (!topic.includes('%')) return topic
  const values = { '%u': identity.username, '%c': identity.clientId }
  let unusable = false
  const out = topic.replace(/%[uc]/g, (token) => {
    const value = values[token as '%u' | '%c']
    if (value === undefined || /[/+#]/.test(value) || value === '') unusable = true
    return value ?? ''
  })
  return unusable ? undefined : out
}

function matcher (): Qlobber<string> {
  return new Qlobber<string>(TOPIC_MATCHING)
}

function reaches (rules: Qlobber<string>, topic: string): boolean {
  const found = rules.match(topic)
  return found.some(f => filterSees(f, topic))
}
