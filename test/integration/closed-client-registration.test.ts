/**
 * aedes registers a connecting client after restoring its session; a client whose
 * connection closed in between must not be registered (src/aedes/register-guard.ts).
 * Found by the fuzz test: on a Redis-backed node such clients stayed in aedes' client
 * table and in `connectedClients` for good. And a connection whose close ends after a new
 * connection of its client id registered must not take the new one out of the table.
 */
import { after, before, test } from 'node:test'
import assert from 'node:assert/strict'
import { once } from 'node:events'
import { createServer, connect as netConnect, type Server, type Socket } from 'node:net'
import type { Client } from 'aedes'
import { closeAll, connect, unique } from '../helpers/mqtt.js'
import { startNodes, type Topology } from '../helpers/nodes.js'
import { until, within } from '../helpers/until.js'

let topo: Topology
let server: Server
before(async () => {
  topo = await startNodes(1)
  server = createServer()
  server.listen(0, '127.0.0.1')
  await within('the server to listen', once(server, 'listening'))
})
after(async () => {
  await closeAll()
  await topo.close()
  server.close()
})

/** A real aedes client on a real socket, as the listener would hand it over. */
async function aedesClient (): Promise<Client> {
  const port = (server.address() as { port: number }).port
  const accepted = once(server, 'connection') as Promise<[Socket]>
  const socket = netConnect(port, '127.0.0.1')
  socket.on('error', () => {})
  const [conn] = await within('the server to accept the connection', accepted)
  return topo.nodes[0]?.aedes.handle(conn) as Client
}

test('[MQTT-3.1.4-2] a client whose connection closed before aedes registered it neither stays registered nor takes over a live client with its id', async () => {
  const aedes = topo.nodes[0]?.aedes
  assert.ok(aedes !== undefined, 'the node runs aedes')
  const clientId = unique('same')
  const live = await connect(topo.urls[0] ?? '', { clientId })
  const before = aedes.connectedClients

  // aedes' connect sequence: the CONNECT's client id is set, the session restored, and
  // the connection closes (reset, or a malformed packet) before registerClient runs.
  const dead = await aedesClient()
  ;(dead as { id: string }).id = clientId
  await within('aedes to close the client', new Promise<void>(resolve => dead.close(() => resolve())))
  ;(aedes as unknown as { registerClient: (c: Client) => void }).registerClient(dead)

  assert.equal(aedes.connectedClients, before)
  assert.notEqual((aedes as unknown as { clients: Record<string, Client> }).clients[clientId], dead)
  assert.equal(live.connected, true)
  await live.publishAsync(`${clientId}/still`, 'here', { qos: 1 })
})

test('[MQTT-3.1.4-2] a connection whose close ends after a new connection of its client id registered leaves the new one registered: a third connect takes it over', async (t) => {
  const aedes = topo.nodes[0]?.aedes
  assert.ok(aedes !== undefined, 'the node runs aedes')
  const clients = (aedes as unknown as { clients: Record<string, Client | undefined> }).clients
  const clientId = unique('overlap')
  const others = aedes.connectedClients
  const first = await connect(topo.urls[0] ?? '', { clientId })
  const topic = `${clientId}/t`
  await first.subscribeAsync(topic, { qos: 1 })
  const old = clients[clientId]
  assert.ok(old !== undefined, 'the first connection is registered')

  // The first connection's close is held in its unsubscribe (as a slow store would hold
  // it) until the second connection is registered.
  const broker = aedes as unknown as { unsubscribe: (topic: string, fn: unknown, done: (err?: Error) => void) => void }
  const unsubscribe = broker.unsubscribe.bind(aedes)
  let release = (): void => {}
  const held = new Promise<void>(resolve => { release = resolve })
  broker.unsubscribe = (filter, fn, done) => {
    if (filter !== topic) { unsubscribe(filter, fn, done); return }
    void held.then(() => unsubscribe(filter, fn, done))
  }
  t.after(() => { broker.unsubscribe = unsubscribe; release() })
  const oldGone = within('the first connection to leave aedes', new Promise<void>(resolve => {
    const seen = (c: Client): void => { if (c === old) { aedes.removeListener('clientDisconnect', seen); resolve() } }
    aedes.on('clientDisconnect', seen)
  }))
  first.stream.destroy()
  await until('the node to begin closing the first connection', () => (old as { closed?: boolean }).closed === true)

  const second = await connect(topo.urls[0] ?? '', { clientId })
  assert.notEqual(clients[clientId], old, 'the second connection is registered')
  const registered = clients[clientId]
  release()
  await oldGone
  assert.equal(clients[clientId], registered, 'the second connection is still in aedes\' client table')
  assert.equal(aedes.connectedClients, others + 1, 'one connection of this client id is counted')

  // A third connection with the id closes the second: one connection per client id.
  const secondClosed = within('the second connection to be closed by the third', new Promise<void>(resolve => second.once('close', () => resolve())))
  const third = await connect(topo.urls[0] ?? '', { clientId })
  await secondClosed
  assert.equal(third.connected, true)
})
