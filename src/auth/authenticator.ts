/**
 * Authentication and authorisation of MQTT clients.
 *
 * Users come from the auth file (setting `auth.file`) and, in Redis modes, from Redis
 * (RedisUsers); a name in both is checked against the file's hash. ACL rules come from the
 * auth file. The file is reloaded when it changes (fs.watch on its folder, debounced) and
 * on `reload()` (SIGHUP in main.ts); a file that no longer parses keeps the previous users
 * and rules. Redis users are reloaded when their version key moves (polled every second).
 *
 * CONNACK codes [MQTT-3.2.2-5]: an unknown user name or a wrong password gets 0x04 (bad
 * user name or password); no user name while anonymous access is off, or a will topic
 * the client may not publish to, gets 0x05 (not authorised). A client certificate's name
 * (`certificateUser`, from the TLS listener) stands for the user name and needs no password.
 */
import { statSync, watch, type FSWatcher } from 'node:fs'
import { basename, dirname } from 'node:path'
import type { Aedes, AedesOptions, Client } from 'aedes'
import type { Logger } from '../logger.js'
import { Acl, type ClientAcl, type Identity } from './acl.js'
import { readAuthFile, type AuthFileData } from './auth-file.js'
import { hashPassword, verifyPassword } from './password.js'
import { pollRedisUsers, type RedisUsers } from './redis-users.js'

export const CONNACK_BAD_CREDENTIALS = 4
export const CONNACK_NOT_AUTHORIZED = 5
const CONNACK_SERVER_UNAVAILABLE = 3
const REDIS_POLL_MS = 1000
const FILE_DEBOUNCE_MS = 200

export type AclDeniedAction = 'publish' | 'subscribe' | 'deliver'

export interface AuthOptions {
  /** Path of the auth file, if one is configured. */
  file: string | undefined
  /** The auth file as already read (createBroker reads it before it joins Redis). */
  initial?: AuthFileData | undefined
  /** Whether clients without a user name may connect. */
  anonymous: boolean
  log: Logger
  /** Redis modes: the users kept in Redis. */
  redisUsers?: RedisUsers | undefined
  /** The user name a client proved with its TLS certificate, if any. */
  certificateUser?: ((client: Client) => string | undefined) | undefined
  onDenied?: (action: AclDeniedAction) => void
  onRefused?: (returnCode: number) => void
}

export interface Auth {
  /** For createConnectPolicy: resolves to a CONNACK return code that refuses, or undefined. */
  checkCredentials: (client: Client, username: string | undefined, password: Buffer | undefined) => Promise<number | undefined>
  authorizePublish: NonNullable<AedesOptions['authorizePublish']>
  authorizeSubscribe: NonNullable<AedesOptions['authorizeSubscribe']>
  authorizeForward: NonNullable<AedesOptions['authorizeForward']>
  /** Makes aedes drop the PUBLISH packets authorizePublish denied (after acknowledging them). */
  install: (aedes: Aedes) => void
  /** Reads the auth file again; false (and the old state kept) when it is invalid. */
  reload: () => Promise<boolean>
  close: () => void
}

interface ClientState { identity: Identity, version: number, acl: ClientAcl }

/**
 * Loads the auth file and the Redis users; a bad file throws ERR_AUTH_FILE (a
 * configuration error at start-up).
 */
