/**
 * Configuration: one schema gives the TypeScript type, the runtime validation, the
 * configuration table (docs/configuration.md) and the `--help` text. Precedence:
 * defaults < config file < environment variables < command-line flags. This is the only
 * module that interprets `process.env` (main.ts passes it in), so loadConfig is a pure
 * function and easy to test.
 */
import { randomBytes } from 'node:crypto'
import { z } from 'zod'
import { didYouMean } from './did-you-mean.js'
import { BrokerError, ERR } from './errors.js'
import { SHARED_STRATEGIES, type SharedStrategy } from './routing/shared.js'
import { TOPIC_LEVELS_CEILING } from './topics.js'

const port = z.coerce.number().int().min(0).max(65535)
/** A listener port, or `off` to disable the listener. 0 picks a free port. */
const optionalPort = z.union([z.literal('off'), port])
const positiveInt = z.coerce.number().int().positive()
const logLevel = z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'])
const nodeId = z.string().regex(/^[A-Za-z0-9._-]{1,64}$/, 'use 1 to 64 of A-Z a-z 0-9 . _ -')
const redisSeed = z.string().refine(isRedisSeed, 'expected host:port, redis://… or rediss://…')
const keyPrefix = z.string().regex(/^[A-Za-z0-9._:-]{0,64}$/, 'use up to 64 of A-Z a-z 0-9 . _ : -')
/** A limit: a positive count, or 0 for no limit. */
const limit = z.coerce.number().int().min(0)
const onOff = z.preprocess(
  (v) => typeof v === 'string' ? ({ true: true, false: false, on: true, off: false, 1: true, 0: false } as Record<string, boolean | undefined>)[v.toLowerCase()] ?? v : v,
  z.boolean({ error: 'use true or false' })
)
const redisSeeds = z.preprocess(
  (v) => typeof v === 'string' ? v.split(',').map(s => s.trim()).filter(s => s.length > 0) : v,
  z.array(redisSeed)
)

