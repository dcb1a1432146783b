/**
 * The admin HTTP API, on the node's HTTP port:
 *   GET  /admin/nodes                  live nodes with lease age and latest statistics
 *   GET  /admin/clients[?limit=N]      clients connected to every node (at most N per node, default 1000)
 *   GET  /admin/sessions/<client id>   one session (also GET /sessions/<client id>)
 *   POST /admin/clients/<client id>/kick   close that client's connection, wherever it is
 *   POST /admin/drain                  drain this node (see drain.ts)
 *   POST /admin/nodes/<node>/drain     drain another node (member id or node id)
 * Every request needs `Authorization: Bearer <admin.token>`: the read-only ones list
 * client ids, addresses and subscriptions. Without `admin.token` every request is refused
 * (401), so a node never answers them to whoever can reach its HTTP port.
 * Client ids and node names in paths are percent-encoded.
 */
import { createHash, timingSafeEqual } from 'node:crypto'
import type { IncomingMessage, ServerResponse } from 'node:http'
import { sendJson } from '../listeners/http.js'
import type { Logger } from '../logger.js'
import { clampLimit } from './cluster-clients.js'

export interface AdminOps {
  nodes: () => Promise<unknown[]>
  /** The clients of every live node, at most `limit` per node. */
  clients: (limit: number) => Promise<unknown>
  session: (clientId: string) => Promise<Record<string, unknown> | undefined>
  /** Closes the client's connection; undefined when no node has it connected. */
  kick: (clientId: string) => Promise<{ node: string } | undefined>
  /** Drains this node (no argument) or the named one; undefined when no such node. */
  drain: (node?: string) => Promise<{ node: string } | undefined>
}

export type HttpHandler = (req: IncomingMessage, res: ServerResponse, path: string) => boolean

/** A handler for /admin/… and /sessions/…; returns false for any other path. */
export function createAdminApi (opts: { token: string | undefined, ops: AdminOps, log: Logger }): HttpHandler {
  const expected = opts.token === undefined ? undefined : digest(opts.token)
  return (req, res, path) => {
    const route = path.startsWith('/admin/') ? path.slice('/admin/'.length) : path.startsWith('/sessions/') ? path.slice(1) : undefined
    if (route === undefined) return false
    const write = req.method === 'POST'
    if (!write && req.method !== 'GET' && req.method !== 'HEAD') {
      sendJson(res, 405, { error: 'method not allowed' }, { allow: 'GET, HEAD, POST' })
      return true
    }
    if (expected === undefined) {
      opts.log.debug({ path, remote: req.socket.remoteAddress }, 'admin request refused: admin.token is not set')
      sendJson(res, 401, { error: 'the admin API is off: set admin.token (SLOTMQ_ADMIN_TOKEN) and send Authorization: Bearer <token>' }, { 'www-authenticate': 'Bearer' })
      return true
    }
    const given = /^Bearer (.+)$/i.exec(req.headers.authorization ?? '')?.[1]
    if (given === undefined || !timingSafeEqual(digest(given), expected)) {
      opts.log.warn({ path, remote: req.socket.remoteAddress }, 'admin request refused: missing or wrong token')
      sendJson(res, 401, { error: 'admin token required: Authorization: Bearer <token>' }, { 'www-authenticate': 'Bearer' })
      return true
    }
    let parts: string[]
    try {
      parts = route.split('/').map(decodeURIComponent)
    } catch {
      sendJson(res, 400, { error: 'path is not valid percent-encoding' })
      return true
    }
    const reply = (work: Promise<unknown>, notFound: Record<string, unknown>): void => {
      work.then(
        (body) => body === undefined ? sendJson(res, 404, notFound) : sendJson(res, 200, body),
        (err: unknown) => {
          opts.log.warn({ err, path }, 'admin request failed')
          sendJson(res, 503, { error: 'admin request failed', reason: err instanceof Error ? err.message : String(err) })
        })
    }
    const [a, b, c] = parts
    if (!write && parts.length === 1 && a === 'nodes') reply(opts.ops.nodes(), {})
    else if (!write && parts.length === 1 && a === 'clients') reply(opts.ops.clients(clampLimit(new URL(req.url ?? '/', 'http://admin').searchParams.get('limit') ?? undefined)), {})
    else if (!write && parts.length === 2 && a === 'sessions' && b !== undefined) reply(opts.ops.session(b), { error: 'no such session', clientId: b })
    else if (write && parts.length === 3 && a === 'clients' && b !== undefined && c === 'kick') {
      opts.log.info({ clientId: b, remote: req.socket.remoteAddress }, 'admin: kick')
      reply(opts.ops.kick(b).then(r => r === undefined ? undefined : { kicked: b, ...r }), { error: 'client not connected', clientId: b })
    } else if (write && parts.length === 1 && a === 'drain') {
      opts.log.info({ remote: req.socket.remoteAddress }, 'admin: drain this node')
      reply(opts.ops.drain().then(r => ({ draining: r?.node })), {})
    } else if (write && parts.length === 3 && a === 'nodes' && b !== undefined && c === 'drain') {
      opts.log.info({ node: b, remote: req.socket.remoteAddress }, 'admin: drain a node')
      reply(opts.ops.drain(b).then(r => r === undefined ? undefined : { draining: r.node }), { error: 'no such node', node: b })
    } else {
      sendJson(res, 404, { error: 'not found', endpoints: ['GET /admin/nodes', 'GET /admin/clients', 'GET /admin/sessions/<client id>', 'POST /admin/clients/<client id>/kick', 'POST /admin/drain', 'POST /admin/nodes/<node>/drain'] })
    }
    return true
  }
}

/** Compared as digests so that the comparison takes the same time whatever the length. */
function digest (token: string): Buffer {
  return createHash('sha256').update(token).digest()
}