export async function createAuth (options: AuthOptions): Promise<Auth> {
  const log = options.log.child({ module: 'auth' })
  const initial = options.initial ?? (options.file === undefined ? { users: new Map<string, string>(), rules: [] } : await readAuthFile(options.file))
  let fileUsers = initial.users
  let acl = new Acl(initial.rules)
  let version = 0
  let redisUsers = new Map<string, string>()
  const clients = new WeakMap<Client, ClientState>()
  const denied = new WeakSet<object>()
  // A hash to check unknown names against, so they take as long as known ones.
  const decoy = await hashPassword('slotmq decoy')

  const store = options.redisUsers
  const poller = store === undefined ? undefined : await startRedisUsers(store)
  const watcher = options.file === undefined ? undefined : watchFile(options.file)
  log.info({ file: options.file, users: fileUsers.size, redisUsers: redisUsers.size, rules: acl.rules.length, anonymous: options.anonymous }, 'auth loaded')
  if (options.anonymous && store !== undefined) {
    log.warn({ setting: 'auth.anonymous', env: 'SLOTMQ_AUTH_ANONYMOUS' },
      'ANONYMOUS MQTT ACCESS IS ON: any client may connect without a user name; set auth.anonymous to false in production')
  }

  async function startRedisUsers (users: RedisUsers): Promise<{ stop: () => void }> {
    const first = await users.load()
    redisUsers = first.users
    return pollRedisUsers(users, first.version, {
      intervalMs: REDIS_POLL_MS,
      onChange: (snapshot) => {
        redisUsers = snapshot.users
        log.info({ redisUsers: redisUsers.size, version: snapshot.version }, 'redis users reloaded')
      },
      onError: (err, recovered) => {
        if (recovered) log.info('redis users readable again')
        else log.warn({ err }, 'redis users not readable: the last ones loaded stay in force')
      }
    })
  }

  function watchFile (path: string): { close: () => void } {
    let timer: NodeJS.Timeout | undefined
    let watcher: FSWatcher | undefined
    let seen = identity(path)
    try {
      // The folder, not the file: editors and `slotmq users` replace the file by renaming,
      // and a Kubernetes Secret or ConfigMap volume swaps a symlink (`..data`) next to it,
      // so any event in the folder counts when the file it resolves to has changed.
      watcher = watch(dirname(path), (_event, name) => {
        if (name !== null && name !== basename(path) && !name.startsWith('..')) return
        clearTimeout(timer)
        timer = setTimeout(() => {
          const now = identity(path)
          if (name !== null && name.startsWith('..') && now === seen) return
          seen = now
          void reload()
        }, FILE_DEBOUNCE_MS)
        timer.unref()
      })
      watcher.on('error', (err) => log.warn({ err, file: path }, 'auth file watch failed: reload with SIGHUP'))
      watcher.unref()
    } catch (err) {
      log.warn({ err, file: path }, 'auth file not watched: reload with SIGHUP')
    }
    return { close: () => { clearTimeout(timer); watcher?.close() } }
  }

  /** What the path resolves to now (symlinks followed): inode, size and change time. */
  function identity (path: string): string {
    try {
      const st = statSync(path)
      return `${st.ino}:${st.size}:${st.mtimeMs}`
    } catch {
      return 'missing'
    }
  }

  async function reload (): Promise<boolean> {
    if (options.file === undefined) return true
    try {
      const next = await readAuthFile(options.file)
      fileUsers = next.users
      acl = new Acl(next.rules)
      version++
      log.info({ file: options.file, users: fileUsers.size, rules: acl.rules.length }, 'auth file reloaded')
      return true
    } catch (err) {
      const problems = (err as { problems?: readonly string[] }).problems
      log.error({ err: { message: (err as Error).message }, problems, file: options.file }, 'auth file not reloaded: the previous users and rules stay in force')
      return false
    }
  }

  function aclOf (client: Client): ClientAcl {
    let state = clients.get(client)
    if (state === undefined || state.version !== version) {
      const identity = state?.identity ?? { username: undefined, clientId: client.id }
      state = { identity, version, acl: acl.forClient(identity) }
      clients.set(client, state)
    }
    return state.acl
  }

  async function identify (client: Client, username: string | undefined, password: Buffer | undefined): Promise<string | undefined | number> {
    const certified = options.certificateUser?.(client)
    if (certified !== undefined) return certified
    if (username === undefined) return options.anonymous ? undefined : CONNACK_NOT_AUTHORIZED
    const stored = fileUsers.get(username) ?? redisUsers.get(username)
    const ok = await verifyPassword(password ?? Buffer.alloc(0), stored ?? decoy)
    return ok && stored !== undefined && password !== undefined ? username : CONNACK_BAD_CREDENTIALS
  }

  return {
    async checkCredentials (client, username, password) {
      let who: string | undefined | number
      try {
        who = await identify(client, username, password)
      } catch (err) {
        log.error({ err, clientId: client.id }, 'credentials not checked: CONNACK server unavailable')
        return CONNACK_SERVER_UNAVAILABLE
      }
      let refusal = typeof who === 'number' ? who : undefined
      if (typeof who !== 'number') {
        const identity = { username: who, clientId: client.id }
        const state = { identity, version, acl: acl.forClient(identity) }
        clients.set(client, state)
        // Checked now, as Mosquitto does, because a will may be published by another node.
        const will = (client as unknown as { _will?: { topic?: string } | null })._will
        if (typeof will?.topic === 'string' && !state.acl.mayPublish(will.topic)) refusal = CONNACK_NOT_AUTHORIZED
      }
      if (refusal !== undefined) {
        options.onRefused?.(refusal)
        log.info({ clientId: client.id, username, returnCode: refusal }, 'connect refused')
      }
      return refusal
    },
    authorizePublish (client, packet, callback) {
      // [MQTT-3.3.5-2] a denied PUBLISH is acknowledged as usual and then dropped.
      if (client !== null && !aclOf(client).mayPublish(packet.topic)) {
        denied.add(packet)
        options.onDenied?.('publish')
        log.debug({ clientId: client.id, topic: packet.topic }, 'publish denied')
      }
      callback(null)
    },
    authorizeSubscribe (client, sub, callback) {
      if (aclOf(client).maySubscribe(sub.topic)) return callback(null, sub)
      options.onDenied?.('subscribe')
      log.debug({ clientId: client.id, topic: sub.topic }, 'subscribe denied')
      // A null subscription is SUBACK 0x80 for this filter [MQTT-3.9.3].
      callback(null, null as unknown as typeof sub)
    },
    authorizeForward (client, packet) {
      if (acl.rules.length === 0 || aclOf(client).mayReceive(packet.topic)) return packet
      options.onDenied?.('deliver')
      return null as unknown as typeof packet
    },
    install (aedes) {
      const publish = aedes.publish.bind(aedes)
      aedes.publish = (packet, ...rest) => {
        if (!denied.has(packet)) return publish(packet, ...rest)
        const done = rest.find(a => typeof a === 'function') as ((err?: Error) => void) | undefined
        done?.()
      }
    },
    reload,
    close () {
      poller?.stop()
      watcher?.close()
    }
  }
}
