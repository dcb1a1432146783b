/**
 * CONNECT rules that aedes 1.2.0 does not enforce, applied through its preConnect and
 * authenticate hooks so that the refusal is a proper CONNACK:
 * - [MQTT-3.1.3-8] a zero-length client id with clean session 0 gets CONNACK 0x02.
 * - MQTT 3.1 requires a client id of 1 to 23 characters: an empty one gets CONNACK 0x02.
 * A zero-length client id with clean session 1 is assigned a unique id [MQTT-3.1.3-6]
 * (k6's MQTT extension connects that way).
 * Credentials (`checkCredentials`, src/auth) are checked next: a refused client gets the
 * CONNACK code it returns and never reaches its session, so it cannot take one over.
 * In Redis modes an accepted CONNECT then takes its session over (`openSession`) before
 * aedes restores subscriptions and sends CONNACK; if Redis cannot be reached the client
 * gets CONNACK 0x03 (server unavailable) and may retry.
 */
import type { AedesOptions, Client } from 'aedes'

const IDENTIFIER_REJECTED = 2
const SERVER_UNAVAILABLE = 3

export interface ConnectPolicy {
  preConnect: NonNullable<AedesOptions['preConnect']>
  authenticate: NonNullable<AedesOptions['authenticate']>
}

export interface ConnectPolicyOptions {
  /** Resolves to a CONNACK return code (2 to 5) that refuses the client, or undefined. */
  checkCredentials?: (client: Client, username: string | undefined, password: Buffer | undefined) => Promise<number | undefined>
  openSession?: (client: Client) => Promise<void>
  onSessionError?: (client: Client, err: unknown) => void
}

export function createConnectPolicy (options: ConnectPolicyOptions = {}): ConnectPolicy {
  const rejected = new WeakSet<Client>()
  return {
    preConnect (client, packet, callback) {
      if (packet.clientId === '' && (packet.clean === false || packet.protocolVersion === 3)) {
        rejected.add(client)
      }
      callback(null, true)
    },
    authenticate (client, username, password, done) {
      if (rejected.has(client)) {
        const err = Object.assign(new Error('identifier rejected'), { returnCode: IDENTIFIER_REJECTED })
        return done(err, null)
      }
      const check = options.checkCredentials ?? (async () => undefined)
      const open = options.openSession ?? (async () => {})
      check(client, username, password).then((refusal) => {
        if (refusal !== undefined) return done(Object.assign(new Error('connect refused'), { returnCode: refusal }), null)
        open(client).then(() => done(null, true), (err: unknown) => {
          options.onSessionError?.(client, err)
          done(Object.assign(new Error('server unavailable'), { returnCode: SERVER_UNAVAILABLE }), null)
        })
      }, (err: unknown) => {
        options.onSessionError?.(client, err)
        done(Object.assign(new Error('server unavailable'), { returnCode: SERVER_UNAVAILABLE }), null)
      })
    }
  }
}
