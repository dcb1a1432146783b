import { createServer, type ServerResponse } from 'node:http'
import type { Registry } from 'prom-client'
import type { Logger } from '../logger.js'
import { closeServer, listen } from './listen.js'
import type { Listener } from './tcp.js'

export interface ReadinessCheck {
  name: string
  ok: () => boolean
}

/**
 * Operations endpoints: GET /health (the process is alive), GET /ready (every check
 * passes: listeners bound, not shutting down; in Redis modes also Redis reachable, lease
 * held and inbox answering its pings), GET /metrics (Prometheus text format), and
 * GET /sessions/<client id> (percent-encoded): owner, epoch, subscriptions, queue length,
 * will present.
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
    /** One session by client id, for GET /sessions/<client id> (undefined: no such session). */
    session?: (clientId: string) => Promise<Record<string, unknown> | undefined>
  }
): Promise<Listener> {
  const server = createServer((req, res) => {
    const path = (req.url ?? '/').split('?')[0]
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      return send(res, 405, { error: 'method not allowed' }, { allow: 'GET, HEAD' })
    }
    switch (path) {
      case '/health':
        return send(res, 200, { status: 'ok' })
      case '/ready': {
        const checks = Object.fromEntries(opts.checks.map(c => [c.name, c.ok()]))
        const ready = Object.values(checks).every(Boolean)
        return send(res, ready ? 200 : 503, { status: ready ? 'ready' : 'not ready', checks, ...opts.details?.() })
      }
      case '/metrics':
        opts.registry.metrics().then(
          (text) => res.writeHead(200, { 'content-type': opts.registry.contentType }).end(text),
          (err: unknown) => {
            opts.log.error({ err }, 'metrics collection failed')
            send(res, 500, { error: 'metrics collection failed' })
          })
        return
      default: {
        const session = opts.session
        if (path?.startsWith('/sessions/') === true && session !== undefined) {
          let clientId: string
          try {
            clientId = decodeURIComponent(path.slice('/sessions/'.length))
          } catch {
            return send(res, 400, { error: 'client id is not valid percent-encoding' })
          }
          session(clientId).then(
            (found) => found === undefined ? send(res, 404, { error: 'no such session', clientId }) : send(res, 200, found),
            (err: unknown) => {
              opts.log.warn({ err, clientId }, 'session lookup failed')
              send(res, 503, { error: 'session store unavailable' })
            })
          return
        }
        return send(res, 404, { error: 'not found', endpoints: ['/health', '/ready', '/metrics', '/sessions/<client id>'] })
      }
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

function send (res: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}): void {
  res.writeHead(status, { 'content-type': 'application/json', ...headers }).end(JSON.stringify(body) + '\n')
}
