import { test } from 'node:test'
import assert from 'node:assert/strict'
import { readFileSync } from 'node:fs'
import { SETTINGS, loadConfig, redactConfig } from '../../src/config.js'
import { BrokerError } from '../../src/errors.js'
import { renderConfigTable } from '../../scripts/config-docs.js'
import { TOPIC_LEVELS_CEILING } from '../../src/topics.js'

test('defaults give a standalone node on 1883 with WebSocket and HTTP', () => {
  const config = loadConfig({})
  assert.equal(config.mqtt.port, 1883)
  assert.equal(config.ws.port, 8083)
  assert.equal(config.http.port, 8888)
  assert.deepEqual(config.redis.seeds, [])
  assert.match(config.nodeId, /^node-[0-9a-f]{8}$/)
})

test('a fresh node id is generated on every load when none is configured', () => {
  assert.notEqual(loadConfig({}).nodeId, loadConfig({}).nodeId)
})

test('precedence is defaults < file < environment < flags', () => {
  const file = { mqtt: { port: 1001 }, ws: { port: 1002 }, http: { port: 1003 } }
  const env = { SLOTMQ_WS_PORT: '2002', SLOTMQ_HTTP_PORT: '2003' }
  const flags = { 'http-port': '3003' }
  const config = loadConfig({ file, env, flags })
  assert.deepEqual([config.mqtt.port, config.ws.port, config.http.port], [1001, 2002, 3003])
})

test('every setting is read from its environment variable', () => {
  const config = loadConfig({
    env: {
      SLOTMQ_HOST: '127.0.0.1',
      SLOTMQ_MQTT_PORT: '1999',
      SLOTMQ_WS_PORT: 'off',
      SLOTMQ_HTTP_PORT: '0',
      SLOTMQ_NODE_ID: 'edge-1',
      SLOTMQ_REDIS: 'redis-a:6379, rediss://user:secret@redis-b:6380',
      SLOTMQ_LOG_LEVEL: 'debug'
    }
  })
  assert.equal(config.host, '127.0.0.1')
  assert.equal(config.mqtt.port, 1999)
  assert.equal(config.ws.port, 'off')
  assert.equal(config.http.port, 0)
  assert.equal(config.nodeId, 'edge-1')
  assert.deepEqual(config.redis.seeds, ['redis-a:6379', 'rediss://user:secret@redis-b:6380'])
  assert.equal(config.log.level, 'debug')
})

test('invalid configuration lists every bad key with where it came from', () => {
  const err = catchError(() => loadConfig({
    env: { SLOTMQ_MQTT_PORT: '70000', SLOTMQ_LOG_LEVEL: 'loud' },
    flags: { 'node-id': 'bad id!' },
    file: { mqtt: { prot: 1 }, redis: { seeds: 'nohostport' } },
    fileName: 'x.json'
  }))
  assert.ok(err instanceof BrokerError, `a BrokerError: ${String(err)}`)
  const text = err.problems.join('\n')
  for (const key of ['mqtt.port (env SLOTMQ_MQTT_PORT)', 'log.level (env SLOTMQ_LOG_LEVEL)', 'nodeId (flag --node-id)', 'mqtt.prot (config file x.json): unknown setting', 'redis.seeds (config file x.json)']) {
    assert.ok(text.includes(key), `missing ${key} in:\n${text}`)
  }
  assert.equal(err.problems.length, 5)
})

test('the logged configuration masks Redis passwords', () => {
  const config = loadConfig({ env: { SLOTMQ_REDIS: 'rediss://app:hunter2@cache:6380', SLOTMQ_REDIS_PASSWORD: 's3cret-pw' } })
  const logged = JSON.stringify(redactConfig(config))
  assert.doesNotMatch(logged, /hunter2/)
  assert.doesNotMatch(logged, /s3cret-pw/)
  assert.match(logged, /cache:6380/)
})

