/**
 * rediss:// to a Redis whose certificate a private CA signed (as Memorystore's
 * per-instance CA): trusted with redis.tlsCaFile, refused at start-up without it.
 * A redis-server with TLS on a free port and throw-away certificates from `openssl`.
 */
import { after, before, describe, test } from 'node:test'
import assert from 'node:assert/strict'
import { createBroker } from '../../src/broker.js'
import { loadConfig } from '../../src/config.js'
import { createLogger } from '../../src/logger.js'
import { freePort, startRedisServer, type RedisCluster } from '../support/redis-cluster.js'
import { hasOpenssl, makePki, type TestPki } from '../helpers/certs.js'
import { closeAll, collect, connect, unique } from '../helpers/mqtt.js'
import { startNodes, type Topology } from '../helpers/nodes.js'
import { uniquePrefix } from '../helpers/redis.js'

const skip = !hasOpenssl() && process.env.CI === undefined ? 'openssl not found' : false

describe('Redis over TLS with a private CA', { timeout: 60_000, skip }, () => {
  let pki: TestPki
  let redis: RedisCluster
  let seed: string
  before(async () => {
    pki = makePki()
    const server = pki.issue('redis', 'redis', 'server')
    const tlsPort = await freePort(0)
    redis = await startRedisServer(['--tls-port', String(tlsPort), '--tls-cert-file', server.certFile, '--tls-key-file', server.keyFile,
      '--tls-ca-cert-file', pki.caFile, '--tls-auth-clients', 'no'])
    seed = `rediss://127.0.0.1:${tlsPort}`
  })
  after(async () => {
    await closeAll()
    await redis.stop()
    pki.remove()
  })

  test('a rediss:// seed whose certificate the CA in redis.tlsCaFile signed is trusted, and the nodes route through it', async () => {
    const topo: Topology = await startNodes(2, { redis: seed, 'redis-tls-ca-file': pki.caFile, 'redis-prefix': uniquePrefix() })
    try {
      assert.equal(topo.nodes[0]?.mode, 'redis')
      const topic = unique('tls')
      const sub = await connect(topo.urls[1] ?? '')
      const got = collect(sub)
      await sub.subscribeAsync(topic, { qos: 1 })
      const pub = await connect(topo.urls[0] ?? '')
      await pub.publishAsync(topic, 'over tls', { qos: 1 })
      assert.equal((await got.waitFor(1))[0]?.payload, 'over tls')
    } finally {
      await closeAll()
      await topo.close()
    }
  })

  test('without redis.tlsCaFile the private CA is not trusted and the node does not start', async () => {
    const config = loadConfig({ flags: { host: '127.0.0.1', 'mqtt-port': '0', 'ws-port': 'off', 'http-port': 'off', redis: seed, 'log-level': 'silent' } })
    await assert.rejects(createBroker(config, { log: createLogger({ level: 'silent', nodeId: config.nodeId }) }),
      /no Redis seed answered: 127\.0\.0\.1:\d+: .*(self-signed certificate|unable to verify)/)
  })

  test('an unreadable redis.tlsCaFile stops start-up with its name', async () => {
    const config = loadConfig({ flags: { host: '127.0.0.1', 'mqtt-port': '0', 'ws-port': 'off', 'http-port': 'off', redis: seed, 'redis-tls-ca-file': '/nonexistent/ca.pem', 'log-level': 'silent' } })
    await assert.rejects(createBroker(config, { log: createLogger({ level: 'silent', nodeId: config.nodeId }) }), /cannot read redis\.tlsCaFile \/nonexistent\/ca\.pem/)
  })
})
