/**
 * The address of the other end of each client connection (`host:port`), read when the
 * connection is handed to aedes: a closed socket no longer has it, and the stream aedes
 * gets for a WebSocket has none (its HTTP request's socket does). Behind a TCP load
 * balancer it is the balancer's (slotmq does not speak the PROXY protocol).
 */
import type { IncomingMessage } from 'node:http'
import type { Duplex } from 'node:stream'

const peers = new WeakMap<object, string>()

export function peerAddress (stream: Duplex, req?: IncomingMessage): string | undefined {
  const socket = (req?.socket ?? stream) as { remoteAddress?: string, remotePort?: number }
  const host = socket.remoteAddress
  if (host === undefined) return undefined
  const shown = host.includes(':') ? `[${host}]` : host
  return socket.remotePort === undefined ? shown : `${shown}:${socket.remotePort}`
}

/** Keeps `address` for `client` (an aedes client) as long as the client object lives. */
export function rememberPeer (client: object, address: string | undefined): void {
  if (address !== undefined) peers.set(client, address)
}

/** The address remembered for `client`, if any. */
export function peerOf (client: object): string | undefined {
  return peers.get(client)
}