/** Every setting: where it lives in the config file, its env variable, flag, schema and doc. */
export const SETTINGS = [
  { key: 'host', env: 'SLOTMQ_HOST', flag: 'host', schema: z.string().min(1), default: '0.0.0.0', description: 'Address every listener binds to.' },
  { key: 'mqtt.port', env: 'SLOTMQ_MQTT_PORT', flag: 'mqtt-port', schema: port, default: 1883, description: 'MQTT over TCP port (0 picks a free port).' },
  { key: 'ws.port', env: 'SLOTMQ_WS_PORT', flag: 'ws-port', schema: optionalPort, default: 8083, description: 'MQTT over WebSocket port, path /mqtt (`off` disables it).' },
  { key: 'http.port', env: 'SLOTMQ_HTTP_PORT', flag: 'http-port', schema: optionalPort, default: 8888, description: 'HTTP port for /health, /ready and /metrics (`off` disables it).' },
  { key: 'nodeId', env: 'SLOTMQ_NODE_ID', flag: 'node-id', schema: nodeId.optional(), default: undefined, description: 'Name of this broker node; default: a fresh id per process start.' },
  { key: 'redis.seeds', env: 'SLOTMQ_REDIS', flag: 'redis', schema: redisSeeds, default: [], description: 'Comma-separated Redis seeds (host:port, redis:// or rediss:// URLs); empty means standalone.' },
  { key: 'redis.mode', env: 'SLOTMQ_REDIS_MODE', flag: 'redis-mode', schema: z.enum(['auto', 'cluster', 'single']), default: 'auto', description: 'Redis topology: `auto` asks the first reachable seed, `cluster` or `single` force one.' },
  { key: 'redis.username', env: 'SLOTMQ_REDIS_USERNAME', flag: 'redis-username', schema: z.string().min(1).optional(), default: undefined, description: 'Redis ACL user (a user inside a redis:// URL takes precedence).' },
  { key: 'redis.password', env: 'SLOTMQ_REDIS_PASSWORD', flag: 'redis-password', schema: z.string().min(1).optional(), default: undefined, description: 'Redis password; prefer the environment variable (never logged).' },
  { key: 'redis.keyPrefix', env: 'SLOTMQ_REDIS_PREFIX', flag: 'redis-prefix', schema: keyPrefix, default: '', description: 'Prefix for every Redis key and channel, so several brokers can share one Redis.' },
  { key: 'redis.tlsCaFile', env: 'SLOTMQ_REDIS_TLS_CA_FILE', flag: 'redis-tls-ca-file', schema: z.string().min(1).optional(), default: undefined, description: 'PEM file of CA certificates trusted for rediss:// seeds, for a Redis whose certificate a private CA signed (Memorystore, self-hosted); default: the system CAs.' },
  { key: 'cluster.leaseTtlMs', env: 'SLOTMQ_LEASE_TTL_MS', flag: 'lease-ttl-ms', schema: positiveInt.min(1000), default: 5000, description: 'A node whose lease is not renewed for this long is dead to its peers (renewed every third of it).' },
  { key: 'session.expirySeconds', env: 'SLOTMQ_SESSION_EXPIRY', flag: 'session-expiry', schema: positiveInt, default: 7200, description: 'Seconds a parked persistent session (its client away) is kept, with its queue, before it is deleted. Redis modes; a standalone node keeps sessions until it stops.' },
  { key: 'session.queueMax', env: 'SLOTMQ_SESSION_QUEUE_MAX', flag: 'session-queue-max', schema: positiveInt, default: 1000, description: 'QoS 1/2 messages queued per persistent session; beyond it the oldest are dropped and counted. Redis modes.' },
  { key: 'log.level', env: 'SLOTMQ_LOG_LEVEL', flag: 'log-level', schema: logLevel, default: 'info', description: 'Log level: fatal, error, warn, info, debug, trace or silent.' },
  { key: 'mqtt.maxPacketSize', env: 'SLOTMQ_MQTT_MAX_PACKET_SIZE', flag: 'mqtt-max-packet-size', schema: positiveInt.max(268435455), default: 1048576, description: 'Largest MQTT packet accepted, in bytes; a larger one closes that connection.' },
  { key: 'mqtt.connectTimeoutMs', env: 'SLOTMQ_MQTT_CONNECT_TIMEOUT_MS', flag: 'mqtt-connect-timeout-ms', schema: positiveInt, default: 30000, description: 'Time a new connection has to send CONNECT.' },
  { key: 'mqtts.port', env: 'SLOTMQ_MQTTS_PORT', flag: 'mqtts-port', schema: optionalPort, default: 'off', description: 'MQTT over TLS port, conventionally 8883 (`off` disables it); needs tls.certFile and tls.keyFile.' },
  { key: 'wss.port', env: 'SLOTMQ_WSS_PORT', flag: 'wss-port', schema: optionalPort, default: 'off', description: 'MQTT over secure WebSocket port, path /mqtt (`off` disables it); needs tls.certFile and tls.keyFile.' },
  { key: 'tls.certFile', env: 'SLOTMQ_TLS_CERT_FILE', flag: 'tls-cert-file', schema: z.string().min(1).optional(), default: undefined, description: 'PEM server certificate (chain) for the TLS listeners; reloaded when the file changes.' },
  { key: 'tls.keyFile', env: 'SLOTMQ_TLS_KEY_FILE', flag: 'tls-key-file', schema: z.string().min(1).optional(), default: undefined, description: 'PEM private key of the server certificate; reloaded when the file changes.' },
  { key: 'tls.caFile', env: 'SLOTMQ_TLS_CA_FILE', flag: 'tls-ca-file', schema: z.string().min(1).optional(), default: undefined, description: 'PEM CA certificates that sign client certificates (needed for tls.clientCertAuth).' },
  { key: 'tls.clientCertAuth', env: 'SLOTMQ_TLS_CLIENT_CERT_AUTH', flag: 'tls-client-cert-auth', schema: onOff, default: false, description: 'Require a client certificate signed by tls.caFile on the TLS listeners; its subject CN becomes the user name.' },
  { key: 'tls.reloadCheckMs', env: 'SLOTMQ_TLS_RELOAD_CHECK_MS', flag: 'tls-reload-check-ms', schema: positiveInt, default: 5000, description: 'How often the certificate, key and CA files are checked for changes.' },
  { key: 'limits.maxConnections', env: 'SLOTMQ_MAX_CONNECTIONS', flag: 'max-connections', schema: limit, default: 100000, description: 'MQTT clients connected to this node at once; one more gets CONNACK 0x03 (server unavailable). 0: no limit.' },
  { key: 'limits.maxTopicLength', env: 'SLOTMQ_MAX_TOPIC_LENGTH', flag: 'max-topic-length', schema: limit.max(65535), default: 4096, description: 'Longest topic or topic filter, in UTF-8 bytes: a longer PUBLISH topic closes the connection, a longer SUBSCRIBE filter gets 0x80. 0: no limit.' },
  { key: 'limits.maxTopicLevels', env: 'SLOTMQ_MAX_TOPIC_LEVELS', flag: 'max-topic-levels', schema: positiveInt.max(TOPIC_LEVELS_CEILING), default: 256, description: `Most levels in a topic or topic filter (\`a//b\` has 3; at most ${TOPIC_LEVELS_CEILING}): more in a PUBLISH closes the connection, in a SUBSCRIBE filter gets 0x80.` },
  { key: 'limits.maxSubscriptionsPerClient', env: 'SLOTMQ_MAX_SUBSCRIPTIONS_PER_CLIENT', flag: 'max-subscriptions-per-client', schema: limit, default: 1000, description: 'Topic filters one client may hold; each further filter gets SUBACK 0x80. 0: no limit.' },
  { key: 'limits.maxInflight', env: 'SLOTMQ_MAX_INFLIGHT', flag: 'max-inflight', schema: limit, default: 0, description: 'Outgoing QoS 1/2 messages per connection awaiting PUBACK/PUBCOMP; further deliveries wait in order (up to session.queueMax, then dropped and counted). 0: no limit.' },
  { key: 'limits.publishRate', env: 'SLOTMQ_PUBLISH_RATE', flag: 'publish-rate', schema: limit, default: 0, description: 'PUBLISH packets per second read from one connection (bursts of one second allowed); a faster client is slowed by reading its socket later, nothing is dropped. 0: no limit.' },
  { key: 'limits.connectionRate', env: 'SLOTMQ_CONNECTION_RATE', flag: 'connection-rate', schema: limit, default: 0, description: 'New connections per second from one IP address (bursts of one second allowed); excess ones are closed before CONNECT is read. 0: no limit (behind a TCP load balancer every client has its address).' },
  { key: 'auth.file', env: 'SLOTMQ_AUTH_FILE', flag: 'auth-file', schema: z.string().min(1).optional(), default: undefined, description: 'JSON file of MQTT users (scrypt hashes, see `slotmq users`) and ACL rules; reloaded when it changes and on SIGHUP.' },
  { key: 'auth.anonymous', env: 'SLOTMQ_AUTH_ANONYMOUS', flag: 'auth-anonymous', schema: onOff, default: true, description: 'Let clients connect without a user name (`false`: they get CONNACK 0x05). A warning is logged when on in Redis modes.' },
  { key: 'shutdown.timeoutMs', env: 'SLOTMQ_SHUTDOWN_TIMEOUT_MS', flag: 'shutdown-timeout-ms', schema: positiveInt, default: 10000, description: 'Longest a graceful shutdown waits before exiting anyway.' },
  { key: 'admin.token', env: 'SLOTMQ_ADMIN_TOKEN', flag: 'admin-token', schema: z.string().min(16, 'use at least 16 characters').optional(), default: undefined, description: 'Bearer token for the admin API (/admin/…, /sessions/…) and `slotmq admin`; every admin request needs it (they show client ids, addresses and subscriptions); unset: the admin API answers 401.' },
  { key: 'drain.batchSize', env: 'SLOTMQ_DRAIN_BATCH_SIZE', flag: 'drain-batch-size', schema: positiveInt, default: 100, description: 'Clients disconnected per batch while a node drains.' },
  { key: 'drain.batchIntervalMs', env: 'SLOTMQ_DRAIN_BATCH_INTERVAL_MS', flag: 'drain-batch-interval-ms', schema: positiveInt, default: 200, description: 'Pause between two batches of disconnections while a node drains.' },
  { key: 'sys.intervalSeconds', env: 'SLOTMQ_SYS_INTERVAL', flag: 'sys-interval', schema: z.coerce.number().int().min(0), default: 10, description: 'Seconds between two rounds of $SYS topics (per node and broker totals); 0 turns them off.' },
  { key: 'shared.strategy', env: 'SLOTMQ_SHARED_STRATEGY', flag: 'shared-strategy', schema: z.enum(SHARED_STRATEGIES), default: 'round_robin', description: 'How a shared subscription group ($share/<group>/<filter>) picks the member for a message: `round_robin` (even spread), `random`, `sticky` (one member while it stays), `hash_clientid` (one member per publisher), `hash_topic` (one member per topic: order per topic kept).' }
] as const satisfies readonly SettingSpec[]

