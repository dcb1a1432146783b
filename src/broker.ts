/**
 * createBroker wires one slotmq node: aedes with slotmq's conformance fixes, the state
 * store (in memory in standalone mode), the listeners and the metrics.
 */
import { randomBytes } from 'node:crypto'
import type { EventEmitter } from 'node:events'
import type { IncomingMessage } from 'node:http'
import type { Duplex } from 'node:stream'
import { Aedes, type AedesOptions, type Client } from 'aedes'
import type { Config } from './config.js'
import type { Logger } from './logger.js'
import { classifyClientError } from './client-errors.js'
import { createConnectPolicy } from './aedes/connect-policy.js'
import { readAuthFile } from './auth/auth-file.js'
import { createAuth, CONNACK_BAD_CREDENTIALS } from './auth/authenticator.js'
import { RedisUsers } from './auth/redis-users.js'
import { createInflightLimit } from './aedes/inflight.js'
import { createLimits } from './aedes/limits.js'
import { installDeliveryFixes } from './aedes/delivery.js'
import { installOncePerSubscription } from './aedes/retained-once.js'
import { clientsOf, firstPacketIdentifier, internals, isAedesTakeoverListener, stopAedesWillSweep, type EmitterMatcher } from './aedes/internals.js'
import { StandalonePersistence } from './aedes/memory-persistence.js'
import { hideAedesSys, keepAedesSysLocal } from './aedes/internal-sys.js'
import { guardParser } from './aedes/parser-guards.js'
import { ExpectedAcks } from './aedes/ack-types.js'
import { skipClosedClientRegistration } from './aedes/register-guard.js'
import { installTopicLevels } from './aedes/topic-levels.js'
import { registerWriteObserver, writeHeld } from './aedes/write-hook.js'
import { installAckGate } from './aedes/ack-after-handoff.js'
import { installSharedMembers, shareInnerFilter, validateShare, withoutSharedRetained } from './aedes/shared-members.js'
import { createLocalEmitter } from './routing/local-emitter.js'
import { createMetrics, type BrokerMetrics } from './metrics.js'
import { installLatencyHooks } from './metrics-hooks.js'
import { Connections } from './listeners/connections.js'
import { startHttpListener } from './listeners/http.js'
import type { BoundAddress } from './listeners/listen.js'
import { startTcpListener, type Listener } from './listeners/tcp.js'
import { certificateUser, startMqttsListener, startWssListener } from './listeners/tls.js'
import { loadTlsCredentials, type TlsCredentials } from './listeners/tls-credentials.js'
import { startWsListener } from './listeners/ws.js'
import { peerAddress, peerOf, rememberPeer } from './listeners/peer.js'
import { VERSION } from './version.js'
import { connected, disconnectWithoutWill } from './admin/drain.js'
import { createNodeAdmin, type NodeAdmin } from './admin/node-admin.js'
import { StatsStore } from './admin/stats.js'
import { isSessionTakenOver } from './errors.js'
import { createRedis, type RedisConnections } from './redis/client.js'
import { createKeySpace, type KeySpace } from './redis/keys.js'
import { handlePeerRecords, sessionLinks } from './sessions/peers.js'
import { RedisPersistence, type ClientLike, type Packet } from './sessions/persistence.js'
import { RetainedStore } from './redis/retained.js'
import { SCRIPTS, Scripts, type ScriptName } from './redis/scripts.js'
import { ClusterRouting } from './routing/cluster.js'
import { JOURNAL_RETENTION_MS } from './routing/journal.js'

export type BrokerMode = 'standalone' | 'redis' | 'redis-cluster'

export interface Broker {
  readonly nodeId: string
  /** aedes' broker id: fresh on every start, even with a configured nodeId (aedes#754, #775). */
  readonly brokerId: string
  readonly mode: BrokerMode
  /** Cluster routing (Redis modes only). */
  readonly cluster: ClusterRouting | undefined
  readonly mqtt: BoundAddress
  readonly ws: BoundAddress | undefined
  readonly mqtts: BoundAddress | undefined
  readonly wss: BoundAddress | undefined
  readonly http: BoundAddress | undefined
  readonly aedes: Aedes
  readonly metrics: BrokerMetrics
  /** Reads the auth file again (SIGHUP); false when it is invalid and the old one stays. */
  reloadAuth: () => Promise<boolean>
  /** Stops accepting, closes every client, releases the ports. Safe to call twice. */
  close: () => Promise<void>
  /** Drains the node (see src/admin/drain.ts); resolves once it has stopped. */
  drain: () => Promise<void>
  /** Resolves when the node has stopped (after `close`, or a drain asked for over HTTP or by a peer). */
  readonly closed: Promise<void>
}

