/**
 * CONNECT rules that aedes 1.2.0 does not enforce, applied through its preConnect and
 * authenticate hooks so that the refusal is a proper CONNACK:
 * - [MQTT-3.1.3-8] a zero-length client id with clean session 0 gets CONNACK 0x02.
 * - MQTT 3.1 requires a client id of 1 to 23 characters: an empty one gets CONNACK 0x02.
 * A zero-length client id with clean session 1 is assigned a unique id [MQTT-3.1.3-6]
 * (k6's MQTT extension connects that way).
 */
import type { AedesOptions, Client } from 'aedes'

const IDENTIFIER_REJECTED = 2

export interface ConnectPolicy {
  preConnect: NonNullable<AedesOptions['preConnect']>
  authenticate: NonNullable<AedesOptions['authenticate']>
}

export function createConnectPolicy (): ConnectPolicy {
  const rejected = new WeakSet<Client>()
  return {
    preConnect (client, packet, callback) {
      if (packet.clientId === '' && (packet.clean === false || packet.protocolVersion === 3)) {
        rejected.add(client)
      }
      callback(null, true)
    },
    authenticate (client, _username, _password, done) {
      if (rejected.has(client)) {
        const err = Object.assign(new Error('identifier rejected'), { returnCode: IDENTIFIER_REJECTED })
        return done(err, null)
      }
      done(null, true)
    }
  }
}
