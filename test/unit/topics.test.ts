import { readdirSync, readFileSync } from 'node:fs'
import { test } from 'node:test'
import assert from 'node:assert/strict'
import MemoryPersistence from 'aedes-persistence/asyncPersistence.js'
import { Qlobber, QlobberTrue } from 'qlobber'
import { Acl } from '../../src/auth/acl.js'
import { MemoryStore } from '../../src/memory-store.js'
import { RouteTable } from '../../src/routing/route-table.js'
import { TOPIC_LEVELS_CEILING, TOPIC_MATCHING, topicLevels } from '../../src/topics.js'

/** Filter, topic, whether they match ([MQTT-4.7.1-2], [MQTT-4.7.1-3]; Mosquitto's pattern test). */
const CASES: ReadonlyArray<[string, string, boolean]> = [
  ['#', 'test/topic', true],
  ['#', '/test/topic', true],
  ['foo/#', 'foo/bar/baz', true],
  ['foo/+/baz', 'foo/bar/baz', true],
  ['foo/+/baz/#', 'foo/bar/baz', true],
  ['foo/#', 'foo', true],
  ['foo/#', 'foo/', true],
  ['/#', '/foo', true],
  ['test/topic/+', 'test/topic/', true],
  ['foo/+/baz', 'foo//baz', true],
  ['foo/+/baz//', 'foo//baz//', true],
  ['+/+', '/', true],
  ['+', '', true],
  ['foo/+', 'foo', false],
  ['foo/+/baz', 'foo/baz', false],
  ['test/topic/+', 'test/topic', false]
]

test('[MQTT-4.7.1-3] + matches one level, an empty one too; # matches the rest, the parent level too', () => {
  for (const [filter, topic, expected] of CASES) {
    const trie = new QlobberTrue(TOPIC_MATCHING)
    trie.add(filter)
    assert.equal(trie.test(topic), expected, `${filter} vs ${JSON.stringify(topic)}`)
  }
})

test('every trie of the codebase is built with TOPIC_MATCHING', () => {
  const files = readdirSync(new URL('../../src/', import.meta.url), { recursive: true }) as string[]
  const constructions: string[] = []
  for (const file of files.filter(f => f.endsWith('.ts'))) {
    const text = readFileSync(new URL(`../../src/${file}`, import.meta.url), 'utf8')
    for (const m of text.matchAll(/new (Qlobber\w*|mqemitter|MQEmitter)\b[^(]*\(([^)]*)\)/g)) constructions.push(`${file}: ${m[0]}`)
    assert.doesNotMatch(text, /aedes\/qlobber-sub|QLOBBER_OPTIONS/, `${file} builds a trie with other options`)
  }
  assert.ok(constructions.length >= 8, constructions.join('\n'))
  for (const c of constructions) assert.match(c, /\(TOPIC_MATCHING\)$/, c)
})

test('aedes-persistence\'s own trie misses empty levels; MemoryStore queues for them', async () => {
  const theirs = new MemoryPersistence()
  const ours = new MemoryStore()
  for (const store of [theirs, ours]) {
    await store.addSubscriptions({ id: 'c1' }, [{ topic: 'foo/+/baz', qos: 1 }, { topic: 'a/+', qos: 1 }, { topic: 'x/#', qos: 0 }])
  }
  assert.deepEqual(await theirs.subscriptionsByTopic('foo//baz'), [], 'if aedes-persistence fixes this, MemoryStore can go')
  assert.deepEqual((await ours.subscriptionsByTopic('foo//baz') as Array<{ clientId: string, topic: string }>).map(s => [s.clientId, s.topic]), [['c1', 'foo/+/baz']])
  assert.deepEqual((await ours.subscriptionsByTopic('a/') as Array<{ topic: string }>).map(s => s.topic), ['a/+'])
  assert.deepEqual(await ours.subscriptionsByTopic('x/y'), [], 'QoS 0 subscriptions get nothing queued')
  await ours.addSubscriptions({ id: 'c1' }, [{ topic: 'a/+', qos: 0 }])
  assert.deepEqual(await ours.subscriptionsByTopic('a/'), [], 'downgraded to QoS 0')
  await ours.removeSubscriptions({ id: 'c1' }, ['foo/+/baz'])
  assert.deepEqual(await ours.subscriptionsByTopic('foo//baz'), [])
  assert.deepEqual((await ours.subscriptionsByClient({ id: 'c1' }) as Array<{ topic: string, qos: number }>).map(s => [s.topic, s.qos]), [['a/+', 0], ['x/#', 0]])
  await ours.cleanSubscriptions({ id: 'c1' })
  assert.deepEqual(await ours.subscriptionsByClient({ id: 'c1' }), [])
})

test('MemoryStore: retained messages match empty levels and come parents first', async () => {
  const store = new MemoryStore()
  for (const topic of ['1/2/3', 'test/topic/', '1', 'foo//baz', '1/2']) await store.storeRetained({ topic, payload: Buffer.from(topic) })
  const read = async (patterns: string[]): Promise<string[]> =>
    (await store.createRetainedStreamCombi(patterns).toArray() as Array<{ topic: string }>).map(p => p.topic)
  assert.deepEqual(await read(['test/topic/+']), ['test/topic/'])
  assert.deepEqual(await read(['foo/+/baz']), ['foo//baz'])
  assert.deepEqual(await read(['1/#']), ['1', '1/2', '1/2/3'])
  await store.storeRetained({ topic: '1/2', payload: Buffer.alloc(0) })
  assert.deepEqual(await read(['1/#', 'foo//baz']), ['1', '1/2/3', 'foo//baz'])
})

test('topics as deep as the ceiling fit every trie; the route table and access rules match them', () => {
  const deep = Array.from({ length: TOPIC_LEVELS_CEILING }, (_, i) => String(i)).join('/')
  assert.equal(topicLevels(deep), TOPIC_LEVELS_CEILING)
  assert.equal(topicLevels('a//b'), 3)
  const trie = new Qlobber<string>(TOPIC_MATCHING)
  trie.add(deep.replace(/\/5\//, '/+/'), 'x')
  assert.deepEqual(trie.match(deep), ['x'])
  assert.throws(() => trie.match(`${deep}/one-more`), /too many words/)
  const table = new RouteTable()
  table.replace('a', 0, ['foo/+/baz'])
  assert.deepEqual([...table.match('foo//baz')], ['a'])
  const acl = new Acl([{ permission: 'allow', action: 'all', topic: 'foo/+/baz' }]).forClient({ username: undefined, clientId: 'c' })
  assert.equal(acl.mayPublish('foo//baz'), true)
})

test('every aedes persistence extends MemoryStore, not aedes-persistence\'s store', () => {
  const files = readdirSync(new URL('../../src/', import.meta.url), { recursive: true }) as string[]
  const direct = files.filter(f => f.endsWith('.ts') && f !== 'memory-store.ts' &&
    /extends MemoryPersistence\b/.test(readFileSync(new URL(`../../src/${f}`, import.meta.url), 'utf8')))
  assert.deepEqual(direct, [])
})