export async function createBroker (config: Config, deps: { log: Logger }): Promise<Broker> {
  const log = deps.log.child({ module: 'broker' })
  const brokerId = `${config.nodeId}~${randomBytes(4).toString('hex')}`
  // A bad auth file is a configuration error, found before Redis is joined.
  const authFile = config.auth.file === undefined ? undefined : await readAuthFile(config.auth.file)
  const cluster = config.redis.seeds.length > 0 ? await joinCluster(config, deps.log, brokerId) : undefined
  const auth = await createAuth({
    file: config.auth.file,
    initial: authFile,
    anonymous: config.auth.anonymous,
    log: deps.log,
    certificateUser,
    redisUsers: cluster === undefined ? undefined : new RedisUsers(cluster.redis.cmd, cluster.keys),
    onDenied: (action) => metrics.aclDenied.inc({ action }),
    onRefused: (code) => metrics.authRefused.inc({ reason: code === CONNACK_BAD_CREDENTIALS ? 'bad_credentials' : 'not_authorized' })
  }).catch(async (err: unknown) => { await cluster?.close(); throw err })
  const mode: BrokerMode = cluster === undefined ? 'standalone' : cluster.redis.capabilities.mode === 'cluster' ? 'redis-cluster' : 'redis'
  const persistence = cluster?.persistence ?? new StandalonePersistence()
  const sessionLog = deps.log.child({ module: 'sessions' })
  const redisPersistence = cluster?.persistence
  const policy = createConnectPolicy(redisPersistence === undefined
    ? { checkCredentials: auth.checkCredentials }
    : {
        checkCredentials: auth.checkCredentials,
        openSession: async (client) => {
          const at = process.hrtime.bigint()
          try {
            await redisPersistence.open(client as unknown as ClientLike, client.clean)
          } finally {
            metrics.sessionOpen.observe(Number(process.hrtime.bigint() - at) / 1e9)
          }
        },
        onSessionError: (client, err) => {
          // Losing a race to a newer connect elsewhere is normal; Redis failing is not.
          const lostRace = isSessionTakenOver(err)
          sessionLog[lostRace ? 'info' : 'warn']({ clientId: client.id, err }, 'session not opened: CONNACK server unavailable')
        }
      })
  // Standalone nodes use the cluster emitter too (local hooks only): shared subscriptions
  // take one code path in every mode.
  const local = cluster === undefined ? createLocalEmitter(config.shared.strategy, deps.log) : undefined
  const emitter = cluster?.routing.emitter ?? local?.emitter
  withoutSharedRetained(persistence as unknown as Parameters<typeof withoutSharedRetained>[0])
  const aedes = new Aedes({
    id: brokerId,
    persistence,
    mq: emitter as unknown as NonNullable<ConstructorParameters<typeof Aedes>[0]>['mq'],
    connectTimeout: config.mqtt.connectTimeoutMs,
    preConnect: policy.preConnect,
    authenticate: policy.authenticate,
    authorizePublish: auth.authorizePublish,
    authorizeSubscribe: shareInnerFilter(auth.authorizeSubscribe),
    authorizeForward: hideAedesSys(auth.authorizeForward)
  })
  installTopicLevels(aedes, emitter as unknown as EmitterMatcher)
  auth.install(aedes)
  skipClosedClientRegistration(aedes)
  keepAedesSysLocal(aedes, (packet) => emitter?.deliver(packet as unknown as Parameters<NonNullable<typeof emitter>['deliver']>[0]))
  const connections = new Connections()
  const metrics = createMetrics({
    nodeId: config.nodeId,
    version: VERSION,
    mode,
    connectedClients: () => aedes.connectedClients,
    subscriptions: () => countSubscriptions(aedes),
    retainedMessages: () => persistence.retainedCount,
    persistentSessions: () => persistence.sessionCount,
    bytes: () => connections.bytes(),
    ...(cluster === undefined
      ? {}
      : {
          cluster: () => cluster.routing.stats(),
          sessions: () => cluster.persistence.counters,
          redisStates: () => ({ commands: cluster.redis.cmd.status, subscriber: cluster.redis.sub.status }),
          redisCalls: [...(Object.keys(SCRIPTS) as ScriptName[]).map(scriptCall), frameCall(cluster.redis)]
        }),
    shared: () => ({ ...(cluster?.routing.sharedCounts ?? local?.shared.counts ?? { local: 0, sent: 0, dropped: 0 }), redispatched: sharedMembers.counts.redispatched })
  })
  const traffic = observe(aedes, deps.log, metrics)
  const latency = installLatencyHooks({ aedes, emitter: emitter as unknown as Parameters<typeof installLatencyHooks>[0]['emitter'], metrics, clustered: cluster !== undefined })
  if (cluster !== undefined) {
    cluster.scripts.observe = (name, seconds) => metrics.redisDuration.observe({ call: scriptCall(name) }, seconds)
    cluster.redis.observeSend = (seconds) => metrics.redisDuration.observe({ call: frameCall(cluster.redis) }, seconds)
    cluster.observeInbound(latency.arrived)
    cluster.routing.setPublishTimes(latency.publishedAt)
  }
  // Limits run first, then the hooks aedes was built with (authentication, access control).
  const limits = createLimits(config.limits, { aedes, metrics, log: deps.log })
  const hooks = aedes as unknown as Required<Pick<AedesOptions, 'authenticate' | 'authorizePublish' | 'authorizeSubscribe'>>
  hooks.authenticate = limits.authenticate(hooks.authenticate)
  hooks.authorizePublish = limits.authorizePublish(hooks.authorizePublish)
  hooks.authorizeSubscribe = validateShare(limits.authorizeSubscribe(hooks.authorizeSubscribe), log)
  const inflight = createInflightLimit({ max: config.limits.maxInflight, queueMax: config.session.queueMax, metrics, refused: limits.refused })
  const once = installOncePerSubscription(aedes, persistence as unknown as Parameters<typeof installOncePerSubscription>[1])
  const fixes = installDeliveryFixes(aedes, once.live)
  const sharedMembers = installSharedMembers({
    aedes,
    persistence: persistence as unknown as Parameters<typeof installSharedMembers>[0]['persistence'],
    redispatch: (group, filter, message) => {
      if (cluster !== undefined) cluster.routing.redispatchShared(group, filter, message)
      else local?.shared.redispatch(group, filter, message, 0, 0)
    },
    log
  })
  // Last of the publish wrappers: a PUBACK waits for the whole hand-off.
  const ackGate = installAckGate(aedes, writeHeld)
  const acks = new ExpectedAcks()
  registerWriteObserver(aedes, {
    sessionPresent: persistence.sessionPresence,
    holdAck: ackGate.hold,
    publishSent: (qos, client, messageId, packet) => {
      metrics.messagesSent.inc({ qos: String(qos) })
      latency.sent(packet)
      traffic.sent++
      acks.publishSent(client, qos, messageId)
      inflight.sent(client, qos, messageId)
      sharedMembers.publishSent(client, packet)
    },
    pubrelSent: (client, messageId) => acks.pubrelSent(client, messageId),
    accepted: (client, resumed) => { if (!resumed) firstPacketIdentifier(client) }
  })
  await aedes.listen()
  if (cluster !== undefined) {
    stopAedesWillSweep(aedes)
    cluster.routing.setRejoinHook(() => {
      const clients = connected(aedes)
      log.warn({ clients: clients.length }, 'this node was reaped by a peer: closing its connections (their wills were published by the reaper)')
      for (const client of clients) disconnectWithoutWill(client)
    })
  }

  const handle = (stream: Duplex, req?: IncomingMessage): void => {
    if (!limits.admitConnection(stream, req)) return
    const client = internals(aedes.handle(stream, req))
    rememberPeer(client, peerAddress(stream, req))
    guardParser(client._parser, { maxPacketSize: config.mqtt.maxPacketSize, acks })
    fixes.onClient(client)
    once.onClient(client as unknown as Parameters<typeof once.onClient>[0])
    sharedMembers.onClient(client)
    if (redisPersistence !== undefined) {
      const deliverQoS = client.deliverQoS
      client.deliverQoS = (packet, cb) => {
        if (packet.qos > 0 && !sharedMembers.isSharedDelivery(client, packet) &&
          !redisPersistence.admit(client as unknown as ClientLike, packet)) return cb()
        deliverQoS(packet, cb)
      }
      stream.once('close', () => {
        redisPersistence.connectionClosed(client as unknown as ClientLike)
          .catch((err: unknown) => sessionLog.warn({ clientId: client.id, err }, 'session not parked after its connection closed'))
      })
    }
    inflight.onClient(client)
  }

  let closing = false
  let admin: NodeAdmin | undefined
  let markClosed: () => void = () => {}
  const closed = new Promise<void>(resolve => { markClosed = resolve })
  const listeners: Listener[] = []
  let tls: TlsCredentials | undefined
  const listenerLog = deps.log.child({ module: 'listener' })
  const host = config.host
  try {
    const mqtt = await startTcpListener({ host, port: config.mqtt.port, log: listenerLog, connections, handle })
    listeners.push(mqtt)
    const ws = config.ws.port === 'off'
      ? undefined
      : await startWsListener({ host, port: config.ws.port, log: listenerLog, connections, handle })
    if (ws !== undefined) listeners.push(ws)
    tls = config.mqtts.port === 'off' && config.wss.port === 'off' ? undefined : loadTls(config, listenerLog, metrics)
    const tlsOptions = tls === undefined
      ? undefined
      : { host, log: listenerLog, connections, credentials: tls, clientCertAuth: config.tls.clientCertAuth, handshakeTimeoutMs: config.mqtt.connectTimeoutMs }
    const mqtts = tlsOptions === undefined || config.mqtts.port === 'off'
      ? undefined
      : await startMqttsListener({ ...tlsOptions, port: config.mqtts.port, handle })
    if (mqtts !== undefined) listeners.push(mqtts)
    const wss = tlsOptions === undefined || config.wss.port === 'off'
      ? undefined
      : await startWssListener({ ...tlsOptions, port: config.wss.port, handle })
    if (wss !== undefined) listeners.push(wss)
    const http = config.http.port === 'off'
      ? undefined
      : await startHttpListener({
        host,
        port: config.http.port,
        log: listenerLog,
        registry: metrics.registry,
        checks: [
          { name: 'listeners', ok: () => !closing && admin?.drain.draining !== true },
          { name: 'broker', ok: () => !aedes.closed },
          ...(cluster === undefined
            ? []
            : [
                { name: 'redis', ok: () => cluster.routing.health().redis },
                { name: 'lease', ok: () => cluster.routing.health().lease },
                { name: 'inbox', ok: () => cluster.routing.health().inbox }
              ])
        ],
        admin: (req, res, path) => admin?.http(req, res, path) ?? false,
        details: () => ({
          mode,
          ...(cluster === undefined
            ? {}
            : {
                redis: cluster.redis.capabilities,
                memberId: cluster.routing.memberId,
                peers: cluster.routing.peers.size
              })
        })
      })

    const close = async (): Promise<void> => {
      if (closing) return
      closing = true
      log.info({ clients: aedes.connectedClients }, 'broker closing')
      const stopped = Promise.all(listeners.map(async l => await l.close()))
      await new Promise<void>(resolve => aedes.close(() => resolve()))
      connections.destroyAll()
      await stopped
      tls?.close()
      auth.close()
      admin?.stop()
      await cluster?.close()
      await http?.close()
      log.info('broker closed')
      markClosed()
    }
    admin = createNodeAdmin({
      aedes,
      nodeId: config.nodeId,
      version: VERSION,
      settings: {
        token: config.admin.token,
        sysIntervalMs: config.sys.intervalSeconds * 1000,
        drainBatchSize: config.drain.batchSize,
        drainBatchIntervalMs: config.drain.batchIntervalMs
      },
      counters: () => ({
        clients: aedes.connectedClients,
        subscriptions: countSubscriptions(aedes),
        messagesReceived: traffic.received,
        messagesSent: traffic.sent,
        bytesReceived: connections.bytes().received,
        bytesSent: connections.bytes().sent,
        retained: persistence.retainedCount
      }),
      session: async (clientId) => {
        if (redisPersistence !== undefined) return await redisPersistence.describe(clientId)
        const live = clientsOf(aedes)[clientId]
        const subs = live === undefined ? undefined : Object.entries(internals(live).subscriptions).map(([topic, s]) => ({ topic, qos: s.qos }))
        return await (persistence as StandalonePersistence).describe(clientId, subs)
      },
      ...(cluster === undefined
        ? {}
        : {
            cluster: {
              routing: cluster.routing,
              store: new StatsStore({ redis: cluster.redis.cmd, keys: cluster.keys, leases: async () => await cluster.routing.leases(), leaseTtlMs: config.cluster.leaseTtlMs })
            }
          }),
      stopAccepting: () => { for (const l of listeners) void l.close() },
      close,
      log: deps.log
    })
    const drain = admin.drain
    if (config.admin.token === undefined) log.warn('admin.token is not set: the admin API (/admin/…, /sessions/…) refuses every request (401); set SLOTMQ_ADMIN_TOKEN to use it')
    log.info({ brokerId, mode, version: VERSION }, 'broker started')
    return { nodeId: config.nodeId, brokerId, mode, cluster: cluster?.routing, mqtt: mqtt.address, ws: ws?.address, mqtts: mqtts?.address, wss: wss?.address, http: http?.address, aedes, metrics, reloadAuth: auth.reload, close, drain: async () => await drain.run(), closed }
  } catch (err) {
    tls?.close()
    await Promise.all(listeners.map(async l => await l.close()))
    await new Promise<void>(resolve => aedes.close(() => resolve()))
    auth.close()
    await cluster?.close()
    throw err
  }
}