test('the configuration is frozen', () => {
  const config = loadConfig({})
  assert.throws(() => { (config.mqtt as { port: number }).port = 1 })
})

test('the configuration table in docs/configuration.md matches the schema (npm run docs:config)', () => {
  const doc = readFileSync(new URL('../../docs/configuration.md', import.meta.url), 'utf8')
  assert.ok(doc.includes(renderConfigTable()), 'docs/configuration.md is out of date: run npm run docs:config')
})

test('config/default.json holds every setting at its default', () => {
  const file = JSON.parse(readFileSync(new URL('../../config/default.json', import.meta.url), 'utf8')) as unknown
  const fromFile = loadConfig({ file, env: { SLOTMQ_NODE_ID: 'x' } })
  const fromCode = loadConfig({ env: { SLOTMQ_NODE_ID: 'x' } })
  assert.deepEqual(fromFile, fromCode)
  const keys = SETTINGS.filter(s => s.default !== undefined).map(s => s.key)
  const flat = flatten(file as Record<string, unknown>)
  assert.deepEqual(Object.keys(flat).sort(), keys.sort())
})

function flatten (obj: Record<string, unknown>, prefix = ''): Record<string, unknown> {
  const out: Record<string, unknown> = {}
  for (const [k, v] of Object.entries(obj)) {
    if (v !== null && typeof v === 'object' && !Array.isArray(v)) Object.assign(out, flatten(v as Record<string, unknown>, `${prefix}${k}.`))
    else out[prefix + k] = v
  }
  return out
}

function catchError (fn: () => unknown): unknown {
  try {
    fn()
  } catch (err) {
    return err
  }
  assert.fail('expected an error')
}

test('an empty value from a flag or the config file is an error, not 0 or the default', () => {
  for (const sources of [
    { flags: { 'mqtt-port': '' } },
    { flags: { 'mqtt-port': ' ' } },
    { file: { mqtt: { port: '' } }, fileName: 'x.json' }
  ]) {
    const err = catchError(() => loadConfig(sources))
    assert.ok(err instanceof BrokerError, `a BrokerError for ${JSON.stringify(sources)}: ${String(err)}`)
    assert.match(err.problems.join('\n'), /^mqtt\.port \((flag --mqtt-port|config file x\.json)\): empty value/m)
  }
  const seeds = catchError(() => loadConfig({ flags: { redis: '' } }))
  assert.ok(seeds instanceof BrokerError)
  assert.match(seeds.problems.join('\n'), /^redis\.seeds \(flag --redis\): empty value/m)
  // The key prefix's default is the empty string: saying so is fine. An empty environment
  // variable is an unset one, as before.
  assert.equal(loadConfig({ flags: { 'redis-prefix': '' } }).redis.keyPrefix, '')
  assert.equal(loadConfig({ env: { SLOTMQ_MQTT_PORT: '' } }).mqtt.port, 1883)
})

test('an unknown key in the config file names the closest setting', () => {
  const err = catchError(() => loadConfig({ file: { mqtt: { prot: 1883 }, limits: { maxConections: 5 } }, fileName: 'x.json' }))
  assert.ok(err instanceof BrokerError)
  const text = err.problems.join('\n')
  assert.match(text, /mqtt\.prot \(config file x\.json\): unknown setting; did you mean mqtt\.port\?/)
  assert.match(text, /limits\.maxConections \(config file x\.json\): unknown setting; did you mean limits\.maxConnections\?/)
})

test('limits.maxTopicLevels: 256 by default, up to the ceiling every trie is built for', () => {
  assert.equal(loadConfig({}).limits.maxTopicLevels, 256)
  assert.equal(loadConfig({ flags: { 'max-topic-levels': String(TOPIC_LEVELS_CEILING) } }).limits.maxTopicLevels, TOPIC_LEVELS_CEILING)
  assert.throws(() => loadConfig({ flags: { 'max-topic-levels': String(TOPIC_LEVELS_CEILING + 1) } }), BrokerError)
})
