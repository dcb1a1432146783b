import type { Server } from 'node:net'
import { BrokerError, ERR } from '../errors.js'

export interface BoundAddress {
  host: string
  port: number
}

/** Binds a server, turning bind failures (port in use, no permission) into a clear error. */
export async function listen (server: Server, name: string, host: string, port: number): Promise<BoundAddress> {
  await new Promise<void>((resolve, reject) => {
    const onError = (err: NodeJS.ErrnoException): void => {
      const why = err.code === 'EADDRINUSE'
        ? 'address already in use'
        : err.code === 'EACCES' ? 'permission denied' : err.message
      reject(new BrokerError(ERR.LISTEN, `${name} listener cannot bind ${host}:${port}: ${why}`, { cause: err }))
    }
    server.once('error', onError)
    server.listen(port, host, () => {
      server.off('error', onError)
      resolve()
    })
  })
  const address = server.address()
  if (address === null || typeof address === 'string') throw new Error(`${name} listener has no TCP address`)
  return { host: address.address, port: address.port }
}

export async function closeServer (server: Server): Promise<void> {
  if (!server.listening) return
  await new Promise<void>(resolve => server.close(() => resolve()))
}
