/**
 * docker-compose.redis.yml, deploy/haproxy.cfg, deploy/redis-cluster.conf and the
 * Dockerfile agree with each other and with what slotmq accepts. No Docker engine runs
 * here, so these checks read the files: settings exist, the command line parses, ports
 * and health checks match the listeners, HAProxy points at the broker services, the
 * cluster-create command names every Redis node, every image is pinned by exact version
 * and the Dockerfile's HEALTHCHECK asks /ready.
 */
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { readFileSync } from 'node:fs'
import { parse } from 'yaml'
import { parseCommandLine } from '../../src/cli.js'
import { SETTINGS, loadConfig, type Config } from '../../src/config.js'

interface Service {
  image?: string
  build?: unknown
  command?: string[] | string
  entrypoint?: string[] | string
  environment?: Record<string, string | number>
  ports?: string[]
  volumes?: string[]
  healthcheck?: { test?: string[] }
  depends_on?: Record<string, { condition: string }>
  restart?: string
}

const root = new URL('../../', import.meta.url)
const read = (path: string): string => readFileSync(new URL(path, root), 'utf8')
const services = (parse(read('docker-compose.redis.yml'), { merge: true }) as { services: Record<string, Service> }).services
const entries = Object.entries(services)
const brokers = entries.filter(([, s]) => s.build !== undefined)
const redisNodes = entries.filter(([, s]) => words(s.command).includes('redis-server'))
const [initName, init] = entries.find(([, s]) => words(s.command).join(' ').includes('--cluster create')) ?? []
const [haproxyName, haproxy] = entries.find(([, s]) => s.image?.startsWith('haproxy:') === true) ?? []
const redisConf = read('deploy/redis-cluster.conf')
const lb = parseHaproxy(read('deploy/haproxy.cfg'))

/** Every word of a command, whether written as a list or as one shell string. */
function words (command: string[] | string | undefined): string[] {
  if (command === undefined) return []
  return (Array.isArray(command) ? command : [command]).flatMap(c => c.split(/\s+/)).filter(w => w.length > 0)
}

function configOf (service: Service): Config {
  const env = Object.fromEntries(Object.entries(service.environment ?? {}).map(([k, v]) => [k, String(v)]))
  return loadConfig({ env, ...parseCommandLine(words(service.command)) })
}

/** Container ports a service publishes ("127.0.0.1:8881:8888" -> 8888). */
function publishedContainerPorts (service: Service): number[] {
  return (service.ports ?? []).map(p => Number(p.split(':').at(-1)?.split('/')[0]))
}

