/**
 * Why a seed did not answer, when the scheme is the likely cause: `redis://` against a
 * TLS port ends in a reset connection, `rediss://` against a plain port in a handshake
 * that never ends. After a failed probe, one short look at the port in the other scheme
 * tells which it speaks.
 */
import { connect as connectTcp } from 'node:net'
import { isIP } from 'node:net'
import { connect as connectTls } from 'node:tls'

export async function schemeHint (seed: { host: string, port: number, tls: boolean }, timeoutMs: number): Promise<string | undefined> {
  if (seed.tls) {
    return await speaksPlainRedis(seed.host, seed.port, timeoutMs) ? 'the server speaks plain Redis, not TLS: use redis://' : undefined
  }
  return await speaksTls(seed.host, seed.port, timeoutMs) ? 'the server speaks TLS: use rediss://' : undefined
}

/** A TLS handshake completes, or the server answers it with a TLS alert. */
async function speaksTls (host: string, port: number, timeoutMs: number): Promise<boolean> {
  return await new Promise<boolean>((resolve) => {
    const socket = connectTls({ host, port, rejectUnauthorized: false, ...(isIP(host) === 0 ? { servername: host } : {}) })
    const done = (answer: boolean): void => {
      clearTimeout(timer)
      socket.destroy()
      resolve(answer)
    }
    const timer = setTimeout(() => done(false), timeoutMs)
    socket.once('secureConnect', () => done(true))
    // A client certificate the server wants, a protocol it refuses: it still spoke TLS.
    socket.once('error', (err: Error) => done(/alert/i.test(err.message)))
  })
}

/** The server answers an inline PING in RESP (`+PONG`, or `-NOAUTH …` before AUTH). */
async function speaksPlainRedis (host: string, port: number, timeoutMs: number): Promise<boolean> {
  return await new Promise<boolean>((resolve) => {
    const socket = connectTcp({ host, port })
    const done = (answer: boolean): void => {
      clearTimeout(timer)
      socket.destroy()
      resolve(answer)
    }
    const timer = setTimeout(() => done(false), timeoutMs)
    socket.once('connect', () => socket.write('PING\r\n'))
    socket.once('data', (chunk: Buffer) => done(chunk[0] === 0x2b || chunk[0] === 0x2d))
    socket.once('error', () => done(false))
    socket.once('close', () => done(false))
  })
}
