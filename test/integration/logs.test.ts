/**
 * What the logs look like: level labels, each key once per line (child loggers must not
 * repeat `module`), the peer's address on client error lines (TCP and WebSocket), JSON
 * lines when standard output is a pipe and pretty lines when it is a terminal.
 */
import { after, before, describe, test } from 'node:test'
import assert from 'node:assert/strict'
import { spawn, spawnSync } from 'node:child_process'
import { once, type EventEmitter } from 'node:events'
import { connect as tcpConnect, type Socket } from 'node:net'
import { Writable } from 'node:stream'
import WebSocket from 'ws'
import { createBroker, type Broker } from '../../src/broker.js'
import { loadConfig } from '../../src/config.js'
import { sessionTakenOver } from '../../src/errors.js'
import { createLogger } from '../../src/logger.js'
import { closeAll, collect, connect, unique } from '../helpers/mqtt.js'
import { ENTRY, startNodeProcess } from '../helpers/process.js'
import { uniquePrefix, useRedisCluster, type TestRedis } from '../helpers/redis.js'
import { nextEvent, until, within } from '../helpers/until.js'

const LEVELS = new Set(['trace', 'debug', 'info', 'warn', 'error', 'fatal'])

/** The keys of a JSON object's top level, in order, repeats included (JSON.parse keeps only the last). */
function topLevelKeys (json: string): string[] {
  const keys: string[] = []
  let depth = 0
  for (let i = 0; i < json.length; i++) {
    const ch = json[i]
    if (ch === '"') {
      let j = i + 1
      while (j < json.length && json[j] !== '"') j += json[j] === '\\' ? 2 : 1
      if (depth === 1 && /^\s*:/.test(json.slice(j + 1, j + 3))) keys.push(JSON.parse(json.slice(i, j + 1)) as string)
      i = j
    } else if (ch === '{' || ch === '[') {
      depth++
    } else if (ch === '}' || ch === ']') {
      depth--
    }
  }
  return keys
}

function repeated (keys: string[]): string[] {
  return [...new Set(keys.filter((k, i) => keys.indexOf(k) !== i))]
}

/** A node in this process whose log lines (raw JSON text) are kept. */
async function nodeWithLog (flags: Record<string, string>): Promise<{ broker: Broker, lines: string[] }> {
  const lines: string[] = []
  let partial = ''
  const sink = new Writable({
    write (chunk: Buffer, _encoding, done) {
      const parts = (partial + chunk.toString()).split('\n')
      partial = parts.pop() ?? ''
      lines.push(...parts.filter(l => l !== ''))
      done()
    }
  })
  const config = loadConfig({ flags: { host: '127.0.0.1', 'mqtt-port': '0', 'ws-port': '0', 'http-port': '0', 'log-level': 'debug', ...flags } })
  const broker = await createBroker(config, { log: createLogger({ level: config.log.level, nodeId: config.nodeId }, sink) })
  return { broker, lines }
}

/** Sends bytes that are no MQTT packet; resolves with the local port used, once the node closed it. */
async function garbageOverTcp (port: number): Promise<number> {
  const socket = tcpConnect(port, '127.0.0.1')
  await nextEvent(socket, 'connect', 'a TCP connection to the node')
  const localPort = socket.localPort ?? 0
  socket.write(Buffer.from([0xff, 0xff, 0xff, 0xff, 0xff]))
  await nextEvent(socket, 'close', 'the node to close the connection that sent garbage', 10_000)
  return localPort
}

