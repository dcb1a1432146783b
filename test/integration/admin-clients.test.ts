/**
 * `GET /admin/clients` asks every live member for its clients: a member that never
 * answers (a lease whose node is not there: a node of an older release, or one dying)
 * is reported as not answering once the reply time is over, and the others' clients are
 * listed all the same.
 */
import { after, before, describe, test } from 'node:test'
import assert from 'node:assert/strict'
import { adminCommand } from '../../src/admin/command.js'
import { REPLY_TIMEOUT_MS } from '../../src/admin/cluster-clients.js'
import { createKeySpace } from '../../src/redis/keys.js'
import { closeAll, connect, unique } from '../helpers/mqtt.js'
import { adminHeaders, startNodes, TEST_ADMIN_TOKEN, type Topology } from '../helpers/nodes.js'
import { clusterClient, uniquePrefix, useRedisCluster, type TestRedis } from '../helpers/redis.js'
import { within } from '../helpers/until.js'

/** A member id that sorts after the real ones (so it never publishes the $SYS totals). */
const SILENT = 'zz-silent~00000000'

describe('admin clients with a member that does not answer', () => {
  let redis: TestRedis
  let topo: Topology
  const prefix = uniquePrefix()
  const keys = createKeySpace(prefix)
  let cmd: ReturnType<typeof clusterClient>

  before(async () => {
    redis = await useRedisCluster()
    topo = await startNodes(2, { redis: redis.seeds.join(','), 'redis-prefix': prefix })
    cmd = clusterClient(redis.seeds)
    // A lease that runs for a minute, held by no process: its inbox has no reader.
    const [sec] = await cmd.time()
    await cmd.zadd(keys.nodes(), Number(sec) * 1000 + 60_000, SILENT)
  })
  after(async () => {
    await cmd.zrem(keys.nodes(), SILENT)
    await cmd.quit()
    await closeAll()
    await topo.close()
    await redis.stop()
  })

  test('the silent member is listed as not answering after the reply time, the others\' clients are listed', async () => {
    const clientId = unique('answered')
    await connect(topo.urls[1] as string, { clientId })
    const url = `http://127.0.0.1:${topo.nodes[0]?.http?.port ?? 0}`
    const res = await within('GET /admin/clients', fetch(`${url}/admin/clients`, { headers: adminHeaders }), REPLY_TIMEOUT_MS + 10_000)
    assert.equal(res.status, 200)
    const body = await res.json() as { nodes: Array<{ memberId: string, answered: boolean, connected: number | null }>, clients: Array<{ clientId: string }> }
    assert.deepEqual(body.nodes.find(n => n.memberId === SILENT), { memberId: SILENT, nodeId: 'zz-silent', answered: false, connected: null, listed: 0 })
    assert.equal(body.nodes.filter(n => n.answered).length, 2, JSON.stringify(body.nodes))
    assert.ok(body.clients.some(c => c.clientId === clientId), `the client on the other node is listed: ${JSON.stringify(body.clients)}`)

    const out: string[] = []
    const io = { env: { SLOTMQ_ADMIN_TOKEN: TEST_ADMIN_TOKEN }, out: (t: string) => out.push(t), err: (t: string) => out.push(t) }
    assert.equal(await within('slotmq admin clients', adminCommand(['clients', '--url', url], io), REPLY_TIMEOUT_MS + 10_000), 0)
    assert.match(out.join(''), /^node zz-silent \(zz-silent~00000000\) did not answer: its clients are not listed$/m, out.join(''))
    assert.match(out.join(''), new RegExp(`^${clientId} `, 'm'))
  })
})
