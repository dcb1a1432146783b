/**
 * MQTT over WebSocket is served on /mqtt only: an upgrade on another path gets a 404 whose
 * body names /mqtt, a plain HTTP request gets 426, and MQTT on /mqtt keeps working.
 */
import { after, before, describe, test } from 'node:test'
import assert from 'node:assert/strict'
import { request } from 'node:http'
import { closeAll, collect, connect } from '../helpers/mqtt.js'
import { startNodes, type Topology } from '../helpers/nodes.js'
import { within } from '../helpers/until.js'

/** An HTTP request with WebSocket upgrade headers; resolves with the status and body of a refusal. */
async function upgradeOn (port: number, path: string): Promise<{ status: number, body: string }> {
  return await within(`an answer to a WebSocket upgrade on ${path}`, new Promise((resolve, reject) => {
    const req = request({
      host: '127.0.0.1',
      port,
      path,
      headers: { connection: 'Upgrade', upgrade: 'websocket', 'sec-websocket-version': '13', 'sec-websocket-key': 'dGhlIHNhbXBsZSBub25jZQ==', 'sec-websocket-protocol': 'mqtt' }
    })
    req.on('upgrade', () => reject(new Error(`the upgrade on ${path} was accepted`)))
    req.on('response', (res) => {
      let body = ''
      res.on('data', (b: Buffer) => { body += b.toString() })
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body }))
    })
    req.on('error', reject)
    req.end()
  }), 10_000)
}

describe('the WebSocket listener', () => {
  let topo: Topology
  let port = 0
  before(async () => {
    topo = await startNodes(1)
    port = topo.nodes[0]?.ws?.port ?? 0
  })
  after(async () => {
    await closeAll()
    await topo.close()
  })

  test('an upgrade on a path other than /mqtt gets 404 with a body that names /mqtt', async () => {
    for (const path of ['/', '/ws', '/mqtt/', '/MQTT?x=1']) {
      const { status, body } = await upgradeOn(port, path)
      assert.equal(status, 404, `status for ${path}`)
      assert.match(body, /connect to \/mqtt/, `body for ${path}: ${body}`)
    }
  })

  test('a plain HTTP request is told to upgrade on /mqtt (426)', async () => {
    const res = await within('an answer to GET /', fetch(`http://127.0.0.1:${port}/`), 10_000)
    assert.equal(res.status, 426)
    assert.match(await res.text(), /connect to \/mqtt/)
  })

  test('MQTT over WebSocket on /mqtt still works, a query string included', async () => {
    const client = await connect(`ws://127.0.0.1:${port}/mqtt?token=x`)
    const inbox = collect(client)
    await client.subscribeAsync('ws/path', { qos: 1 })
    await client.publishAsync('ws/path', 'over websocket', { qos: 1 })
    const [message] = await inbox.waitFor(1)
    assert.equal(message?.payload, 'over websocket')
  })
})