interface SettingSpec {
  key: string
  env: string
  flag: string
  schema: z.ZodType
  default: unknown
  description: string
}

export interface Config {
  readonly host: string
  readonly mqtt: { readonly port: number, readonly maxPacketSize: number, readonly connectTimeoutMs: number }
  readonly ws: { readonly port: number | 'off' }
  readonly mqtts: { readonly port: number | 'off' }
  readonly wss: { readonly port: number | 'off' }
  readonly tls: {
    readonly certFile: string | undefined
    readonly keyFile: string | undefined
    readonly caFile: string | undefined
    readonly clientCertAuth: boolean
    readonly reloadCheckMs: number
  }
  readonly limits: {
    readonly maxConnections: number
    readonly maxTopicLength: number
    readonly maxTopicLevels: number
    readonly maxSubscriptionsPerClient: number
    readonly maxInflight: number
    readonly publishRate: number
    readonly connectionRate: number
  }
  readonly http: { readonly port: number | 'off' }
  readonly nodeId: string
  readonly redis: {
    readonly seeds: readonly string[]
    readonly mode: 'auto' | 'cluster' | 'single'
    readonly username: string | undefined
    readonly password: string | undefined
    readonly keyPrefix: string
    readonly tlsCaFile: string | undefined
  }
  readonly cluster: { readonly leaseTtlMs: number }
  readonly session: { readonly expirySeconds: number, readonly queueMax: number }
  readonly log: { readonly level: z.infer<typeof logLevel> }
  readonly auth: { readonly file: string | undefined, readonly anonymous: boolean }
  readonly shutdown: { readonly timeoutMs: number }
  readonly admin: { readonly token: string | undefined }
  readonly drain: { readonly batchSize: number, readonly batchIntervalMs: number }
  readonly sys: { readonly intervalSeconds: number }
  readonly shared: { readonly strategy: SharedStrategy }
}

