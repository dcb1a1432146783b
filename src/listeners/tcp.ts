import { createServer, type Server, type Socket } from 'node:net'
import type { Logger } from '../logger.js'
import type { Connections } from './connections.js'
import { closeServer, listen, type BoundAddress } from './listen.js'

export interface Listener {
  address: BoundAddress
  /** Stops accepting new connections; open ones are left to the broker. */
  close: () => Promise<void>
}

/** MQTT over TCP. Every socket gets TCP_NODELAY: MQTT packets are small and latency-bound. */
export async function startTcpListener (
  opts: { host: string, port: number, log: Logger, connections: Connections, handle: (socket: Socket) => void }
): Promise<Listener> {
  const server: Server = createServer({ noDelay: true }, (socket) => {
    socket.on('error', (err) => opts.log.debug({ err, remote: socket.remoteAddress }, 'socket error'))
    opts.connections.add(socket)
    opts.handle(socket)
  })
  server.on('error', (err) => opts.log.error({ err }, 'tcp listener error'))
  const address = await listen(server, 'mqtt', opts.host, opts.port)
  opts.log.info({ address }, 'mqtt listener started')
  return { address, close: async () => await closeServer(server) }
}