describe('log lines of two nodes on a Redis Cluster', () => {
  let redis: TestRedis
  const nodes: Array<{ broker: Broker, lines: string[] }> = []

  before(async () => {
    redis = await useRedisCluster()
    const flags = { redis: redis.seeds.join(','), 'redis-prefix': uniquePrefix() }
    nodes.push(await nodeWithLog(flags), await nodeWithLog(flags))
  })
  after(async () => {
    await closeAll()
    await Promise.all(nodes.map(async n => await n.broker.close()))
    await redis.stop()
  })

  const url = (i: number): string => `mqtt://127.0.0.1:${nodes[i]?.broker.mqtt.port ?? 0}`

  test('every line has its level as a label and no key twice, under traffic, a takeover and bad input', async () => {
    const clientId = unique('logged')
    const sub = await connect(url(0), { clientId, clean: false })
    const seen = collect(sub)
    await sub.subscribeAsync('logs/+', { qos: 1 })
    const pub = await connect(url(1))
    await pub.publishAsync('logs/a', 'one', { qos: 1 })
    await seen.waitFor(1)
    const closed = nextEvent(sub, 'close', 'the first connection to be taken over')
    sub.options.reconnectPeriod = 0
    await connect(url(1), { clientId, clean: false })
    await closed
    await garbageOverTcp(nodes[0]?.broker.mqtt.port ?? 0)
    await until('the client error line on node 0', () => nodes[0]?.lines.some(l => l.includes('client connection closed on error')) === true, 10_000, { observed: () => nodes[0]?.lines.slice(-5) })

    const all = nodes.flatMap(n => n.lines)
    assert.ok(all.length > 20, `log lines were written: ${all.length}`)
    const modules = new Set(all.map(l => (JSON.parse(l) as { module?: string }).module))
    assert.ok(modules.has('client') && modules.has('routing') && modules.has('sessions'), `lines of several modules: ${[...modules].join(' ')}`)
    const badLevels = all.filter(l => !LEVELS.has((JSON.parse(l) as { level: unknown }).level as string))
    assert.deepEqual(badLevels, [], 'the level is a label: trace, debug, info, warn, error or fatal')
    const twice = all.map(l => ({ keys: repeated(topLevelKeys(l)), line: l.slice(0, 200) })).filter(r => r.keys.length > 0)
    assert.deepEqual(twice, [], 'no key appears twice on a line')
  })

  test('a connection closed on error is logged and counted once, however many of its deliveries fail after the first error', async () => {
    const clientId = unique('errs')
    const client = await connect(url(0), { clientId, reconnectPeriod: 0 })
    const node = nodes[0]
    const errorsOf = async (): Promise<number> => {
      const text = await node?.broker.metrics.registry.getSingleMetricAsString('slotmq_client_errors_total') ?? ''
      return Number(/reason="session_taken_over"\} (\d+)/.exec(text)?.[1] ?? 0)
    }
    const before = await errorsOf()
    const closed = nextEvent(client, 'close', 'the node to close the connection on error')
    const connection = (node?.broker.aedes as unknown as { clients: Record<string, EventEmitter> } | undefined)?.clients[clientId]
    assert.ok(connection !== undefined, `node 0 has ${clientId} in its client table`)
    // What aedes does for each delivery whose outgoing update fails (lib/client.js writeQoS):
    // three deliveries of a connection whose session was taken over meanwhile.
    for (let i = 0; i < 3; i++) connection.emit('error', sessionTakenOver())
    await closed
    const lines = (): string[] => node?.lines.filter(l => l.includes(clientId) && l.includes('closed on error')) ?? []
    await until('the error line of the connection', () => lines().length > 0, 10_000, { observed: lines })
    const entries = lines().map(l => JSON.parse(l) as { msg: string, level: string })
    assert.equal(entries.filter(e => e.msg === 'client connection closed on error').length, 1, `one line for the connection: ${JSON.stringify(entries)}`)
    assert.deepEqual(entries.filter(e => e.msg === 'another error on a connection closed on error').map(e => e.level), ['debug', 'debug'], 'the later errors at debug')
    assert.equal(await errorsOf(), before + 1, 'slotmq_client_errors_total counts the connection once')
  })

  test('a client error line names the peer address and port, over TCP and over WebSocket', async () => {
    const tcpPeer = `127.0.0.1:${await garbageOverTcp(nodes[1]?.broker.mqtt.port ?? 0)}`
    const errorLine = (peer: string) => (): boolean => nodes[1]?.lines.some(l => {
      const entry = JSON.parse(l) as { msg: string, remote?: string }
      return entry.msg === 'client connection closed on error' && entry.remote === peer
    }) === true
    const observed = (): unknown => nodes[1]?.lines.filter(l => l.includes('closed on error'))
    await until(`a client error line with remote ${tcpPeer}`, errorLine(tcpPeer), 10_000, { observed })

    const ws = new WebSocket(`ws://127.0.0.1:${nodes[1]?.broker.ws?.port ?? 0}/mqtt`, 'mqtt')
    await nextEvent(ws, 'open', 'the WebSocket to open')
    const wsPeer = `127.0.0.1:${(ws as unknown as { _socket: Socket })._socket.localPort ?? 0}`
    const wsClosed = nextEvent(ws, 'close', 'the node to close the WebSocket that sent garbage', 10_000)
    ws.send(Buffer.from([0xff, 0xff, 0xff, 0xff, 0xff]))
    await wsClosed
    await until(`a client error line with remote ${wsPeer}`, errorLine(wsPeer), 10_000, { observed })
  })
})

describe('log output of the slotmq process', () => {
  test('JSON lines with level labels when standard output is a pipe', async (t) => {
    const node = await startNodeProcess([], 30_000)
    t.after(async () => { await node.kill('SIGTERM') })
    const started = node.logs.find(l => l.msg === 'mqtt listener started')
    assert.equal(started?.level, 'info', JSON.stringify(started))
  })

  test('pretty lines (pino-pretty) when standard output is a terminal', async (t) => {
    if (spawnSync('script', ['--version']).status !== 0) {
      t.skip('no `script` command (util-linux) to give the node a terminal')
      return
    }
    // `script` runs the node on a pseudo-terminal; the shell prints its pid, then becomes the node.
    const command = `echo PID=$$; exec ${process.execPath} --import tsx ${ENTRY} start --host 127.0.0.1 --mqtt-port 0 --ws-port off --http-port off`
    const child = spawn('script', ['-qfec', command, '/dev/null'], { stdio: ['ignore', 'pipe', 'pipe'] })
    let output = ''
    child.stdout.on('data', (b: Buffer) => { output += b.toString() })
    const exited = once(child, 'exit')
    let pid = 0
    t.after(() => {
      if (pid !== 0 && child.exitCode === null) process.kill(pid, 'SIGKILL')
    })
    await until('the node\'s pid and its listener line on the terminal', () => {
      pid = Number(/PID=(\d+)/.exec(output)?.[1] ?? 0)
      return pid !== 0 && output.includes('mqtt listener started')
    }, 30_000, { observed: () => output })
    process.kill(pid, 'SIGTERM')
    await within('the node to exit after SIGTERM', exited, 20_000, () => output)
    const line = output.split('\n').find(l => l.includes('mqtt listener started')) ?? ''
    assert.doesNotMatch(line, /^\s*\{/, 'not a JSON line')
    assert.match(line, /INFO/, `the level as a word: ${line}`)
    assert.match(line, /listener: mqtt listener started/, `the module before the message: ${line}`)
  })
})
