import { test } from 'node:test'
import assert from 'node:assert/strict'
import { PassThrough } from 'node:stream'
import { createLogger } from '../../src/logger.js'
import { DeliveryOrder } from '../../src/routing/delivery-order.js'
import { FrameVersionChoice } from '../../src/routing/frame-version.js'
import { FRAME_VERSION, LEGACY_FRAME_VERSION } from '../../src/routing/frames.js'

test('deliveries run in arrival order when a later one\'s work finishes first, and the order is idle once all ran', async () => {
  const order = new DeliveryOrder()
  assert.equal(order.idle, true, 'idle before any delivery')
  const ran: string[] = []
  let finishFirst: () => void = () => {}
  const slow = new Promise<void>(resolve => { finishFirst = resolve })
  order.after(slow, () => ran.push('first'))
  order.after(Promise.resolve(), () => ran.push('second'))
  order.after(undefined, () => ran.push('third'))
  await new Promise(resolve => setImmediate(resolve))
  assert.deepEqual(ran, [], 'nothing runs before the first delivery\'s work is done')
  assert.equal(order.idle, false, 'not idle while deliveries wait')
  finishFirst()
  await new Promise(resolve => setImmediate(resolve))
  assert.deepEqual(ran, ['first', 'second', 'third'])
  assert.equal(order.idle, true, 'idle once every delivery ran')
})

test('the newest frame version is written while every peer announced it, the legacy one while any peer did not or announced an older one', () => {
  const lines: string[] = []
  const out = new PassThrough()
  out.on('data', (chunk: Buffer) => lines.push(...chunk.toString().split('\n').filter(l => l !== '')))
  const choice = new FrameVersionChoice(createLogger({ level: 'info', nodeId: 'unit' }, out))
  assert.equal(choice.version, FRAME_VERSION, 'no peers yet')
  choice.update(['a', 'b'], new Map([['a', FRAME_VERSION]]))
  assert.equal(choice.version, LEGACY_FRAME_VERSION, 'b met before a beat listed it')
  choice.update(['a', 'b'], new Map([['a', FRAME_VERSION], ['b', FRAME_VERSION]]))
  assert.equal(choice.version, FRAME_VERSION, 'every peer announced the newest')
  choice.update(['a', 'b'], new Map([['a', FRAME_VERSION], ['b', LEGACY_FRAME_VERSION]]))
  assert.equal(choice.version, LEGACY_FRAME_VERSION, 'b reads legacy frames only')
  choice.update(['a'], new Map([['a', FRAME_VERSION], ['b', LEGACY_FRAME_VERSION]]))
  assert.equal(choice.version, FRAME_VERSION, 'the older peer was dropped')
  assert.deepEqual(lines.map(l => (JSON.parse(l) as { msg: string }).msg), [
    'a peer reads only legacy inbox frames: frames to peers carry no publish times',
    'every peer reads the newest inbox frames: publish times go to peers'
  ], 'an older peer and its going are each logged once at info')
})
