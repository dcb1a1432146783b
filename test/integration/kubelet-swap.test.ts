/**
 * A Kubernetes Secret or ConfigMap volume changes the way the kubelet writes it: the files
 * are symlinks (`users.json -> ..data/users.json`), `..data` is a symlink to a timestamped
 * folder, and an update writes a new folder and renames a new `..data` over the old one.
 * The auth file and the TLS certificate are reloaded after such a swap, without SIGHUP.
 */
import { after, before, describe, test } from 'node:test'
import assert from 'node:assert/strict'
import { copyFileSync, mkdirSync, mkdtempSync, renameSync, rmSync, symlinkSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { connect as tlsConnect } from 'node:tls'
import { X509Certificate } from 'node:crypto'
import { readFileSync } from 'node:fs'
import mqtt from 'mqtt'
import { hashPassword } from '../../src/auth/password.js'
import { hasOpenssl, makePki, type TestPki } from '../helpers/certs.js'
import { startNodes, type Topology } from '../helpers/nodes.js'
import { until } from '../helpers/until.js'

/** A folder laid out as the kubelet does, holding `files`; `swap` replaces them atomically. */
function kubeletVolume (root: string, files: Record<string, string | Buffer>): { path: (name: string) => string, swap: (next: Record<string, string | Buffer>) => void } {
  mkdirSync(root, { recursive: true })
  let generation = 0
  let current = ''
  const write = (next: Record<string, string | Buffer>): string => {
    const dir = `..2026_01_01_00_00_0${generation++}.${process.pid}`
    mkdirSync(join(root, dir))
    for (const [name, content] of Object.entries(next)) writeFileSync(join(root, dir, name), content)
    return dir
  }
  current = write(files)
  symlinkSync(current, join(root, '..data'))
  for (const name of Object.keys(files)) symlinkSync(join('..data', name), join(root, name))
  return {
    path: (name) => join(root, name),
    swap: (next) => {
      const old = current
      current = write(next)
      symlinkSync(current, join(root, '..data_tmp'))
      renameSync(join(root, '..data_tmp'), join(root, '..data'))
      rmSync(join(root, old), { recursive: true, force: true })
    }
  }
}

async function mayConnect (url: string, username: string, password: string): Promise<boolean> {
  try {
    const client = await mqtt.connectAsync(url, { username, password, reconnectPeriod: 0, connectTimeout: 5000 })
    await client.endAsync()
    return true
  } catch {
    return false
  }
}

async function servedFingerprint (port: number): Promise<string> {
  return await new Promise((resolve, reject) => {
    const socket = tlsConnect({ host: '127.0.0.1', port, rejectUnauthorized: false }, () => {
      const fp = socket.getPeerCertificate().fingerprint256
      socket.destroy()
      resolve(fp)
    })
    socket.setTimeout(5000, () => { socket.destroy(); reject(new Error('TLS handshake timed out')) })
    socket.once('error', reject)
  })
}

describe('reload after a kubelet-style symlink swap', { timeout: 120_000, skip: !hasOpenssl() && process.env.CI === undefined ? 'openssl not found' : false }, () => {
  let root: string
  let pki: TestPki
  let topo: Topology
  let auth: ReturnType<typeof kubeletVolume>
  let tls: ReturnType<typeof kubeletVolume>
  let second: { cert: Buffer, key: Buffer }
  before(async () => {
    root = mkdtempSync(join(tmpdir(), 'slotmq-kubelet-'))
    pki = makePki()
    const first = pki.issue('first', 'first', 'server')
    const next = pki.issue('second', 'second', 'server')
    second = { cert: readFileSync(next.certFile), key: readFileSync(next.keyFile) }
    auth = kubeletVolume(join(root, 'auth'), { 'users.json': JSON.stringify({ users: { alice: await hashPassword('alice-pw') } }) })
    tls = kubeletVolume(join(root, 'tls'), { 'tls.crt': readFileSync(first.certFile), 'tls.key': readFileSync(first.keyFile) })
    copyFileSync(pki.caFile, join(root, 'ca.crt'))
    topo = await startNodes(1, {
      'auth-file': auth.path('users.json'),
      'auth-anonymous': 'false',
      'mqtts-port': '0',
      'tls-cert-file': tls.path('tls.crt'),
      'tls-key-file': tls.path('tls.key'),
      'tls-reload-check-ms': '100'
    })
  })
  after(async () => {
    await topo.close()
    pki.remove()
    rmSync(root, { recursive: true, force: true })
  })

  test('a new auth file swapped in by the kubelet is in force without SIGHUP', async () => {
    assert.equal(await mayConnect(topo.urls[0] ?? '', 'alice', 'alice-pw'), true)
    assert.equal(await mayConnect(topo.urls[0] ?? '', 'bob', 'bob-pw'), false)
    auth.swap({ 'users.json': JSON.stringify({ users: { bob: await hashPassword('bob-pw') } }) })
    await until('bob may connect', async () => await mayConnect(topo.urls[0] ?? '', 'bob', 'bob-pw'), 20_000, { intervalMs: 100 })
    assert.equal(await mayConnect(topo.urls[0] ?? '', 'alice', 'alice-pw'), false, 'alice is gone with the old file')
  })

  test('a new certificate and key swapped in by the kubelet are served to new TLS connections', async () => {
    const port = topo.nodes[0]?.mqtts?.port ?? 0
    const before = await servedFingerprint(port)
    const expected = new X509Certificate(second.cert).fingerprint256
    assert.notEqual(before, expected)
    tls.swap({ 'tls.crt': second.cert, 'tls.key': second.key })
    await until('the new certificate is served', async () => await servedFingerprint(port) === expected, 20_000, { intervalMs: 100 })
  })
})