/** The TLS listeners' certificate, key and CA, watched for changes. */
function loadTls (config: Config, log: Logger, metrics: BrokerMetrics): TlsCredentials {
  const { certFile, keyFile, caFile, reloadCheckMs } = config.tls
  // loadConfig refuses a TLS port without both files.
  if (certFile === undefined || keyFile === undefined) throw new Error('TLS listener without certificate and key')
  return loadTlsCredentials({ certFile, keyFile, caFile }, { checkIntervalMs: reloadCheckMs, log, reloads: metrics.tlsReloads })
}

interface ClusterParts {
  redis: RedisConnections
  keys: KeySpace
  routing: ClusterRouting
  persistence: RedisPersistence
  scripts: Scripts
  /** Told of every message from a peer as it arrives (latency metrics). */
  observeInbound: (observer: (message: object) => void) => void
  close: () => Promise<void>
}

/** The `call` label of a script: its file name without `.lua`. */
function scriptCall (name: ScriptName): string {
  return SCRIPTS[name].file.replace(/\.lua$/, '')
}

/** The `call` label of frames sent to peers' inboxes. */
function frameCall (redis: RedisConnections): string {
  return redis.capabilities.sharded ? 'spublish' : 'publish'
}

/** Connects to Redis, joins the cluster and builds the Redis-backed persistence. */
async function joinCluster (config: Config, log: Logger, memberId: string): Promise<ClusterParts> {
  const redis = await createRedis(config, { log, memberName: memberId })
  try {
    const keys = createKeySpace(config.redis.keyPrefix)
    const scripts = new Scripts(redis.cmd, keys, Number(redis.capabilities.version.split('.')[0]))
    const routing = new ClusterRouting({
      redis,
      keys,
      scripts,
      nodeId: config.nodeId,
      memberId,
      leaseTtlMs: config.cluster.leaseTtlMs,
      log,
      emitterOptions: { concurrency: 100 },
      leaveWithEmitter: false,
      refuseListener: isAedesTakeoverListener,
      sharedStrategy: config.shared.strategy
    })
    await routing.start()
    const persistence = new RedisPersistence({
      redis: redis.cmd,
      keys,
      scripts,
      retained: new RetainedStore(redis.cmd, keys, scripts),
      links: sessionLinks(routing.bus, {
        memberId: () => routing.memberId,
        hold: async (filter) => { await routing.hold(filter) },
        release: (filter) => routing.release(filter),
        journal: (memberId) => routing.journal(memberId),
        dropJournal: async (memberId) => await routing.dropJournal(memberId)
      }),
      settings: {
        queueCap: config.session.queueMax,
        expiryMs: config.session.expirySeconds * 1000,
        // A dead node's journal holds what it received in its last JOURNAL_RETENTION_MS,
        // and what peers sent it until its lease ran out and it was reaped.
        ackMemoryMs: JOURNAL_RETENTION_MS + 3 * config.cluster.leaseTtlMs
      },
      log
    })
    let inboundObserver: ((message: object) => void) | undefined
    routing.setInboundHook(async (message, origin) => {
      inboundObserver?.(message)
      await persistence.enqueueRemote(message, origin)
    })
    routing.setJournalFloor(persistence.journalFloor)
    handlePeerRecords(routing.bus, persistence, log)
    routing.setMemberHooks({
      reaped: async (memberId, live, dropRoutes) => await persistence.reapMember(memberId, live, dropRoutes),
      recovered: async (message, clientId, origin) => await persistence.recovered(message as unknown as Packet, clientId, origin),
      frameHandled: (origin) => persistence.frameHandled(origin),
      numberingReset: () => persistence.numberingReset()
    })
    const refresh = setInterval(() => {
      persistence.refreshRetainedCount().catch((err: unknown) => log.debug({ err }, 'retained count not refreshed'))
    }, 10_000)
    refresh.unref()
    let closed = false
    return {
      redis,
      keys,
      routing,
      persistence,
      scripts,
      observeInbound: (observer) => { inboundObserver = observer },
      close: async () => {
        if (closed) return
        closed = true
        clearInterval(refresh)
        // Sessions parked here go to the peers, as if this node had died, but at once.
        await persistence.handOver([...routing.peers]).catch((err: unknown) => log.warn({ err }, 'sessions not handed over'))
        persistence.stop()
        await routing.close()
        await redis.close()
      }
    }
  } catch (err) {
    await redis.close()
    throw err
  }
}

