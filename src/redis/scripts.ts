/**
 * Script registry: every Lua file in lua/, the names of its KEYS and ARGV (a unit test
 * checks them against each file's header), loaded once with ioredis `defineCommand`
 * (EVALSHA, reloaded automatically after NOSCRIPT), and one typed wrapper per script.
 * Callers never see KEYS or ARGV arrays.
 */
import { readFileSync } from 'node:fs'
import { BrokerError, ERR } from '../errors.js'
import type { RedisClient } from './client.js'
import type { KeySpace } from './keys.js'

export interface ScriptSpec {
  readonly file: string
  readonly keys: readonly string[]
  readonly argv: readonly string[]
  /** The last ARGV entry repeats (ARGV[n..]). */
  readonly variadic?: boolean
}

export const SCRIPTS = {
  nodeHeartbeat: { file: 'node-heartbeat.lua', keys: ['nodes'], argv: ['memberId', 'ttlMs', 'register'] },
  nodeSweep: { file: 'node-sweep.lua', keys: ['nodes'], argv: ['limit'] },
  routesApply: { file: 'routes-apply.lua', keys: ['filters', 'meta'], argv: ['seq', 'expiryMs', 'changes'], variadic: true },
  routesRead: { file: 'routes-read.lua', keys: ['filters', 'meta'], argv: [] },
  retainedUnindex: { file: 'retained-unindex.lua', keys: ['partition'], argv: ['topic', 'score'] }
} as const satisfies Record<string, ScriptSpec>

export type ScriptName = keyof typeof SCRIPTS

export const LUA_DIR = new URL('../../lua/', import.meta.url)

/** Reads a script; Redis < 7 has no `#!lua` shebang support, so it is stripped there. */
export function readScript (name: ScriptName, redisMajor = 7): string {
  const source = readFileSync(new URL(SCRIPTS[name].file, LUA_DIR), 'utf8')
  return redisMajor >= 7 ? source : source.replace(/^#!lua[^\n]*\n/, '')
}

type Arg = string | number | Buffer
type ScriptCall = (...args: Arg[]) => Promise<unknown>

/** Scripts bound to one Redis client. */
export class Scripts {
  readonly #redis: RedisClient
  readonly #keys: KeySpace

  constructor (redis: RedisClient, keys: KeySpace, redisMajor = 7) {
    this.#redis = redis
    this.#keys = keys
    for (const name of Object.keys(SCRIPTS) as ScriptName[]) {
      redis.defineCommand(`slotmq_${name}`, { numberOfKeys: SCRIPTS[name].keys.length, lua: readScript(name, redisMajor) })
    }
  }

  async #run (name: ScriptName, keys: string[], argv: Arg[]): Promise<unknown> {
    const call = (this.#redis as unknown as Record<string, ScriptCall>)[`slotmq_${name}`]
    if (call === undefined) throw new BrokerError(ERR.SCRIPT_REPLY, `script ${name} is not defined`)
    return await call.call(this.#redis, ...keys, ...argv)
  }

  /** Registers (register = true) or renews this member's lease; lists the live members. */
  async nodeHeartbeat (memberId: string, ttlMs: number, register: boolean): Promise<{ held: boolean, deadlineMs: number, live: string[] }> {
    const reply = await this.#run('nodeHeartbeat', [this.#keys.nodes()], [memberId, ttlMs, register ? '1' : '0'])
    const [held, ms, live] = expectArray(reply, 'nodeHeartbeat', 3)
    return { held: held === 1, deadlineMs: Number(ms), live: expectStrings(live, 'nodeHeartbeat') }
  }

  /** Removes up to `limit` expired members; the caller is the reaper of those returned. */
  async nodeSweep (limit: number): Promise<string[]> {
    return expectStrings(await this.#run('nodeSweep', [this.#keys.nodes()], [limit]), 'nodeSweep')
  }

  /** Applies route changes ("+filter" / "-filter") under delta number `seq`. */
  async routesApply (memberId: string, seq: number, expiryMs: number, changes: string[]): Promise<{ applied: boolean, seq: number }> {
    const k = this.#keys.routes(memberId)
    const [applied, stored] = expectArray(await this.#run('routesApply', [k.filters, k.meta], [seq, expiryMs, ...changes]), 'routesApply', 2)
    return { applied: applied === 1, seq: Number(stored) }
  }

  /** A member's route set and the delta number it is current to. */
  async routesRead (memberId: string): Promise<{ seq: number, filters: string[] }> {
    const k = this.#keys.routes(memberId)
    const [seq, filters] = expectArray(await this.#run('routesRead', [k.filters, k.meta], []), 'routesRead', 2)
    return { seq: Number(seq), filters: expectStrings(filters, 'routesRead') }
  }

  /** Drops a topic from its retained-index partition if its score is still `score`. */
  async retainedUnindex (partition: string, topic: string, score: string): Promise<boolean> {
    return await this.#run('retainedUnindex', [partition], [topic, score]) === 1
  }
}

function expectArray (reply: unknown, name: string, length: number): unknown[] {
  if (!Array.isArray(reply) || reply.length !== length) {
    throw new BrokerError(ERR.SCRIPT_REPLY, `unexpected reply from ${name}: ${JSON.stringify(reply)}`)
  }
  return reply
}

function expectStrings (reply: unknown, name: string): string[] {
  if (!Array.isArray(reply) || !reply.every(x => typeof x === 'string')) {
    throw new BrokerError(ERR.SCRIPT_REPLY, `unexpected reply from ${name}: ${JSON.stringify(reply)}`)
  }
  return reply
}
