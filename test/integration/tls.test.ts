/**
 * MQTT over TLS and secure WebSocket with certificates made at test time by openssl:
 * trust through the CA, client-certificate authentication (CN as user name), and
 * certificate reload without dropping open connections.
 */
import { after, afterEach, before, describe, test } from 'node:test'
import assert from 'node:assert/strict'
import { X509Certificate } from 'node:crypto'
import { copyFileSync, readFileSync, writeFileSync } from 'node:fs'
import { connect as netConnect } from 'node:net'
import { connect as tlsConnect, type ConnectionOptions } from 'node:tls'
import type { Aedes, Client } from 'aedes'
import mqttPacket from 'mqtt-packet'
import { clientsOf } from '../../src/aedes/internals.js'
import { createBroker } from '../../src/broker.js'
import { loadConfig } from '../../src/config.js'
import { BrokerError } from '../../src/errors.js'
import { createLogger } from '../../src/logger.js'
import { certificateUser } from '../../src/listeners/tls.js'
import { hasOpenssl, makePki, type TestPki } from '../helpers/certs.js'
import { closeAll, collect, connect, connectLater, connectPacket, unique } from '../helpers/mqtt.js'
import { startNodes, type Topology } from '../helpers/nodes.js'
import { until, within } from '../helpers/until.js'

// In CI a missing openssl fails the tests instead of skipping them (.ci/run installs it).
const skip = hasOpenssl() || process.env.CI !== undefined ? false : 'the openssl binary is needed to make test certificates'

function tlsFlags (pki: TestPki, server: { certFile: string, keyFile: string }, extra: Record<string, string> = {}): Record<string, string> {
  return {
    'mqtts-port': '0',
    'wss-port': '0',
    'tls-cert-file': server.certFile,
    'tls-key-file': server.keyFile,
    'tls-ca-file': pki.caFile,
    'tls-reload-check-ms': '50',
    ...extra
  }
}

/** The SHA-256 fingerprint of the certificate a new TLS connection is served. */
async function servedFingerprint (port: number, ca: Buffer): Promise<string> {
  return await new Promise((resolve, reject) => {
    const socket = tlsConnect({ host: '127.0.0.1', port, ca }, () => {
      resolve(socket.getPeerCertificate().fingerprint256)
      socket.destroy()
    })
    socket.on('error', reject)
  })
}

/** The aedes client `clientId` once it has connected (bounded wait). */
async function clientSeen (topo: Topology, clientId: string, timeoutMs = 5000): Promise<Client> {
  const aedes = topo.nodes[0]?.aedes
  assert.ok(aedes !== undefined, 'a node')
  let found: Client | undefined
  await until(`aedes has client ${clientId}`, () => (found = clientsOf(aedes)[clientId]) !== undefined, timeoutMs, { observed: () => Object.keys(clientsOf(aedes)) })
  return found as Client
}

/**
 * Opens a TLS connection with `opts` and resolves with the error the client gets (its code
 * and message: the TLS alert of a refused handshake); fails if the connection closes
 * without one, or is still open after the timeout.
 */
async function handshakeError (port: number, opts: ConnectionOptions, timeoutMs = 5000): Promise<string> {
  const socket = tlsConnect({ host: '127.0.0.1', port, ...opts })
  try {
    return await within('the handshake to be refused', new Promise<string>((resolve, reject) => {
      socket.once('error', (err: Error & { code?: string }) => resolve(`${err.code ?? ''} ${err.message}`))
      socket.once('close', () => reject(new Error('the connection closed without a TLS error')))
    }), timeoutMs)
  } finally {
    socket.destroy()
  }
}

/**
 * Opens a TLS connection with `opts` and sends a CONNECT for `clientId` once the client
 * side of the handshake is done; resolves with the bytes received when the server has
 * closed the connection (fails if it is still open after the timeout).
 */
async function closedByServer (port: number, opts: ConnectionOptions, clientId: string, timeoutMs = 5000): Promise<number> {
  const socket = tlsConnect({ host: '127.0.0.1', port, ...opts })
  let received = 0
  socket.on('data', (chunk: Buffer) => { received += chunk.length })
  socket.on('error', () => {})
  socket.once('secureConnect', () => socket.write(mqttPacket.generate(connectPacket(clientId))))
  try {
    await within('the server to close the connection', new Promise(resolve => socket.once('close', resolve)), timeoutMs)
    return received
  } finally {
    socket.destroy()
  }
}

