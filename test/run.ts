/**
 * `npm test`: unit tests, then integration tests against a real Redis Cluster started
 * here from redis-server (unless REDIS_CLUSTER_NODES already names one).
 * Usage: node --import tsx test/run.ts [unit|integration|failover|chaos|all]
 * Failover and chaos tests start their own Redis Cluster, because they change it.
 */
import { spawn } from 'node:child_process'
import { readdirSync } from 'node:fs'
import { INSTALL_HINT, redisServerAvailable, startRedisCluster, type RedisCluster } from './support/redis-cluster.js'

const which = process.argv[2] ?? 'all'
if (!['unit', 'integration', 'failover', 'chaos', 'all'].includes(which)) {
  process.stderr.write('usage: test/run.ts [unit|integration|failover|chaos|all]\n')
  process.exit(2)
}
const groups = which === 'all' ? ['unit', 'integration', 'failover', 'chaos'] : [which]
/** Groups that may hold no test file (none today); any other group without one is an error. */
const EMPTY_BY_DESIGN = new Set<string>()
const files = groups.flatMap(group => testFiles(group))
const needsCluster = groups.includes('integration')
const needsRedis = needsCluster || groups.includes('failover') || groups.includes('chaos')

if (needsRedis && !redisServerAvailable()) {
  process.stderr.write(`${INSTALL_HINT}\n`)
  process.exit(1)
}

let cluster: RedisCluster | undefined
const env = { ...process.env }
if (needsCluster && env.REDIS_CLUSTER_NODES === undefined) {
  const started = Date.now()
  cluster = await startRedisCluster()
  env.REDIS_CLUSTER_NODES = cluster.nodes.map(n => `${n.host}:${n.port}`).join(',')
  process.stderr.write(`redis cluster ${env.REDIS_CLUSTER_NODES} ready in ${Date.now() - started} ms\n`)
}

// --test-force-exit: a file whose tests all finished exits even if a library left a
// connection behind (seen once in CI: every test of a file passed, its process lingered
// until the file timed out; ioredis may open a sharded subscriber after quit() when a slot
// refresh it had scheduled fires). The broker itself exits explicitly (bin/slotmq.js).
const child = spawn(process.execPath, ['--import', 'tsx', '--test', '--test-force-exit', '--test-concurrency=1', '--test-timeout=300000', ...files], { stdio: 'inherit', env })
for (const signal of ['SIGINT', 'SIGTERM'] as const) process.on(signal, () => child.kill(signal))
const code = await new Promise<number>(resolve => child.once('exit', (c, s) => resolve(c ?? (s === null ? 1 : 128))))
await cluster?.stop()
process.exit(code)

/** The group's test files; a missing or unreadable directory, or an empty one, ends the run. */
function testFiles (group: string): string[] {
  const dir = `test/${group}`
  let entries: string[]
  try {
    entries = readdirSync(dir, { recursive: true }) as string[]
  } catch (err) {
    process.stderr.write(`test/run.ts: cannot read the ${group} tests in ${dir}: ${(err as Error).message}\n`)
    process.exit(1)
  }
  const found = entries.filter(f => f.endsWith('.test.ts')).map(f => `${dir}/${f}`).sort()
  if (found.length === 0 && !EMPTY_BY_DESIGN.has(group)) {
    process.stderr.write(`test/run.ts: no *.test.ts file in ${dir}\n`)
    process.exit(1)
  }
  return found
}