/** Logs and counts client events; returns the PUBLISH counts ($SYS, admin). `log` is the root logger. */
function observe (aedes: Aedes, log: Logger, metrics: BrokerMetrics): { received: number, sent: number } {
  const traffic = { received: 0, sent: 0 }
  const clientLog = log.child({ module: 'client' })
  aedes.on('client', (client: Client) => {
    metrics.connections.inc()
    clientLog.debug({ clientId: client.id, clean: client.clean, version: client.version }, 'client connected')
  })
  aedes.on('clientDisconnect', (client: Client) => clientLog.debug({ clientId: client.id }, 'client disconnected'))
  aedes.on('publish', (packet, client) => {
    if (client === null || client === undefined) return
    metrics.messagesReceived.inc({ qos: String(packet.qos) })
    traffic.received++
  })
  // aedes reports an error for each delivery that fails on a connection closing on error
  // (a session taken over with messages on their way): the connection is logged and
  // counted once, the later errors at debug.
  const closedOnError = new WeakSet<Client>()
  const onClientError = (client: Client, err: Error): void => {
    const problem = classifyClientError(err)
    if (problem.droppedPublish) metrics.messagesDropped.inc({ reason: problem.reason })
    const fields = { clientId: client.id, remote: peerOf(client), reason: problem.reason, err: { message: err.message } }
    if (closedOnError.has(client)) {
      clientLog.debug(fields, 'another error on a connection closed on error')
      return
    }
    closedOnError.add(client)
    metrics.clientErrors.inc({ reason: problem.reason })
    clientLog[problem.level](fields, 'client connection closed on error')
  }
  aedes.on('clientError', onClientError)
  aedes.on('connectionError', onClientError)
  aedes.on('keepaliveTimeout', (client: Client) => clientLog.info({ clientId: client.id }, 'client keepalive timeout'))
  ;(aedes as EventEmitter).on('error', (err: Error) => log.child({ module: 'broker' }).error({ err }, 'broker error'))
  return traffic
}

function countSubscriptions (aedes: Aedes): number {
  let n = 0
  const clients = clientsOf(aedes)
  for (const id in clients) {
    const client = clients[id]
    if (client !== undefined) n += Object.keys(internals(client).subscriptions).length
  }
  return n
}
