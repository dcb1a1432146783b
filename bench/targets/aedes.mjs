// A baseline broker for `slotmq bench compare`: plain aedes 1.2.0 in memory, or (with
// --redis-cluster) the stack users assemble today: aedes + aedes-persistence-redis +
// mqemitter-redis on a Redis Cluster. Not slotmq code: it is what slotmq is measured against.
// Usage: node aedes.mjs --port N [--redis-cluster host:port,...]
import { createRequire } from 'node:module'
import { createServer } from 'node:net'
import { parseArgs } from 'node:util'
import { Aedes } from 'aedes'

const { values } = parseArgs({ options: { port: { type: 'string' }, 'redis-cluster': { type: 'string' } } })
const opts = {}
if (values['redis-cluster'] !== undefined) {
  // The ioredis (5.x) that mqemitter-redis itself depends on, as its users would pass in.
  const Redis = createRequire(createRequire(import.meta.url).resolve('mqemitter-redis'))('ioredis')
  const { default: persistence } = await import('aedes-persistence-redis')
  const { default: mqemitterRedis } = await import('mqemitter-redis')
  const nodes = values['redis-cluster'].split(',').map(s => {
    const i = s.lastIndexOf(':')
    return { host: s.slice(0, i), port: Number(s.slice(i + 1)) }
  })
  opts.persistence = persistence({ cluster: nodes })
  opts.mq = mqemitterRedis({ pubConn: new Redis.Cluster(nodes), subConn: new Redis.Cluster(nodes) })
}
const broker = await Aedes.createBroker(opts)
const server = createServer(broker.handle)
server.listen(Number(values.port), '127.0.0.1', () => process.stdout.write('listening\n'))
process.on('SIGTERM', () => { server.close(); broker.close(() => process.exit(0)) })
