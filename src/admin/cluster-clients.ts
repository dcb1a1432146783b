/**
 * `GET /admin/clients` for the whole cluster: the node asked sends a `clients-request`
 * admin record to every live member (the membership in Redis), each answers with its
 * list in `clients-reply` records (chunked: an admin record's text field holds 64 KiB),
 * and the node asked merges them. Bounded: a member that has not answered within
 * REPLY_TIMEOUT_MS (a node of an older release, one that is dying) is listed as not
 * answering, and each node lists at most `limit` clients (its count says how many it has).
 */
import { randomBytes } from 'node:crypto'
import type { Logger } from '../logger.js'

export const REQUEST = 'clients-request'
export const REPLY = 'clients-reply'
export const REPLY_TIMEOUT_MS = 3000
export const DEFAULT_LIMIT = 1000
export const MAX_LIMIT = 100_000
/** Characters per reply record: at most 4 bytes each, within the 65,535 bytes of the field. */
const CHUNK_CHARS = 16_000

export interface ClientView {
  clientId: string
  clean: boolean
  version: number
  remote: string | undefined
  subscriptions: number
  connectedAt: string
}

/** What one node says about its clients. */
export interface NodeClients { memberId: string, nodeId: string, connected: number, clients: ClientView[] }

export interface ClusterClients {
  nodes: Array<{ memberId: string, nodeId: string, answered: boolean, connected: number | null, listed: number }>
  clients: Array<ClientView & { memberId: string, nodeId: string }>
}

export interface ClusterClientsDeps {
  /** This node's answer, at most `limit` clients. */
  local: (limit: number) => NodeClients
  /** Live members (from the leases in Redis), this one included. */
  members: () => Promise<Array<{ memberId: string, nodeId: string }>>
  self: () => string
  send: (memberId: string, action: string, text: string) => void
  log: Logger
}

interface Pending { chunks: Map<string, string[]>, answers: Map<string, NodeClients>, expected: Set<string>, done: () => void }

export class ClusterClientsQuery {
  readonly #deps: ClusterClientsDeps
  readonly #pending = new Map<string, Pending>()

  constructor (deps: ClusterClientsDeps) {
    this.#deps = deps
  }

  /** Every live member's clients (at most `limit` each). */
  async list (limit: number): Promise<ClusterClients> {
    const me = this.#deps.self()
    const members = await this.#deps.members()
    const others = members.filter(m => m.memberId !== me)
    const id = randomBytes(8).toString('hex')
    const answers = new Map<string, NodeClients>()
    if (others.length > 0) {
      let timer: NodeJS.Timeout | undefined
      await new Promise<void>(resolve => {
        const done = (): void => { clearTimeout(timer); resolve() }
        this.#pending.set(id, { chunks: new Map(), answers, expected: new Set(others.map(m => m.memberId)), done })
        timer = setTimeout(done, REPLY_TIMEOUT_MS)
        for (const m of others) this.#deps.send(m.memberId, REQUEST, JSON.stringify({ id, limit }))
      })
      this.#pending.delete(id)
    }
    const mine = this.#deps.local(limit)
    answers.set(me, mine)
    const nodes: ClusterClients['nodes'] = []
    const clients: ClusterClients['clients'] = []
    // This node answers even when its own lease is missing from the list (Redis failing over).
    const listed = members.some(m => m.memberId === me) ? members : [...members, { memberId: me, nodeId: mine.nodeId }]
    for (const m of listed) {
      const answer = answers.get(m.memberId)
      if (answer === undefined) {
        this.#deps.log.warn({ member: m.memberId, timeoutMs: REPLY_TIMEOUT_MS }, 'admin: a member did not list its clients in time')
        nodes.push({ memberId: m.memberId, nodeId: m.nodeId, answered: false, connected: null, listed: 0 })
        continue
      }
      nodes.push({ memberId: m.memberId, nodeId: answer.nodeId, answered: true, connected: answer.connected, listed: answer.clients.length })
      for (const c of answer.clients) clients.push({ ...c, memberId: m.memberId, nodeId: answer.nodeId })
    }
    return { nodes, clients }
  }

  /** A peer asked for this node's clients: answer it in chunks. */
  answer (sender: string, text: string): void {
    let request: { id: string, limit: number }
    try {
      request = JSON.parse(text) as { id: string, limit: number }
    } catch {
      this.#deps.log.warn({ sender }, 'admin: malformed clients request ignored')
      return
    }
    const chunks = split(JSON.stringify(this.#deps.local(clampLimit(request.limit))))
    chunks.forEach((chunk, i) => this.#deps.send(sender, REPLY, `${request.id} ${i} ${chunks.length} ${chunk}`))
  }

  /** One chunk of a peer's answer arrived. */
  reply (sender: string, text: string): void {
    const [id = '', index = '', count = ''] = text.split(' ', 3)
    const pending = this.#pending.get(id)
    if (pending === undefined || !pending.expected.has(sender)) return // late: the request timed out
    const chunks = pending.chunks.get(sender) ?? []
    chunks[Number(index)] = text.slice(id.length + index.length + count.length + 3)
    pending.chunks.set(sender, chunks)
    if (chunks.filter(c => c !== undefined).length < Number(count)) return
    try {
      pending.answers.set(sender, JSON.parse(chunks.join('')) as NodeClients)
    } catch (err) {
      this.#deps.log.warn({ err, sender }, 'admin: malformed clients reply ignored')
    }
    pending.expected.delete(sender)
    if (pending.expected.size === 0) pending.done()
  }
}

/** Pieces of at most CHUNK_CHARS characters; a surrogate pair (an emoji in a client id) is never cut. */
export function split (text: string): string[] {
  const out: string[] = []
  for (let at = 0; at < text.length || out.length === 0;) {
    let end = Math.min(text.length, at + CHUNK_CHARS)
    const last = text.charCodeAt(end - 1)
    if (end < text.length && last >= 0xd800 && last <= 0xdbff) end--
    out.push(text.slice(at, end))
    at = end
  }
  return out
}

/** A limit from a request: a whole number from 0 to MAX_LIMIT, DEFAULT_LIMIT otherwise. */
export function clampLimit (value: unknown): number {
  const n = typeof value === 'string' && value !== '' ? Number(value) : value
  return typeof n === 'number' && Number.isInteger(n) && n >= 0 ? Math.min(n, MAX_LIMIT) : DEFAULT_LIMIT
}
