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

/** Serves MQTT over WebSocket on an HTTP or HTTPS server (ws and wss listeners) and binds it. */
export async function serveWebSocket (server: Server | HttpsServer, name: string, opts: WsListenerOptions): Promise<Listener> {
  const wss = new WebSocketServer({
    server,
    path: WS_PATH,
    perMessageDeflate: false,
    handleProtocols: (protocols) => protocols.has('mqtt') ? 'mqtt' : (protocols.has('mqttv3.1') ? 'mqttv3.1' : false)
  })
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
      await new Promise<void>(resolve => wss.close(() => resolve()))
      await closeServer(server)
    }
  }
}