async function counter (topo: Topology, name: string, label: string): Promise<number> {
  const text = await topo.nodes[0]?.metrics.registry.getSingleMetricAsString(name) ?? ''
  const m = new RegExp(`${label}\\} (\\d+)`).exec(text)
  return m === null ? 0 : Number(m[1])
}

describe('TLS listeners', { timeout: 60_000, skip }, () => {
  let pki: TestPki
  let topo: Topology
  let ca: Buffer
  let mqtts: string
  let wss: string
  before(async () => {
    pki = makePki()
    ca = readFileSync(pki.caFile)
    topo = await startNodes(1, tlsFlags(pki, pki.issue('server', 'localhost', 'server')))
    mqtts = `mqtts://127.0.0.1:${topo.nodes[0]?.mqtts?.port ?? 0}`
    wss = `wss://127.0.0.1:${topo.nodes[0]?.wss?.port ?? 0}/mqtt`
  })
  afterEach(closeAll)
  after(async () => {
    await topo.close()
    pki.remove()
  })

  test('a client that trusts the CA publishes over mqtts to a subscriber on plain TCP', async () => {
    const topic = unique('tls')
    const sub = await connect(topo.urls[0] as string)
    const got = collect(sub)
    await sub.subscribeAsync(topic, { qos: 1 })
    const pub = await connect(mqtts, { ca })
    await pub.publishAsync(topic, 'over tls', { qos: 1 })
    assert.equal((await got.waitFor(1))[0]?.payload, 'over tls')
  })

  test('a client that trusts the CA subscribes over wss on /mqtt and receives', async () => {
    const topic = unique('wss')
    const sub = await connect(wss, { ca })
    const got = collect(sub)
    await sub.subscribeAsync(topic, { qos: 1 })
    const pub = await connect(topo.urls[0] as string)
    await pub.publishAsync(topic, 'over wss', { qos: 1 })
    assert.equal((await got.waitFor(1))[0]?.payload, 'over wss')
  })

  test('a client that does not trust the CA fails the handshake and the node keeps serving others', async () => {
    const { connected } = connectLater(mqtts, { ca: readFileSync(pki.otherCa()) })
    await assert.rejects(within('the handshake to fail', connected()), /certificate/)
    const ok = await connect(mqtts, { ca })
    assert.equal(ok.connected, true)
  })

  test('without client certificate authentication a TLS client has no certificate user', async () => {
    const clientId = unique('no-cert')
    await connect(mqtts, { ca, clientId })
    assert.equal(certificateUser(await clientSeen(topo, clientId)), undefined)
  })

  test('replaced certificate files are served to new connections while an open connection keeps working', async () => {
    const port = topo.nodes[0]?.mqtts?.port ?? 0
    const topic = unique('reload')
    const open = await connect(mqtts, { ca })
    const got = collect(open)
    await open.subscribeAsync(topic, { qos: 1 })
    const before = await servedFingerprint(port, ca)
    const renewed = pki.issue('renewed', 'localhost', 'server')
    const expected = new X509Certificate(readFileSync(renewed.certFile)).fingerprint256
    assert.notEqual(before, expected)
    copyFileSync(renewed.keyFile, pki.dir + '/server.key')
    copyFileSync(renewed.certFile, pki.dir + '/server.crt')
    await until('new connections get the renewed certificate', async () => await servedFingerprint(port, ca) === expected, 10_000)
    await open.publishAsync(topic, 'still here', { qos: 1 })
    assert.equal((await got.waitFor(1))[0]?.payload, 'still here')
    const reloads = await counter(topo, 'slotmq_tls_reloads_total', 'result="ok"')
    assert.ok(reloads >= 1, `successful reloads counted: ${reloads}`)
    const wssPort = topo.nodes[0]?.wss?.port ?? 0
    assert.equal(await servedFingerprint(wssPort, ca), expected)
  })

  test('an unusable certificate on reload is logged and counted, and the previous one stays in use', async () => {
    const port = topo.nodes[0]?.mqtts?.port ?? 0
    const current = await servedFingerprint(port, ca)
    const failedBefore = await counter(topo, 'slotmq_tls_reloads_total', 'result="failed"')
    writeFileSync(pki.dir + '/server.crt', 'not a certificate\n')
    await until('the failed reload is counted', async () => await counter(topo, 'slotmq_tls_reloads_total', 'result="failed"') > failedBefore, 10_000)
    assert.equal(await servedFingerprint(port, ca), current)
    const ok = await connect(mqtts, { ca })
    assert.equal(ok.connected, true)
  })
})

