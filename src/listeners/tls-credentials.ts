/**
 * The certificate, key and CA of the TLS listeners: read and checked at start-up (a bad
 * file stops the start with a clear error), then polled for changes. A changed set that
 * loads is handed to every TLS server (`setSecureContext`): new handshakes use it, open
 * connections keep theirs. A changed set that does not load is logged and the previous
 * one stays in use, so a half-written renewal never takes the listeners down.
 */
import { X509Certificate } from 'node:crypto'
import { createSecureContext, type SecureContextOptions } from 'node:tls'
import { readFileSync, unwatchFile, watchFile, type Stats } from 'node:fs'
import type { Counter } from 'prom-client'
import { BrokerError, ERR } from '../errors.js'
import type { Logger } from '../logger.js'

export interface TlsFiles {
  certFile: string
  keyFile: string
  caFile: string | undefined
}

/** Files settle for this long after a change before they are read (cert and key renewed one after the other). */
const SETTLE_MS = 100

export interface TlsCredentials {
  /** The options currently in use, for a server created now. */
  readonly current: SecureContextOptions
  /** Called with every set that loaded after a change. */
  onReload: (listener: (options: SecureContextOptions) => void) => void
  close: () => void
}

/**
 * Reads the files and starts watching them. Throws BrokerError ERR_TLS when they cannot
 * be read or do not form a usable certificate and key.
 */
export function loadTlsCredentials (
  files: TlsFiles,
  opts: { checkIntervalMs: number, log: Logger, reloads: Counter<'result'> }
): TlsCredentials {
  let current = readCredentials(files)
  opts.log.info({ certificate: describe(current) }, 'tls certificate loaded')
  const listeners: Array<(options: SecureContextOptions) => void> = []
  let timer: NodeJS.Timeout | undefined
  const reload = (): void => {
    timer = undefined
    let next: SecureContextOptions
    try {
      next = readCredentials(files)
    } catch (err) {
      opts.reloads.inc({ result: 'failed' })
      opts.log.error({ err: { message: (err as Error).message } }, 'tls certificate not reloaded: keeping the previous one')
      return
    }
    current = next
    for (const l of listeners) l(next)
    opts.reloads.inc({ result: 'ok' })
    opts.log.info({ certificate: describe(next) }, 'tls certificate reloaded')
  }
  const changed = (now: Stats, before: Stats): void => {
    if (now.mtimeMs === before.mtimeMs && now.ino === before.ino && now.size === before.size) return
    clearTimeout(timer)
    timer = setTimeout(reload, SETTLE_MS)
    timer.unref()
  }
  const paths = [files.certFile, files.keyFile, ...(files.caFile === undefined ? [] : [files.caFile])]
  for (const p of paths) watchFile(p, { interval: opts.checkIntervalMs, persistent: false }, changed)
  return {
    get current () { return current },
    onReload: (listener) => { listeners.push(listener) },
    close: () => {
      clearTimeout(timer)
      for (const p of paths) unwatchFile(p, changed)
    }
  }
}

function readCredentials (files: TlsFiles): SecureContextOptions {
  const read = (what: string, path: string): Buffer => {
    try {
      return readFileSync(path)
    } catch (err) {
      throw new BrokerError(ERR.TLS, `cannot read TLS ${what} ${path}: ${(err as Error).message}`, { cause: err })
    }
  }
  const options: SecureContextOptions = {
    cert: read('certificate file', files.certFile),
    key: read('key file', files.keyFile),
    ...(files.caFile === undefined ? {} : { ca: read('CA file', files.caFile) })
  }
  try {
    new X509Certificate(options.cert as Buffer) // eslint-disable-line no-new
  } catch (err) {
    throw new BrokerError(ERR.TLS, `TLS certificate file ${files.certFile} holds no PEM certificate: ${(err as Error).message}`, { cause: err })
  }
  try {
    // Checks the key parses and matches the certificate, and that the CA file parses.
    createSecureContext(options)
  } catch (err) {
    throw new BrokerError(ERR.TLS, `TLS certificate ${files.certFile}, key ${files.keyFile}${files.caFile === undefined ? '' : ` or CA ${files.caFile}`} unusable: ${(err as Error).message}`, { cause: err })
  }
  return options
}

function describe (options: SecureContextOptions): Record<string, string> {
  const cert = new X509Certificate(options.cert as Buffer)
  return { subject: cert.subject, issuer: cert.issuer, validTo: cert.validTo, fingerprint256: cert.fingerprint256 }
}
