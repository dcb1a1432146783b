import { createServer, type ServerResponse } from 'node:http'
import type { Registry } from 'prom-client'
import type { Logger } from '../logger.js'
import type { HttpHandler } from '../admin/api.js'
import { closeServer, listen } from './listen.js'
import type { Listener } from './tcp.js'

export interface ReadinessCheck {
  name: string
  ok: () => boolean
}

/**
 * Operations endpoints: GET /health (the process is alive), GET /ready (every check
 * passes: listeners bound, not shutting down; in Redis modes also Redis reachable, lease
 * held and inbox answering its pings), GET /metrics (Prometheus text format), and the
 * admin API (/admin/…, /sessions/<client id>: see src/admin/api.ts).
 */
export async function startHttpListener (
  opts: {
    host: string
    port: number
    log: Logger
    registry: Registry
    checks: readonly ReadinessCheck[]
    /** Extra facts shown on /ready (the Redis probe's choice). */
    details?: () => Record<string, unknown>
    /** The admin API (/admin/… and /sessions/…). */
    admin?: HttpHandler
  }
): Promise<Listener> {
  const server = createServer((req, res) => {
    const path = (req.url ?? '/').split('?')[0] ?? '/'
    if (opts.admin?.(req, res, path) === true) return
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      return sendJson(res, 405, { error: 'method not allowed' }, { allow: 'GET, HEAD' })
    }
    switch (path) {
      case '/health':
        return sendJson(res, 200, { status: 'ok' })
      case '/ready': {
        const checks = Object.fromEntries(opts.checks.map(c => [c.name, c.ok()]))
        const ready = Object.values(checks).every(Boolean)
        return sendJson(res, ready ? 200 : 503, { status: ready ? 'ready' : 'not ready', checks, ...opts.details?.() })
      }
      case '/metrics':
        opts.registry.metrics().then(
          (text) => res.writeHead(200, { 'content-type': opts.registry.contentType }).end(text),
          (err: unknown) => {
            opts.log.error({ err }, 'metrics collection failed')
            sendJson(res, 500, { error: 'metrics collection failed' })
          })
        return
      default:
        return sendJson(res, 404, { error: 'not found', endpoints: ['/health', '/ready', '/metrics', '/admin/…', '/sessions/<client id>'] })
    }
  })
  server.on('clientError', (err, socket) => {
    opts.log.debug({ err }, 'bad http request')
    socket.destroy()
  })
  const address = await listen(server, 'http', opts.host, opts.port)
  opts.log.info({ address }, 'http listener started')
  return {
    address,
    close: async () => {
      server.closeAllConnections()
      await closeServer(server)
    }
  }
}

/** Answers with a JSON body. */
export function sendJson (res: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}): void {
  res.writeHead(status, { 'content-type': 'application/json', ...headers }).end(JSON.stringify(body) + '\n')
}