describe('TLS with client certificate authentication', { timeout: 60_000, skip }, () => {
  let pki: TestPki
  let topo: Topology
  let ca: Buffer
  before(async () => {
    pki = makePki()
    ca = readFileSync(pki.caFile)
    topo = await startNodes(1, tlsFlags(pki, pki.issue('server', 'localhost', 'server'), { 'tls-client-cert-auth': 'true' }))
  })
  afterEach(closeAll)
  after(async () => {
    await topo.close()
    pki.remove()
  })

  test('a client without a certificate is refused during the handshake', async () => {
    assert.match(await handshakeError(topo.nodes[0]?.mqtts?.port ?? 0, { ca }), /CERTIFICATE_REQUIRED|certificate required/i)
  })

  test('a client with a certificate from another CA is refused during the handshake', async () => {
    const other = makePki()
    try {
      const stranger = other.issue('stranger', 'mallory', 'client')
      // The server checks the certificate once the handshake is done and closes the
      // connection at once: it reads nothing, so the CONNECT sent meanwhile gets no answer.
      const clientId = unique('stranger')
      assert.equal(await closedByServer(topo.nodes[0]?.mqtts?.port ?? 0, { ca, key: readFileSync(stranger.keyFile), cert: readFileSync(stranger.certFile) }, clientId), 0, 'bytes received')
      assert.equal(clientsOf(topo.nodes[0]?.aedes as Aedes)[clientId], undefined, 'no client registered')
    } finally {
      other.remove()
    }
  })

  test('a client with a CA-signed certificate connects over mqtts and its CN is its certificate user', async () => {
    const alice = pki.issue('alice', 'alice', 'client')
    const clientId = unique('alice')
    await connect(`mqtts://127.0.0.1:${topo.nodes[0]?.mqtts?.port ?? 0}`, { ca, clientId, key: readFileSync(alice.keyFile), cert: readFileSync(alice.certFile) })
    assert.equal(certificateUser(await clientSeen(topo, clientId)), 'alice')
  })

  test('a client with a CA-signed certificate connects over wss and its CN is its certificate user', async () => {
    const bob = pki.issue('bob', 'bob', 'client')
    const clientId = unique('bob')
    await connect(`wss://127.0.0.1:${topo.nodes[0]?.wss?.port ?? 0}/mqtt`, { ca, clientId, key: readFileSync(bob.keyFile), cert: readFileSync(bob.certFile) })
    assert.equal(certificateUser(await clientSeen(topo, clientId)), 'bob')
  })

  test('a client on plain TCP has no certificate user', async () => {
    const clientId = unique('plain')
    await connect(topo.urls[0] as string, { clientId })
    assert.equal(certificateUser(await clientSeen(topo, clientId)), undefined)
  })
})

describe('a client certificate as credentials', { timeout: 60_000, skip }, () => {
  let pki: TestPki
  let topo: Topology
  let ca: Buffer
  before(async () => {
    pki = makePki()
    ca = readFileSync(pki.caFile)
    topo = await startNodes(1, tlsFlags(pki, pki.issue('server', 'localhost', 'server'), { 'tls-client-cert-auth': 'true', 'auth-anonymous': 'false' }))
  })
  afterEach(closeAll)
  after(async () => {
    await topo.close()
    pki.remove()
  })

  test('with anonymous clients refused, a client with a CA-signed certificate and no user name is let in over mqtts and wss', async () => {
    const device = pki.issue('device', 'device-7', 'client')
    const tlsOpts = { ca, key: readFileSync(device.keyFile), cert: readFileSync(device.certFile) }
    const topic = unique('cert')
    const sub = await connect(`wss://127.0.0.1:${topo.nodes[0]?.wss?.port ?? 0}/mqtt`, tlsOpts)
    const got = collect(sub)
    await sub.subscribeAsync(topic, { qos: 1 })
    const pub = await connect(`mqtts://127.0.0.1:${topo.nodes[0]?.mqtts?.port ?? 0}`, tlsOpts)
    await pub.publishAsync(topic, 'from device-7', { qos: 1 })
    assert.equal((await got.waitFor(1))[0]?.payload, 'from device-7')
  })

  test('[MQTT-3.2.2-5] with anonymous clients refused, a client on plain TCP without a user name gets CONNACK 0x05', async () => {
    const { connected } = connectLater(topo.urls[0] as string)
    await assert.rejects(within('the CONNACK', connected()), (err: Error & { code?: number }) => {
      assert.equal(err.code, 5, `CONNACK return code 5 (not authorized): ${err.message}`)
      return true
    })
  })
})