/** Raw values by setting key, before validation. */
type RawValues = Map<string, unknown>

export interface ConfigSources {
  /** Environment variables (main.ts passes process.env). */
  env?: Record<string, string | undefined>
  /** Flags already split by the CLI: flag name (without --) to value. */
  flags?: Record<string, string | undefined>
  /** Parsed contents of the --config file, if one was given. */
  file?: unknown
  /** Name of the config file, used in error messages. */
  fileName?: string
}

/**
 * Builds the effective configuration from every source, or throws a BrokerError
 * (ERR_CONFIG) whose `problems` lists every invalid key with its source.
 */
export function loadConfig (sources: ConfigSources): Config {
  const problems: string[] = []
  const raw: RawValues = new Map()
  const origin = new Map<string, string>()

  if (sources.file !== undefined) {
    const where = `config file ${sources.fileName ?? ''}`.trim()
    if (sources.file === null || typeof sources.file !== 'object' || Array.isArray(sources.file)) {
      problems.push(`${where}: expected a JSON object`)
    } else {
      collectFileValues(sources.file as Record<string, unknown>, '', raw, origin, where, problems)
    }
  }
  for (const s of SETTINGS) {
    const fromEnv = sources.env?.[s.env]
    if (fromEnv !== undefined && fromEnv !== '') {
      raw.set(s.key, fromEnv)
      origin.set(s.key, `env ${s.env}`)
    }
    const fromFlag = sources.flags?.[s.flag]
    if (fromFlag !== undefined) {
      raw.set(s.key, fromFlag)
      origin.set(s.key, `flag --${s.flag}`)
    }
  }

  const values = new Map<string, unknown>()
  for (const s of SETTINGS) {
    if (!raw.has(s.key)) {
      values.set(s.key, s.default)
      continue
    }
    const value = raw.get(s.key)
    // z.coerce would read '' as 0 (a random port) or as an empty list: an empty value is
    // a mistake, except where the empty string is the default (the key prefix).
    if (typeof value === 'string' && value.trim() === '' && s.default !== '') {
      problems.push(`${s.key} (${origin.get(s.key) ?? 'default'}): empty value; leave the setting out to get its default`)
      continue
    }
    const result = s.schema.safeParse(value)
    if (result.success) {
      values.set(s.key, result.data)
    } else {
      const why = result.error.issues.map(i => i.message).join('; ')
      problems.push(`${s.key} (${origin.get(s.key) ?? 'default'}): ${why}`)
    }
  }
  problems.push(...tlsProblems(values))
  if (problems.length > 0) {
    throw new BrokerError(ERR.CONFIG, 'invalid configuration', { problems })
  }

  const get = <T>(key: string): T => values.get(key) as T
  return deepFreeze({
    host: get<string>('host'),
    mqtt: {
      port: get<number>('mqtt.port'),
      maxPacketSize: get<number>('mqtt.maxPacketSize'),
      connectTimeoutMs: get<number>('mqtt.connectTimeoutMs')
    },
    ws: { port: get<number | 'off'>('ws.port') },
    mqtts: { port: get<number | 'off'>('mqtts.port') },
    wss: { port: get<number | 'off'>('wss.port') },
    tls: {
      certFile: get<string | undefined>('tls.certFile'),
      keyFile: get<string | undefined>('tls.keyFile'),
      caFile: get<string | undefined>('tls.caFile'),
      clientCertAuth: get<boolean>('tls.clientCertAuth'),
      reloadCheckMs: get<number>('tls.reloadCheckMs')
    },
    limits: {
      maxConnections: get<number>('limits.maxConnections'),
      maxTopicLength: get<number>('limits.maxTopicLength'),
      maxTopicLevels: get<number>('limits.maxTopicLevels'),
      maxSubscriptionsPerClient: get<number>('limits.maxSubscriptionsPerClient'),
      maxInflight: get<number>('limits.maxInflight'),
      publishRate: get<number>('limits.publishRate'),
      connectionRate: get<number>('limits.connectionRate')
    },
    http: { port: get<number | 'off'>('http.port') },
    // aedes#754/#775: identities must not repeat across process starts, so the
    // default is random; a configured nodeId is still suffixed inside broker.ts.
    nodeId: get<string | undefined>('nodeId') ?? `node-${randomBytes(4).toString('hex')}`,
    redis: {
      seeds: get<string[]>('redis.seeds'),
      mode: get<Config['redis']['mode']>('redis.mode'),
      username: get<string | undefined>('redis.username'),
      password: get<string | undefined>('redis.password'),
      keyPrefix: get<string>('redis.keyPrefix'),
      tlsCaFile: get<string | undefined>('redis.tlsCaFile')
    },
    cluster: { leaseTtlMs: get<number>('cluster.leaseTtlMs') },
    session: { expirySeconds: get<number>('session.expirySeconds'), queueMax: get<number>('session.queueMax') },
    log: { level: get<Config['log']['level']>('log.level') },
    auth: { file: get<string | undefined>('auth.file'), anonymous: get<boolean>('auth.anonymous') },
    shutdown: { timeoutMs: get<number>('shutdown.timeoutMs') },
    admin: { token: get<string | undefined>('admin.token') },
    drain: { batchSize: get<number>('drain.batchSize'), batchIntervalMs: get<number>('drain.batchIntervalMs') },
    sys: { intervalSeconds: get<number>('sys.intervalSeconds') },
    shared: { strategy: get<SharedStrategy>('shared.strategy') }
  })
}

