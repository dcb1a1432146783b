/**
 * One node's operations surface: the admin API's operations, the drain, the $SYS
 * publisher, and the admin requests peers send through the inbox (kick a client
 * connected here, drain this node).
 */
import type { Aedes, Client } from 'aedes'
import type { Logger } from '../logger.js'
import { clientsOf, internals } from '../aedes/internals.js'
import { peerOf } from '../listeners/peer.js'
import type { ClusterRouting } from '../routing/cluster.js'
import { createAdminApi, type AdminOps, type HttpHandler } from './api.js'
import { ClusterClientsQuery, REPLY, REQUEST, type NodeClients } from './cluster-clients.js'
import { connected, disconnectWithoutWill, Drain } from './drain.js'
import type { NodeStats, StatsStore } from './stats.js'
import { SysPublisher } from './sys.js'

export interface NodeAdminDeps {
  aedes: Aedes
  nodeId: string
  version: string
  settings: { token: string | undefined, sysIntervalMs: number, drainBatchSize: number, drainBatchIntervalMs: number }
  /** This node's counters now (see NodeStats). */
  counters: () => Omit<NodeStats, 'memberId' | 'nodeId' | 'version' | 'uptimeSec' | 'draining'>
  /** One session by client id (undefined: no such session). */
  session: (clientId: string) => Promise<Record<string, unknown> | undefined>
  /** Redis modes. */
  cluster?: { routing: ClusterRouting, store: StatsStore }
  stopAccepting: () => void
  close: () => Promise<void>
  log: Logger
}

export interface NodeAdmin {
  http: HttpHandler
  drain: Drain
  stats: () => NodeStats
  stop: () => void
}

export function createNodeAdmin (deps: NodeAdminDeps): NodeAdmin {
  const log = deps.log.child({ module: 'admin' })
  const startedAt = Date.now()
  const connectedAt = new WeakMap<Client, number>()
  deps.aedes.on('client', (client: Client) => connectedAt.set(client, Date.now()))
  const routing = deps.cluster?.routing
  const memberId = (): string => routing?.memberId ?? deps.aedes.id
  const drain = new Drain({
    aedes: deps.aedes,
    stopAccepting: deps.stopAccepting,
    close: deps.close,
    batchSize: deps.settings.drainBatchSize,
    batchIntervalMs: deps.settings.drainBatchIntervalMs,
    log
  })
  const startDrain = (): void => { drain.run().catch((err: unknown) => log.error({ err }, 'drain failed')) }
  const stats = (): NodeStats => ({
    memberId: memberId(),
    nodeId: deps.nodeId,
    version: deps.version,
    uptimeSec: Math.floor((Date.now() - startedAt) / 1000),
    ...deps.counters(),
    draining: drain.draining
  })
  const local = (clientId: string): Client | undefined =>
    clientsOf(deps.aedes)[clientId]

  const localClients = (limit: number): NodeClients => {
    const all = connected(deps.aedes)
    return {
      memberId: memberId(),
      nodeId: deps.nodeId,
      connected: all.length,
      clients: all.slice(0, limit).map(c => ({
        clientId: c.id,
        clean: c.clean,
        version: c.version,
        remote: peerOf(c),
        subscriptions: Object.keys(internals(c).subscriptions).length,
        connectedAt: new Date(connectedAt.get(c) ?? Date.now()).toISOString()
      }))
    }
  }
  const clientsQuery = new ClusterClientsQuery({
    local: localClients,
    members: async () => deps.cluster === undefined ? [{ memberId: memberId(), nodeId: deps.nodeId }] : await deps.cluster.store.members(),
    self: memberId,
    send: (member, action, text) => routing?.admin(member, action, text),
    log
  })

  routing?.setAdminHook((action, clientId, sender) => {
    if (action === REQUEST) {
      clientsQuery.answer(sender, clientId)
    } else if (action === REPLY) {
      clientsQuery.reply(sender, clientId)
    } else if (action === 'disconnect') {
      const client = local(clientId)
      log.info({ clientId, requestedBy: sender, found: client !== undefined }, 'admin: kick requested by a peer')
      if (client !== undefined) disconnectWithoutWill(client)
    } else if (action === 'drain') {
      log.info({ requestedBy: sender }, 'admin: drain requested by a peer')
      startDrain()
    } else {
      log.warn({ action, sender }, 'unknown admin request ignored')
    }
  })

  const ops: AdminOps = {
    nodes: async () => {
      if (deps.cluster === undefined) return [{ memberId: memberId(), nodeId: deps.nodeId, self: true, leaseAgeMs: null, stats: stats() }]
      const me = memberId()
      return (await deps.cluster.store.members()).map(m => ({ ...m, self: m.memberId === me, ...(m.memberId === me ? { stats: stats() } : {}) }))
    },
    clients: async (limit) => await clientsQuery.list(limit),
    session: deps.session,
    kick: async (clientId) => {
      const client = local(clientId)
      if (client !== undefined) {
        disconnectWithoutWill(client)
        return { node: memberId() }
      }
      if (routing === undefined) return undefined
      const session = await deps.session(clientId)
      const owner = session?.owner
      if (typeof owner !== 'string' || session?.connected !== true || owner === memberId()) return undefined
      routing.admin(owner, 'disconnect', clientId)
      return { node: owner }
    },
    drain: async (node) => {
      if (node === undefined || node === memberId() || (deps.cluster === undefined && node === deps.nodeId)) {
        startDrain()
        return { node: memberId() }
      }
      if (deps.cluster === undefined || routing === undefined) return undefined
      const target = (await deps.cluster.store.members()).find(m => m.memberId === node || m.nodeId === node)
      if (target === undefined) return undefined
      if (target.memberId === memberId()) startDrain()
      else routing.admin(target.memberId, 'drain')
      return { node: target.memberId }
    }
  }

  const sys = new SysPublisher({
    intervalMs: deps.settings.sysIntervalMs,
    stats,
    publish: (topic, payload) => {
      deps.aedes.publish({ cmd: 'publish', topic, payload: Buffer.from(payload), qos: 0, retain: false, dup: false }, (err) => {
        if (err !== undefined && err !== null) log.debug({ err, topic }, '$SYS publish failed')
      })
    },
    ...(deps.cluster === undefined ? {} : { store: deps.cluster.store }),
    log
  })
  sys.start()

  return {
    http: createAdminApi({ token: deps.settings.token, ops, log }),
    drain,
    stats,
    stop: () => sys.stop()
  }
}
