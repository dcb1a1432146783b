/**
 * Redis start-up never hangs: a seed that accepts TCP and never answers, a TLS port
 * given as redis://, a plain port given as rediss://: the node exits 1 with the seed and
 * the reason (a hint for the scheme). And `slotmq doctor` on a good and on a restricted
 * Redis. The time to exit is measured and reported, not asserted.
 */
import { after, before, describe, test } from 'node:test'
import assert from 'node:assert/strict'
import { createServer, type Server, type Socket } from 'node:net'
import { freePort, startRedisServer, type RedisCluster } from '../support/redis-cluster.js'
import { hasOpenssl, makePki, type TestPki } from '../helpers/certs.js'
import { useRedisCluster, type TestRedis } from '../helpers/redis.js'
import { runSlotmq } from '../helpers/process.js'
import { Redis } from 'ioredis'

const START = ['start', '--host', '127.0.0.1', '--mqtt-port', '0', '--ws-port', 'off', '--http-port', 'off']

/** A real socket that accepts connections and never writes a byte. */
async function silentServer (): Promise<{ port: number, close: () => Promise<void> }> {
  const sockets = new Set<Socket>()
  const server: Server = createServer((s) => { sockets.add(s); s.on('error', () => {}) })
  await new Promise<void>(resolve => server.listen(0, '127.0.0.1', resolve))
  return {
    port: (server.address() as { port: number }).port,
    close: async () => {
      for (const s of sockets) s.destroy()
      await new Promise<void>(resolve => server.close(() => resolve()))
    }
  }
}

describe('Redis start-up', { timeout: 120_000 }, () => {
  test('a seed that accepts TCP and never answers: exit 1 naming the seed and the stage it stopped at', async (t) => {
    const silent = await silentServer()
    t.after(silent.close)
    const started = Date.now()
    const r = await runSlotmq([...START, '--redis', `127.0.0.1:${silent.port}`], { timeoutMs: 60_000 })
    t.diagnostic(`exited after ${Date.now() - started} ms (target: 15 s)`)
    assert.equal(r.code, 1, r.stderr)
    assert.match(r.stderr, new RegExp(`no Redis seed answered: 127\\.0\\.0\\.1:${silent.port}: no answer within 10 s \\(connected, waiting for the first reply\\)`))
  })

  test('rediss:// against a plain port: exit 1 with the hint to use redis://', async (t) => {
    const plain = await startRedisServer()
    t.after(plain.stop)
    const port = plain.nodes[0]?.port ?? 0
    const started = Date.now()
    const r = await runSlotmq([...START, '--redis', `rediss://127.0.0.1:${port}`], { timeoutMs: 60_000 })
    t.diagnostic(`exited after ${Date.now() - started} ms`)
    assert.equal(r.code, 1, r.stderr)
    assert.match(r.stderr, /the server speaks plain Redis, not TLS: use redis:\/\//)
  })

  describe('against a TLS port', { skip: !hasOpenssl() && process.env.CI === undefined ? 'openssl not found' : false }, () => {
    let pki: TestPki
    let redis: RedisCluster
    let tlsPort: number
    before(async () => {
      pki = makePki()
      const server = pki.issue('redis', 'redis', 'server')
      tlsPort = await freePort(0)
      redis = await startRedisServer(['--tls-port', String(tlsPort), '--tls-cert-file', server.certFile, '--tls-key-file', server.keyFile,
        '--tls-ca-cert-file', pki.caFile])
    })
    after(async () => {
      await redis.stop()
      pki.remove()
    })

    test('redis:// against a TLS port: exit 1 with the hint to use rediss://', async (t) => {
      const started = Date.now()
      const r = await runSlotmq([...START, '--redis', `redis://127.0.0.1:${tlsPort}`], { timeoutMs: 60_000 })
      t.diagnostic(`exited after ${Date.now() - started} ms`)
      assert.equal(r.code, 1, r.stderr)
      assert.match(r.stderr, new RegExp(`127\\.0\\.0\\.1:${tlsPort}: .*\\(the server speaks TLS: use rediss://\\)`))
    })
  })
})

describe('slotmq doctor', { timeout: 120_000 }, () => {
  let cluster: TestRedis
  before(async () => { cluster = await useRedisCluster() })
  after(async () => { await cluster.stop() })

  test('a Redis Cluster 7 with a full-permission user passes every check (exit 0)', async () => {
    const r = await runSlotmq(['doctor', '--redis', cluster.seeds[0] ?? '', '--json'], { timeoutMs: 60_000 })
    assert.equal(r.code, 0, r.stdout + r.stderr)
    const report = JSON.parse(r.stdout) as { ok: boolean, checks: Array<{ name: string, ok: boolean, detail: string }> }
    assert.deepEqual(report.checks.map(c => c.name), ['connect', 'version', 'spublish', 'cluster', 'commands', 'latency'])
    assert.match(report.checks.find(c => c.name === 'cluster')?.detail ?? '', /16384 of 16384 slots served/)
  })

  test('a user without the stream and Lua commands: exit 1 naming each missing ACL rule', async (t) => {
    const single = await startRedisServer()
    t.after(single.stop)
    const port = single.nodes[0]?.port ?? 0
    const admin = new Redis({ host: '127.0.0.1', port })
    t.after(() => admin.disconnect())
    await admin.call('ACL', 'SETUSER', 'limited', 'on', '>limited-secret', '~mqtt:*', '&mqtt:*', '+@all', '-xadd', '-eval', '-evalsha')
    const r = await runSlotmq(['doctor', '--redis', `redis://limited:limited-secret@127.0.0.1:${port}`], { timeoutMs: 60_000 })
    assert.equal(r.code, 1, r.stdout + r.stderr)
    assert.match(r.stdout, /PROBLEM\s+commands\s+refused for user limited: \+xadd \+eval \+evalsha/)
    assert.doesNotMatch(r.stdout, /failed:/)
  })

  test('an unreachable Redis is one failed check with the reason (exit 1)', async (t) => {
    const silent = await silentServer()
    t.after(silent.close)
    const r = await runSlotmq(['doctor', '--redis', `127.0.0.1:${silent.port}`], { timeoutMs: 60_000 })
    assert.equal(r.code, 1)
    assert.match(r.stdout, /PROBLEM\s+connect\s+127\.0\.0\.1:\d+: no answer within 10 s/)
  })
})