function collectFileValues (
  obj: Record<string, unknown>,
  prefix: string,
  raw: RawValues,
  origin: Map<string, string>,
  where: string,
  problems: string[]
): void {
  for (const [name, value] of Object.entries(obj)) {
    const key = prefix + name
    if (SETTINGS.some(s => s.key === key)) {
      raw.set(key, value)
      origin.set(key, where)
    } else if (value !== null && typeof value === 'object' && !Array.isArray(value) &&
      SETTINGS.some(s => s.key.startsWith(key + '.'))) {
      collectFileValues(value as Record<string, unknown>, key + '.', raw, origin, where, problems)
    } else {
      problems.push(`${key} (${where}): unknown setting${didYouMean(key, SETTINGS.map(s => s.key))}`)
    }
  }
}

/** A TLS listener needs a certificate and its key; client certificates need a CA. */
function tlsProblems (values: Map<string, unknown>): string[] {
  const problems: string[] = []
  const enabled = ['mqtts.port', 'wss.port'].filter(k => values.has(k) && values.get(k) !== 'off')
  if (enabled.length > 0) {
    for (const key of ['tls.certFile', 'tls.keyFile']) {
      if (values.has(key) && values.get(key) === undefined) problems.push(`${key}: required when ${enabled.join(' and ')} is set`)
    }
  }
  if (values.get('tls.clientCertAuth') === true && values.has('tls.caFile') && values.get('tls.caFile') === undefined) {
    problems.push('tls.caFile: required when tls.clientCertAuth is true')
  }
  return problems
}

function isRedisSeed (seed: string): boolean {
  if (/^rediss?:\/\//.test(seed)) {
    try {
      const url = new URL(seed)
      return url.hostname.length > 0
    } catch {
      return false
    }
  }
  const m = /^(\[[0-9a-fA-F:]+\]|[^:\s/]+):(\d{1,5})$/.exec(seed)
  return m !== null && Number(m[2]) > 0 && Number(m[2]) <= 65535
}

/** The configuration as it may be logged: credentials inside Redis URLs are masked. */
export function redactConfig (config: Config): Record<string, unknown> {
  const redis = { ...config.redis, seeds: config.redis.seeds.map(redactRedisSeed), password: config.redis.password === undefined ? undefined : '***' }
  return { ...config, redis, admin: { token: config.admin.token === undefined ? undefined : '***' } }
}

function redactRedisSeed (seed: string): string {
  if (!/^rediss?:\/\//.test(seed)) return seed
  const url = new URL(seed)
  if (url.password !== '') url.password = '***'
  return url.toString()
}

function deepFreeze<T> (value: T): T {
  if (value !== null && typeof value === 'object') {
    for (const v of Object.values(value)) deepFreeze(v)
    Object.freeze(value)
  }
  return value
}
