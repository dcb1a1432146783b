import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http'
import type { Server as HttpsServer } from 'node:https'
import type { Duplex } from 'node:stream'
import { WebSocketServer, createWebSocketStream } from 'ws'
import type { Logger } from '../logger.js'
import type { Connections } from './connections.js'
import { closeServer, listen } from './listen.js'
import type { Listener } from './tcp.js'

export const WS_PATH = '/mqtt'

export interface WsListenerOptions {
  host: string
  port: number
  log: Logger
  connections: Connections
  handle: (stream: Duplex, req: IncomingMessage) => void
}

/** MQTT over WebSocket on path /mqtt (subprotocol `mqtt`, as EMQX, HiveMQ and Mosquitto). */
export async function startWsListener (opts: WsListenerOptions): Promise<Listener> {
  return await serveWebSocket(createServer(upgradeRequired), 'websocket', opts)
}

/** A plain request (no WebSocket upgrade) is told where to connect. */
export function upgradeRequired (_req: IncomingMessage, res: ServerResponse): void {
  res.writeHead(426, { 'content-type': 'text/plain' }).end(`MQTT over WebSocket: connect to ${WS_PATH}\n`)
}

/**
 * An upgrade on another path is answered 404 with a body naming /mqtt (ws alone would
 * answer a bare 400), and the socket is closed.
 */
export function wrongPath (socket: Duplex, path: string): void {
  socket.on('error', () => {}) // a client gone before the answer: nothing to tell it
  const body = `No MQTT over WebSocket on ${path}: connect to ${WS_PATH} (for example ws://host:port${WS_PATH}, subprotocol mqtt)\n`
  socket.end(`HTTP/1.1 404 Not Found\r\nConnection: close\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Length: ${Buffer.byteLength(body)}\r\n\r\n${body}`)
}

/** Serves MQTT over WebSocket on an HTTP or HTTPS server (ws and wss listeners) and binds it. */
export async function serveWebSocket (server: Server | HttpsServer, name: string, opts: WsListenerOptions): Promise<Listener> {
  const wss = new WebSocketServer({
    noServer: true,
    perMessageDeflate: false,
    handleProtocols: (protocols) => protocols.has('mqtt') ? 'mqtt' : (protocols.has('mqttv3.1') ? 'mqttv3.1' : false)
  })
  const upgrade = (req: IncomingMessage, socket: Duplex, head: Buffer): void => {
    const path = (req.url ?? '/').split('?')[0] ?? '/'
    if (path !== WS_PATH) {
      opts.log.debug({ path, remote: req.socket.remoteAddress, listener: name }, 'websocket upgrade on a wrong path refused')
      wrongPath(socket, path)
      return
    }
    wss.handleUpgrade(req, socket, head, (ws) => wss.emit('connection', ws, req))
  }
  server.on('upgrade', upgrade)
  wss.on('connection', (ws, req) => {
    opts.connections.add(req.socket)
    const stream = createWebSocketStream(ws)
    stream.on('error', (err) => opts.log.debug({ err, remote: req.socket.remoteAddress }, 'websocket error'))
    opts.handle(stream, req)
  })
  wss.on('error', (err) => opts.log.error({ err, listener: name }, 'websocket listener error'))
  const address = await listen(server, name, opts.host, opts.port)
  opts.log.info({ address, path: WS_PATH, listener: name }, 'websocket listener started')
  return {
    address,
    close: async () => {
      server.off('upgrade', upgrade)
      await new Promise<void>(resolve => wss.close(() => resolve()))
      await closeServer(server)
    }
  }
}
