/**
 * `slotmq doctor --redis URL`: checks a Redis deployment before first use. Each check is
 * a line: what was found, and for a problem what to change. Nothing is left behind: the
 * commands run on throw-away keys under the key prefix (deleted, and expiring anyway).
 */
import { Cluster, Redis } from 'ioredis'
import { BrokerError } from '../errors.js'
import { parseSeed } from './client.js'
import { probeSeeds, type ProbeResult } from './probe.js'
import { NEEDED_COMMANDS, type CommandCheck } from './doctor-commands.js'

export interface DoctorOptions {
  seeds: readonly string[]
  username?: string | undefined
  password?: string | undefined
  keyPrefix: string
  tlsCaFile?: Buffer | undefined
  /** PINGs per primary for the latency figures. */
  pings?: number
}

export interface DoctorCheck {
  name: string
  ok: boolean
  detail: string
}

export async function runDoctor (opts: DoctorOptions): Promise<DoctorCheck[]> {
  const seeds = opts.seeds.map(parseSeed)
  const first = seeds[0]
  if (first === undefined) return [{ name: 'seeds', ok: false, detail: 'no Redis URL given' }]
  const username = first.username ?? opts.username
  const password = first.password ?? opts.password
  const base = {
    ...(username === undefined ? {} : { username }),
    ...(password === undefined ? {} : { password }),
    ...(first.tls ? { tls: { ...(opts.tlsCaFile === undefined ? {} : { ca: opts.tlsCaFile }) } } : {}),
    connectionName: 'slotmq:doctor'
  }
  const checks: DoctorCheck[] = []
  let probed: ProbeResult
  const started = Date.now()
  try {
    probed = await probeSeeds(seeds, base)
  } catch (err) {
    const problems = err instanceof BrokerError && err.problems.length > 0 ? err.problems : [(err as Error).message]
    return [{ name: 'connect', ok: false, detail: problems.join('; ') }]
  }
  checks.push({ name: 'connect', ok: true, detail: `${probed.seed.host}:${probed.seed.port} answered INFO in ${Date.now() - started} ms${username === undefined ? '' : ` as ${username}`}` })
  const major = Number(probed.version.split('.')[0])
  checks.push({ name: 'version', ok: major >= 7 || probed.mode === 'single', detail: `Redis ${probed.version}${major >= 7 ? '' : probed.mode === 'single' ? ' (before 7: classic PUBLISH/SUBSCRIBE fallback)' : ': a Redis Cluster needs 7 or later'}` })
  checks.push({
    name: 'spublish',
    ok: probed.sharded || probed.mode === 'single',
    detail: probed.sharded ? 'SPUBLISH/SSUBSCRIBE available (sharded pub/sub)' : probed.mode === 'single' ? 'no SPUBLISH: classic PUBLISH/SUBSCRIBE will be used' : 'no SPUBLISH: a Redis Cluster without sharded pub/sub is refused'
  })

  const nodes = seeds.map(s => ({ host: s.host, port: s.port }))
  const client: Cluster | Redis = probed.mode === 'cluster'
    ? new Cluster(nodes, { redisOptions: base, scaleReads: 'master', enableOfflineQueue: true, ...(first.tls ? { dnsLookup: (a: string, done: (e: null, a: string) => void) => done(null, a) } : {}) })
    : new Redis({ ...base, host: probed.seed.host, port: probed.seed.port })
  client.on('error', () => {})
  try {
    if (client instanceof Cluster) checks.push(await clusterShape(client))
    checks.push(await commandsAllowed(client, probed, opts.keyPrefix, username ?? 'default'))
    checks.push(await latency(client, opts.pings ?? 20))
  } finally {
    client.disconnect()
  }
  return checks
}

async function clusterShape (client: Cluster): Promise<DoctorCheck> {
  const slots = await client.cluster('SLOTS') as Array<[number, number, ...unknown[]]>
  let covered = 0
  const replicas = new Set(slots.flatMap(s => s.slice(3).map(r => JSON.stringify(r)))).size
  for (const [from, to] of slots) covered += to - from + 1
  const primaries = slots.length === 0 ? 0 : new Set(slots.map(s => JSON.stringify(s[2]))).size
  return {
    name: 'cluster',
    ok: covered === 16384,
    detail: `${primaries} primaries, ${replicas} replicas, ${covered} of 16384 slots served${covered === 16384 ? '' : ': the cluster is not fully assigned (CLUSTER ADDSLOTS / redis-cli --cluster fix)'}`
  }
}

async function commandsAllowed (client: Cluster | Redis, probed: ProbeResult, prefix: string, user: string): Promise<DoctorCheck> {
  const tag = `${prefix}mqtt:{doctor-${process.pid}-${Date.now()}}`
  const missing: CommandCheck[] = []
  const failed: string[] = []
  const needed = NEEDED_COMMANDS.filter(c => c.when?.(probed) ?? true)
  for (const check of needed) {
    try {
      await check.run(client, tag)
    } catch (err) {
      const message = (err as Error).message
      if (/NOPERM|no permissions/i.test(message)) missing.push(check)
      else failed.push(`${check.acl}: ${message}`)
    }
  }
  await client.del(`${tag}:s`, `${tag}:h`, `${tag}:z`, `${tag}:x`, `${tag}:set`).catch(() => {})
  if (missing.length === 0 && failed.length === 0) {
    return { name: 'commands', ok: true, detail: `${needed.length} commands slotmq sends allowed for user ${user} on ${prefix}mqtt:*` }
  }
  const parts: string[] = []
  if (missing.length > 0) parts.push(`refused for user ${user}: ${missing.map(c => c.acl).join(' ')} (ACL SETUSER ${user} ${missing.map(c => c.acl).join(' ')}; keys ~${prefix}mqtt:* channels &${prefix}mqtt:*)`)
  if (failed.length > 0) parts.push(`failed: ${failed.join('; ')}`)
  return { name: 'commands', ok: false, detail: parts.join('; ') }
}

async function latency (client: Cluster | Redis, pings: number): Promise<DoctorCheck> {
  const servers = client instanceof Cluster ? client.nodes('master') : [client]
  const samples: number[] = []
  for (const server of servers) {
    for (let i = 0; i < pings; i++) {
      const t = process.hrtime.bigint()
      await server.ping()
      samples.push(Number(process.hrtime.bigint() - t) / 1e6)
    }
  }
  samples.sort((a, b) => a - b)
  const at = (q: number): string => (samples[Math.min(samples.length - 1, Math.floor(q * samples.length))] ?? 0).toFixed(2)
  const slow = Number(at(0.99)) > 50
  return {
    name: 'latency',
    ok: !slow,
    detail: `PING round trip to ${servers.length} ${servers.length === 1 ? 'server' : 'primaries'} (${samples.length} samples): median ${at(0.5)} ms, p99 ${at(0.99)} ms, max ${at(1)} ms${slow ? ': over 50 ms at p99, every session change and publish to another node waits this long' : ''}`
  }
}
