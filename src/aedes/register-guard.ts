/**
 * aedes' `registerClient`, where a connection joins `clients` and a previous connection of
 * the same client id on this node is closed [MQTT-3.1.4-2]. Two rules are added there:
 *
 * - A closed client is not registered. aedes 1.2.0 registers a connecting client only
 *   after restoring its session (lib/handlers/connect.js: authenticate, fetchSubs,
 *   restoreSubs, storeWill, then registerClient) and does not check whether the connection
 *   closed in the meantime. A client closed in that window (socket reset, or a malformed
 *   packet right behind its CONNECT) has already run close(), which unregisters only
 *   clients it finds registered; registering it afterwards leaves it in `clients` for
 *   good: counted in `connectedClients`, never released, and closing a live client with
 *   the same id as if taken over. Found by the fuzz test on a Redis-backed node, where
 *   those steps wait on Redis. The CONNACK that follows fails with "connection closed",
 *   which ends aedes' connect sequence.
 * - The previous connection's will follows the takeover rule (src/will-on-takeover.ts):
 *   aedes publishes it whatever the clean session flags; with clean session 0 on both
 *   connections it is dropped before aedes closes that connection.
 *
 * And one to `unregisterClient`, which a closing connection calls at the end of close():
 *
 * - It removes only itself. aedes 1.2.0 deletes `clients[id]` whichever connection is
 *   there (lib/client.js close, `unregisterClient` -> `deleteClient(client.id)`). When a
 *   connection's close (begun by its socket failing) ends after a new connection of the
 *   same client id registered, the new, live connection left the table: a later connect
 *   with that id no longer closed it, so two connections served one client id, and the
 *   session layer no longer found it to give it messages. The count of connected clients
 *   still drops by one: the closing connection was counted when it registered.
 */
import type { Aedes, Client } from 'aedes'
import { publishWillOnTakeover } from '../will-on-takeover.js'

interface Registry {
  registerClient: (client: Client) => void
  unregisterClient: (client: Client) => void
  clients: Record<string, Client | undefined>
}

interface Connection { closed?: boolean, clean: boolean, will?: unknown }

export function skipClosedClientRegistration (aedes: Aedes): void {
  const broker = aedes as unknown as Registry
  const register = broker.registerClient.bind(aedes)
  broker.registerClient = (client) => {
    const next = client as unknown as Connection
    if (next.closed === true) return
    const previous = broker.clients[client.id] as unknown as Connection | undefined
    // A previous connection already closing (its socket failed) was not closed by this
    // takeover: its will stays.
    if (previous !== undefined && previous !== next && previous.closed !== true && !publishWillOnTakeover(previous.clean, next.clean)) previous.will = null
    register(client)
  }
  const unregister = broker.unregisterClient.bind(aedes)
  broker.unregisterClient = (client) => {
    const current = broker.clients[client.id]
    unregister(client)
    if (current !== undefined && current !== client) broker.clients[client.id] = current
  }
}
