/**
 * aedes 1.2.0 registers a connecting client only after restoring its session
 * (lib/handlers/connect.js: authenticate, fetchSubs, restoreSubs, storeWill, then
 * registerClient) and does not check whether the connection closed in the meantime. A
 * client closed in that window (socket reset, or a malformed packet right behind its
 * CONNECT) has already run close(), which unregisters only clients it finds registered;
 * registering it afterwards leaves it in `clients` for good: counted in
 * `connectedClients`, never released, and closing a live client with the same id as if
 * taken over [MQTT-3.1.4-2]. Found by the fuzz test on a Redis-backed node, where those
 * steps wait on Redis. A closed client is not registered; the CONNACK that follows fails
 * with "connection closed", which ends aedes' connect sequence.
 */
import type { Aedes, Client } from 'aedes'

interface Registry {
  registerClient: (client: Client) => void
}

export function skipClosedClientRegistration (aedes: Aedes): void {
  const broker = aedes as unknown as Registry
  const register = broker.registerClient.bind(aedes)
  broker.registerClient = (client) => {
    if ((client as Client & { closed?: boolean }).closed === true) return
    register(client)
  }
}