describe('a TLS handshake that does not finish', { timeout: 60_000, skip }, () => {
  let pki: TestPki
  let topo: Topology

  before(async () => {
    pki = makePki()
    topo = await startNodes(1, tlsFlags(pki, pki.issue('server', 'localhost', 'server'), { 'mqtt-connect-timeout-ms': '300' }))
  })
  afterEach(closeAll)
  after(async () => {
    await topo.close()
    pki.remove()
  })

  test('a connection that never completes its TLS handshake is closed by the node (mqtt.connectTimeoutMs), which keeps serving', async () => {
    for (const port of [topo.nodes[0]?.mqtts?.port ?? 0, topo.nodes[0]?.wss?.port ?? 0]) {
      // TCP only: not a byte of a ClientHello, so neither TLS nor MQTT ever starts.
      const socket = netConnect({ host: '127.0.0.1', port })
      socket.on('error', () => {})
      try {
        // Far longer than the 300 ms timeout, far shorter than Node's default of 120 s.
        await within(`the node to close a silent TCP connection to TLS port ${port}`, new Promise(resolve => socket.once('close', resolve)), 15_000,
          () => ({ destroyed: socket.destroyed, readyState: socket.readyState }))
      } finally {
        socket.destroy()
      }
    }
    const client = await connect(`mqtts://127.0.0.1:${topo.nodes[0]?.mqtts?.port ?? 0}`, { ca: readFileSync(pki.caFile) })
    assert.equal(client.connected, true, 'a client completing its handshake is still served')
  })
})

describe('TLS configuration', { skip }, () => {
  test('a TLS port without certificate and key is a configuration error naming both', () => {
    assert.throws(() => loadConfig({ flags: { 'mqtts-port': '8883' } }), (err: BrokerError) => {
      assert.ok(err.problems.some(p => p.startsWith('tls.certFile: required')), err.problems.join('\n'))
      assert.ok(err.problems.some(p => p.startsWith('tls.keyFile: required')), err.problems.join('\n'))
      return true
    })
  })

  test('client certificate authentication without a CA file is a configuration error', () => {
    assert.throws(() => loadConfig({ flags: { 'wss-port': '0', 'tls-cert-file': 'c.pem', 'tls-key-file': 'k.pem', 'tls-client-cert-auth': 'true' } }),
      (err: BrokerError) => err.problems.some(p => p.startsWith('tls.caFile: required')))
  })

  test('a node whose certificate file holds no certificate does not start and says which file', async () => {
    const pki = makePki()
    try {
      const server = pki.issue('server', 'localhost', 'server')
      writeFileSync(server.certFile, 'garbage\n')
      const config = loadConfig({ flags: { host: '127.0.0.1', 'mqtt-port': '0', 'ws-port': 'off', 'http-port': 'off', 'mqtts-port': '0', 'tls-cert-file': server.certFile, 'tls-key-file': server.keyFile, 'log-level': 'silent' } })
      await assert.rejects(createBroker(config, { log: createLogger({ level: 'silent', nodeId: config.nodeId }) }),
        (err: BrokerError) => err.code === 'ERR_TLS' && err.message.includes(server.certFile))
    } finally {
      pki.remove()
    }
  })

  test('a node whose key does not match its certificate does not start', async () => {
    const pki = makePki()
    try {
      const server = pki.issue('server', 'localhost', 'server')
      const other = pki.issue('other', 'localhost', 'server')
      const config = loadConfig({ flags: { host: '127.0.0.1', 'mqtt-port': '0', 'ws-port': 'off', 'http-port': 'off', 'mqtts-port': '0', 'tls-cert-file': server.certFile, 'tls-key-file': other.keyFile, 'log-level': 'silent' } })
      await assert.rejects(createBroker(config, { log: createLogger({ level: 'silent', nodeId: config.nodeId }) }),
        (err: BrokerError) => err.code === 'ERR_TLS')
    } finally {
      pki.remove()
    }
  })
})
