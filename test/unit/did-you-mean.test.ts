import { test } from 'node:test'
import assert from 'node:assert/strict'
import { parseArgs } from 'node:util'
import { closest, parseArgsMessage } from '../../src/did-you-mean.js'

test('a typo, a swap of two letters or a unique prefix finds the name meant', () => {
  assert.equal(closest('mqt-port', ['mqtt-port', 'ws-port', 'http-port']), 'mqtt-port')
  assert.equal(closest('strat', ['start', 'admin', 'users', 'bench']), 'start')
  assert.equal(closest('redis-pre', ['redis-prefix', 'redis-mode']), 'redis-prefix')
  assert.equal(closest('MQTT-PORT', ['mqtt-port']), 'mqtt-port')
})

test('nothing is suggested for a name far from every known one', () => {
  assert.equal(closest('xyz', ['start', 'admin']), undefined)
  assert.equal(closest('port', ['mqtt-port', 'ws-port', 'http-port']), undefined)
  assert.equal(closest('anything', []), undefined)
})

test('an unknown option from parseArgs gets the closest known option', () => {
  const options = { 'mqtt-port': { type: 'string' }, help: { type: 'boolean' } } as const
  const message = (args: string[]): string => {
    try {
      parseArgs({ args, options, strict: true })
    } catch (err) {
      return parseArgsMessage(err, options)
    }
    return 'parsed'
  }
  assert.equal(message(['--mqt-port', '1']), "unknown option '--mqt-port'; did you mean --mqtt-port?")
  assert.equal(message(['--frobnicate']), "unknown option '--frobnicate'")
  assert.match(message(['--help=1']), /--help/) // another parseArgs error keeps its message
})
