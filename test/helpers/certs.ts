/**
 * Throw-away certificates for TLS tests, made with the `openssl` binary in a temporary
 * directory: a CA, server certificates for 127.0.0.1/localhost and client certificates,
 * all signed by that CA (P-256 keys, valid for one day).
 */
import { execFileSync } from 'node:child_process'
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'

export interface TestPki {
  dir: string
  caFile: string
  /** A new key and certificate signed by the CA; `server` ones name 127.0.0.1 and localhost. */
  issue: (name: string, cn: string, kind: 'server' | 'client') => { certFile: string, keyFile: string }
  /** A CA of its own, which signs nothing the broker trusts. */
  otherCa: () => string
  remove: () => void
}

export function hasOpenssl (): boolean {
  try {
    execFileSync('openssl', ['version'], { stdio: 'ignore' })
    return true
  } catch {
    return false
  }
}

export function makePki (): TestPki {
  const dir = mkdtempSync(join(tmpdir(), 'slotmq-tls-'))
  const openssl = (...args: string[]): void => { execFileSync('openssl', args, { cwd: dir, stdio: 'pipe' }) }
  const newKey = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes']
  const makeCa = (name: string): void => openssl('req', '-x509', ...newKey, '-keyout', `${name}.key`, '-out', `${name}.crt`,
    '-days', '1', '-subj', `/CN=${name}`, '-addext', 'basicConstraints=critical,CA:TRUE', '-addext', 'keyUsage=critical,keyCertSign')
  makeCa('ca')
  let serial = 1
  return {
    dir,
    caFile: join(dir, 'ca.crt'),
    issue (name, cn, kind) {
      openssl('req', ...newKey, '-keyout', `${name}.key`, '-out', `${name}.csr`, '-subj', `/CN=${cn}`)
      writeFileSync(join(dir, `${name}.ext`), kind === 'server'
        ? 'subjectAltName=IP:127.0.0.1,DNS:localhost\nextendedKeyUsage=serverAuth\n'
        : 'extendedKeyUsage=clientAuth\n')
      openssl('x509', '-req', '-in', `${name}.csr`, '-CA', 'ca.crt', '-CAkey', 'ca.key', '-set_serial', String(serial++),
        '-days', '1', '-extfile', `${name}.ext`, '-out', `${name}.crt`)
      return { certFile: join(dir, `${name}.crt`), keyFile: join(dir, `${name}.key`) }
    },
    otherCa () {
      makeCa('other-ca')
      return join(dir, 'other-ca.crt')
    },
    remove: () => rmSync(dir, { recursive: true, force: true })
  }
}
