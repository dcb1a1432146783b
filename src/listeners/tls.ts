/**
 * MQTT over TLS (`mqtts.port`, conventionally 8883) and over secure WebSocket
 * (`wss.port`, path /mqtt). Both take their certificate from one TlsCredentials, which
 * swaps it in when the files change. With client-certificate authentication a client
 * must present a certificate signed by the configured CA, or the handshake fails; the
 * certificate's subject CN is then the client's user name (certificateUser).
 */
import { createServer as createHttpsServer } from 'node:https'
import type { IncomingMessage } from 'node:http'
import type { Duplex } from 'node:stream'
import { createServer as createTlsServer, TLSSocket, type SecureContextOptions, type Server } from 'node:tls'
import type { Client } from 'aedes'
import type { Logger } from '../logger.js'
import type { Connections } from './connections.js'
import { closeServer, listen } from './listen.js'
import type { Listener } from './tcp.js'
import type { TlsCredentials } from './tls-credentials.js'
import { serveWebSocket, upgradeRequired } from './ws.js'

export interface TlsListenerOptions {
  host: string
  port: number
  log: Logger
  connections: Connections
  credentials: TlsCredentials
  /** Require a client certificate signed by the CA (tls.clientCertAuth). */
  clientCertAuth: boolean
  /** A client that has not finished the TLS handshake by then is dropped. */
  handshakeTimeoutMs: number
}

/** MQTT over TLS. Every socket gets TCP_NODELAY, as on the plain TCP listener. */
export async function startMqttsListener (
  opts: TlsListenerOptions & { handle: (socket: TLSSocket) => void }
): Promise<Listener> {
  const server = createTlsServer({ ...serverOptions(opts), noDelay: true }, (socket) => {
    socket.on('error', (err) => opts.log.debug({ err, remote: socket.remoteAddress }, 'tls socket error'))
    opts.connections.add(socket)
    opts.handle(socket)
  })
  watch(server, 'mqtts', opts)
  server.on('error', (err) => opts.log.error({ err }, 'mqtts listener error'))
  const address = await listen(server, 'mqtts', opts.host, opts.port)
  opts.log.info({ address, clientCertAuth: opts.clientCertAuth }, 'mqtts listener started')
  return { address, close: async () => await closeServer(server) }
}

/** MQTT over secure WebSocket on path /mqtt. */
export async function startWssListener (
  opts: TlsListenerOptions & { handle: (stream: Duplex, req: IncomingMessage) => void }
): Promise<Listener> {
  const server = createHttpsServer({ ...serverOptions(opts), noDelay: true }, upgradeRequired)
  watch(server, 'wss', opts)
  return await serveWebSocket(server, 'wss', opts)
}

/**
 * The user name a verified client certificate gives: its subject CN, for a client on
 * the mqtts listener or on wss (where aedes keeps the upgrade request as `client.req`).
 * Undefined without a certificate that the CA verified, or with no single CN.
 */
export function certificateUser (client: Client): string | undefined {
  const conn: unknown = client.conn
  const socket = conn instanceof TLSSocket ? conn : client.req?.socket
  if (!(socket instanceof TLSSocket) || !socket.authorized) return undefined
  const cn: unknown = socket.getPeerCertificate().subject?.CN
  return typeof cn === 'string' && cn.length > 0 ? cn : undefined
}

function serverOptions (opts: TlsListenerOptions): SecureContextOptions & { requestCert: boolean, rejectUnauthorized: boolean, handshakeTimeout: number } {
  return {
    ...opts.credentials.current,
    requestCert: opts.clientCertAuth,
    rejectUnauthorized: opts.clientCertAuth,
    handshakeTimeout: opts.handshakeTimeoutMs
  }
}

/**
 * New handshakes use reloaded credentials; failed handshakes are logged quietly (scanners,
 * wrong CA) and their connections closed: Node reports a handshake that runs out of time
 * (`handshakeTimeout`) with this event and leaves the socket open (Node 20, measured).
 */
function watch (server: Server, name: string, opts: TlsListenerOptions): void {
  opts.credentials.onReload((options) => server.setSecureContext(options))
  server.on('tlsClientError', (err, socket) => {
    opts.log.debug({ listener: name, remote: socket.remoteAddress, err: { message: err.message, code: (err as NodeJS.ErrnoException).code } }, 'tls handshake failed')
    socket.destroy()
  })
}