/** Sections of an HAProxy config ("backend slotmq_mqtt" -> its lines), comments removed. */
function parseHaproxy (text: string): Map<string, string[]> {
  const sections = new Map<string, string[]>()
  let current: string[] = []
  for (const raw of text.split('\n')) {
    const line = raw.replace(/#.*$/, '').trimEnd()
    if (line.trim() === '') continue
    if (/^\S/.test(line)) {
      current = []
      sections.set(line.trim(), current)
    } else {
      current.push(line.trim())
    }
  }
  return sections
}

function section (name: string): string[] {
  const lines = lb.get(name)
  assert.ok(lines !== undefined, `haproxy.cfg has no section "${name}"`)
  return lines
}

test('the compose file has six Redis nodes, three broker nodes, a cluster-create job and HAProxy', () => {
  assert.equal(redisNodes.length, 6)
  assert.equal(brokers.length, 3)
  assert.ok(init !== undefined && initName !== undefined, 'a cluster-create job')
  assert.ok(haproxy !== undefined && haproxyName !== undefined, 'an HAProxy service')
})

test('each Redis node runs cluster-enabled redis:7 and announces its own service name', () => {
  assert.match(redisConf, /^cluster-enabled yes$/m)
  // Clients inside the compose network reach nodes by service name, not container IP.
  assert.match(redisConf, /^cluster-preferred-endpoint-type hostname$/m)
  for (const [name, s] of redisNodes) {
    assert.match(s.image ?? '', /^redis:7/, name)
    const argv = words(s.command)
    assert.equal(argv[argv.indexOf('--cluster-announce-hostname') + 1], name, `${name} announces its service name`)
    const conf = argv[1] ?? ''
    assert.ok(s.volumes?.some(v => v === `./deploy/redis-cluster.conf:${conf}:ro`), `${name} mounts deploy/redis-cluster.conf at ${conf}`)
  }
})

test('the one-shot job creates the cluster from all six Redis services with one replica each', () => {
  assert.ok(init !== undefined, 'a cluster-create job')
  const line = words(init.command).join(' ')
  const create = /redis-cli --cluster create ((?:\S+:\d+ )+)/.exec(line)
  assert.ok(create !== null, 'a redis-cli --cluster create command')
  const port = /^port (\d+)$/m.exec(redisConf)?.[1]
  const named = (create[1] ?? '').trim().split(' ').sort()
  assert.deepEqual(named, redisNodes.map(([name]) => `${name}:${port ?? ''}`).sort())
  assert.match(line, /--cluster-replicas 1\b/)
  assert.match(line, /--cluster-yes\b/)
  // It starts only when every node answers PING, and runs once.
  for (const [name] of redisNodes) assert.equal(init.depends_on?.[name]?.condition, 'service_healthy', name)
  assert.equal(init.restart, 'no')
})

test('every SLOTMQ_* variable the broker services set is a slotmq setting and loads', () => {
  const known = new Set<string>(SETTINGS.map(s => s.env))
  for (const [name, s] of brokers) {
    for (const key of Object.keys(s.environment ?? {})) {
      assert.ok(known.has(key), `${name}: ${key} is not a setting in src/config.ts`)
    }
    const config = configOf(s)
    assert.equal(config.redis.mode, 'cluster')
    assert.deepEqual([...config.redis.seeds].sort(), redisNodes.map(([n]) => `${n}:6379`).sort())
    assert.equal(config.nodeId, name)
  }
})

test('every slotmq command line in the compose file and the Dockerfile is one the CLI accepts', () => {
  for (const [name, s] of brokers) {
    assert.equal(parseCommandLine(words(s.command)).command, 'start', name)
    assert.equal(s.entrypoint, undefined, `${name} keeps the image's entrypoint`)
  }
  const dockerfile = read('Dockerfile')
  assert.match(dockerfile, /^ENTRYPOINT \["node", "bin\/slotmq\.js"\]$/m)
  const cmd = /^CMD (\[.*\])$/m.exec(dockerfile)?.[1]
  assert.ok(cmd !== undefined, 'the Dockerfile has a CMD')
  assert.equal(parseCommandLine(JSON.parse(cmd) as string[]).command, 'start')
  assert.match(dockerfile, /^RUN npm ci\b/m)
  assert.match(dockerfile, /^RUN npm run build$/m)
})

test('published ports, EXPOSE and health checks use the ports the nodes listen on', () => {
  const exposed = /^EXPOSE (.+)$/m.exec(read('Dockerfile'))?.[1]?.split(' ').map(Number) ?? []
  for (const [name, s] of brokers) {
    const config = configOf(s)
    const listening = [config.mqtt.port, config.ws.port, config.http.port]
    assert.deepEqual(exposed, listening, 'Dockerfile EXPOSE')
    for (const port of publishedContainerPorts(s)) assert.ok(listening.includes(port), `${name} publishes ${port}`)
    const check = (s.healthcheck?.test ?? []).join(' ')
    assert.ok(check.includes(`http://127.0.0.1:${String(config.http.port)}/ready`), `${name} health check asks /ready on the HTTP port`)
    assert.equal(s.depends_on?.[initName ?? '']?.condition, 'service_completed_successfully', `${name} waits for the cluster`)
  }
})

test('every Redis and broker service has a health check', () => {
  for (const [name, s] of [...redisNodes, ...brokers]) {
    assert.ok((s.healthcheck?.test?.length ?? 0) > 1, `${name} has a health check`)
  }
})

test('HAProxy balances MQTT and WebSocket in TCP mode over every broker service, checking /ready', () => {
  assert.ok(haproxy !== undefined, 'an HAProxy service')
  assert.ok(section('defaults').includes('mode tcp'), `defaults: ${section('defaults').join(' | ')}`)
  const check = /^default-server .*\bcheck port (\d+)/.exec(section('defaults').find(l => l.startsWith('default-server')) ?? '')
  assert.ok(check !== null, 'default-server checks every server')
  const config = configOf(brokers[0]?.[1] ?? {})
  assert.equal(Number(check[1]), config.http.port, 'health checks go to the HTTP port')
  const frontends = [...lb.keys()].filter(k => k.startsWith('frontend ')).map(k => section(k))
  const published = publishedContainerPorts(haproxy)
  for (const [listener, port] of [['mqtt', config.mqtt.port], ['ws', config.ws.port]] as const) {
    const frontend = frontends.find(f => f.includes(`bind :${String(port)}`))
    assert.ok(frontend !== undefined, `a frontend binds the ${listener} port ${String(port)}`)
    assert.ok(published.includes(Number(port)), `HAProxy publishes ${String(port)}`)
    const backendName = frontend.find(l => l.startsWith('default_backend '))?.split(' ')[1] ?? ''
    const backend = section(`backend ${backendName}`)
    for (const line of ['option httpchk', 'http-check send meth GET uri /ready', 'http-check expect status 200']) {
      assert.ok(backend.includes(line), `backend ${backendName} has '${line}': ${backend.join(' | ')}`)
    }
    const servers = backend.filter(l => l.startsWith('server ')).map(l => l.split(' ')[2] ?? '')
    assert.deepEqual(servers.sort(), brokers.map(([name]) => `${name}:${String(port)}`).sort())
  }
  assert.ok(haproxy.volumes?.includes('./deploy/haproxy.cfg:/usr/local/etc/haproxy/haproxy.cfg:ro'), `HAProxy volumes: ${JSON.stringify(haproxy.volumes)}`)
})

test('every image is pinned by exact version, and the Dockerfile runs Node 22 or newer', () => {
  const exact = /^[a-z0-9./-]+:\d+\.\d+\.\d+(-[a-z0-9.-]+)?(@sha256:[0-9a-f]{64})?$/
  for (const [name, s] of entries.filter(([, s]) => s.build === undefined)) {
    assert.match(s.image ?? '', exact, `${name}: image ${String(s.image)}`)
  }
  const from = [...read('Dockerfile').matchAll(/^FROM (\S+)/gm)].map(m => m[1] ?? '')
  assert.ok(from.length > 0, 'the Dockerfile has FROM lines')
  for (const image of from) {
    assert.match(image, exact, `FROM ${image}`)
    const major = Number(/^node:(\d+)\./.exec(image)?.[1])
    assert.ok(major >= 22, `FROM ${image}: Node 22 LTS or newer`)
  }
})

test('the Dockerfile HEALTHCHECK asks /ready on the HTTP port the node listens on', () => {
  const healthcheck = /^HEALTHCHECK .*\\\n\s+CMD (\[.*\])$/m.exec(read('Dockerfile'))?.[1]
  assert.ok(healthcheck !== undefined, 'the Dockerfile has a HEALTHCHECK with an exec-form CMD')
  const [program, flag, script] = JSON.parse(healthcheck) as string[]
  assert.deepEqual([program, flag], ['node', '-e'])
  const httpPort = SETTINGS.find(s => s.key === 'http.port')
  assert.ok(httpPort !== undefined)
  // The port comes from the same variable the node reads, with the same default.
  const port = new RegExp(`process\\.env\\.${httpPort.env} \\|\\| (\\d+)`).exec(script ?? '')?.[1]
  assert.equal(Number(port), loadConfig({ env: {} }).http.port, script)
  assert.match(script ?? '', /'\/ready'\)/)
})
