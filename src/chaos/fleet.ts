/**
 * The slotmq nodes of a chaos run: a fixed number of slots, each holding one node
 * process. A scenario kills a node; `heal` puts a fresh node in every slot whose node
 * is gone and waits until every node sees exactly the live members (the dead ones reaped).
 */
import { randomBytes } from 'node:crypto'
import { join } from 'node:path'
import { mkdir } from 'node:fs/promises'
import type { Logger } from '../logger.js'
import { signalChild } from './owned.js'
import { killNode, running, saidCount, startNodeProcess, type NodeProcess } from './node-process.js'
import { waitFor } from './wait.js'

interface MemberView { memberId: string, self?: boolean }

export class Fleet {
  readonly #entry: readonly string[]
  readonly #args: readonly string[]
  readonly #log: Logger
  readonly #logDir: string | undefined
  /** The nodes' admin token (the admin API answers nothing without one). */
  readonly #adminToken = randomBytes(16).toString('hex')
  readonly #nodes: NodeProcess[] = []
  /** Nodes that exited without being killed by the suite, since the start. */
  #unexpectedExits = 0

  private constructor (entry: readonly string[], args: readonly string[], log: Logger, logDir: string | undefined) {
    this.#entry = entry
    this.#args = args
    this.#log = log
    this.#logDir = logDir
  }

  /** Starts `count` nodes one after another (a node joins faster when its peers are up). */
  static async start (count: number, entry: readonly string[], args: readonly string[], log: Logger, logDir?: string): Promise<Fleet> {
    const fleet = new Fleet(entry, args, log, logDir)
    if (logDir !== undefined) await mkdir(logDir, { recursive: true })
    try {
      for (let i = 0; i < count; i++) fleet.#nodes.push(await fleet.#spawn(i))
    } catch (err) {
      await fleet.stop()
      throw err
    }
    return fleet
  }

  async #spawn (slot: number): Promise<NodeProcess> {
    const logFile = this.#logDir === undefined ? undefined : join(this.#logDir, `chaos-${slot}-${Date.now()}.log`)
    const node = await startNodeProcess(this.#entry, [...this.#args, '--node-id', `chaos-${slot}`, '--admin-token', this.#adminToken], logFile)
    node.child.once('exit', (code, signal) => {
      if (!node.killed) {
        this.#unexpectedExits++
        this.#log.warn({ slot, pid: node.pid, code, signal, tail: node.tail.slice(-5) }, 'node exited by itself')
      }
    })
    this.#log.debug({ slot, pid: node.pid, mqtt: node.mqttPort }, 'node started')
    return node
  }

  get size (): number { return this.#nodes.length }
  get unexpectedExits (): number { return this.#unexpectedExits }

  node (slot: number): NodeProcess {
    const node = this.#nodes[slot % this.#nodes.length]
    if (node === undefined) throw new Error(`no node in slot ${slot}`)
    return node
  }

  url (slot: number): string { return this.node(slot).url }

  get #auth (): Record<string, string> { return { authorization: `Bearer ${this.#adminToken}` } }

  /**
   * Where to reconnect after `failed` dropped: the nodes not killed, starting with the
   * one after it, `failed` itself last (its process may not have exited yet).
   */
  reconnectUrls (failed: string): string[] {
    const n = this.#nodes.length
    const at = Math.max(0, this.#nodes.findIndex(node => node.url === failed))
    const order = Array.from({ length: n }, (_, i) => this.#nodes[(at + 1 + i) % n] as NodeProcess)
    return order.filter(node => !node.killed && running(node)).map(node => node.url)
  }

  /** SIGKILLs the node in `slot` (by its process id). The signal goes out before this returns its promise. */
  async kill (slot: number): Promise<void> {
    await killNode(this.node(slot))
  }

  /** Sum over running nodes of how often they logged `message`. */
  said (message: string): number {
    return this.#nodes.filter(running).reduce((n, node) => n + saidCount(node, message), 0)
  }

  /** Each running node's own member id, from its admin API (undefined for a node that did not answer). */
  async memberIds (): Promise<Array<string | undefined>> {
    return await Promise.all(this.#nodes.map(async node => {
      if (!running(node)) return undefined
      const members = await this.#members(node).catch(() => undefined)
      return members?.find(m => m.self === true)?.memberId
    }))
  }

  async #members (node: NodeProcess): Promise<MemberView[]> {
    const res = await fetch(`http://127.0.0.1:${node.httpPort}/admin/nodes`, { headers: this.#auth, signal: AbortSignal.timeout(2000) })
    if (!res.ok) throw new Error(`GET /admin/nodes: ${res.status}`)
    return await res.json() as MemberView[]
  }

  /** A session as the admin API shows it (GET /sessions/<client id> on a running node); undefined when none answered. */
  async session (clientId: string): Promise<Record<string, unknown> | undefined> {
    for (const node of this.#nodes.filter(n => !n.killed && running(n))) {
      try {
        const res = await fetch(`http://127.0.0.1:${node.httpPort}/sessions/${encodeURIComponent(clientId)}`, { headers: this.#auth, signal: AbortSignal.timeout(2000) })
        if (res.status === 404) return {}
        if (res.ok) return await res.json() as Record<string, unknown>
      } catch {}
    }
    return undefined
  }

  /**
   * What the session of `clientId` still holds (for a run that lost messages): queued
   * messages and whether it is connected, as the admin API shows them.
   */
  async sessionFigures (clientId: string): Promise<Record<string, number | string>> {
    const session = await this.session(clientId)
    if (session === undefined) return { sessionAtEnd: 'no node answered' }
    if (session.owner === undefined) return { sessionAtEnd: 'none' }
    return { sessionQueued: typeof session.queued === 'number' ? session.queued : String(session.queued), sessionConnected: String(session.connected) }
  }

  /** Every running node lists exactly the running nodes' member ids. */
  async whole (): Promise<boolean> {
    const live = this.#nodes.filter(running)
    if (live.length !== this.#nodes.length) return false
    const views = await Promise.all(live.map(async node => await this.#members(node)))
    const selves = views.map(v => v.find(m => m.self === true)?.memberId)
    if (selves.some(s => s === undefined)) return false
    const expected = [...selves].sort().join(',')
    return views.every(v => v.map(m => m.memberId).sort().join(',') === expected)
  }

  /** Replaces every node that is gone and waits (bounded) until the membership is whole. */
  async heal (timeoutMs: number): Promise<boolean> {
    for (const [slot, node] of this.#nodes.entries()) {
      if (!running(node)) this.#nodes[slot] = await this.#spawn(slot)
    }
    return await waitFor(async () => await this.whole(), timeoutMs, 100) !== undefined
  }

  async stop (): Promise<void> {
    await Promise.all(this.#nodes.map(async node => {
      node.killed = true
      await signalChild(node.child, 'SIGTERM')
    }))
  }
}
