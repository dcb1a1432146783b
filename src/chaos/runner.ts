/**
 * A chaos run: Redis (started here or the user's), N slotmq nodes in child processes,
 * then every chosen scenario `runs` times. Between runs the fleet is healed (killed
 * nodes replaced, dead members reaped) and killed Redis servers are restarted as
 * replicas. Everything started here is stopped at the end, also when aborted.
 */
import { randomBytes } from 'node:crypto'
import { availableParallelism } from 'node:os'
import { ClientPool } from '../bench/clients.js'
import { BrokerError, ERR } from '../errors.js'
import type { Logger } from '../logger.js'
import { Fleet } from './fleet.js'
import { closeRedisTarget, openRedisTarget, restartKilled, type RedisTarget } from './redis-target.js'
import { scenarioNamed } from './scenarios/index.js'
import type { ChaosOptions, RunResult, Scenario } from './types.js'

export interface ChaosReport {
  settings: Record<string, string | number>
  startedAt: string
  durationS: number
  runs: RunResult[]
  /** True when a run lost an acknowledged message or failed a check. */
  failed: boolean
}

export interface ChaosDeps {
  log: Logger
  /** One line per step (stderr in the command). */
  progress: (line: string) => void
  /** Aborting stops the run at once and cleans up. */
  signal?: AbortSignal
}

const HEAL_TIMEOUT_MS = 60_000

/** Whether a run lost an acknowledged message or failed one of its checks. */
export function runFailed (r: RunResult): boolean {
  return r.skipped === undefined && (r.lost > 0 || r.checks.some(c => !c.ok))
}

export async function runChaos (options: ChaosOptions, deps: ChaosDeps): Promise<ChaosReport> {
  const scenarios = options.scenarios.map(name => {
    const s = scenarioNamed(name)
    if (s === undefined) throw new BrokerError(ERR.USAGE, `unknown scenario '${name}'`)
    return s
  })
  const started = Date.now()
  const prefix = `chaos-${randomBytes(3).toString('hex')}:`
  const runs: RunResult[] = []
  let redis: RedisTarget | undefined
  let fleet: Fleet | undefined
  const cleanup = async (): Promise<void> => {
    await fleet?.stop()
    if (redis !== undefined) await closeRedisTarget(redis)
  }
  const aborted = new Promise<never>((_resolve, reject) => {
    deps.signal?.addEventListener('abort', () => reject(new BrokerError(ERR.BENCH, 'interrupted')), { once: true })
  })
  aborted.catch(() => {})
  const work = async (): Promise<void> => {
    deps.progress(options.redis === undefined ? 'starting a local Redis Cluster (3 primaries, 3 replicas)' : `using Redis at ${options.redis.join(',')}`)
    redis = await openRedisTarget(options.redis)
    const seeds = redis.seeds.map(s => `${s.host}:${s.port}`).join(',')
    deps.progress(`starting ${options.nodes} slotmq nodes (lease ${options.leaseTtlMs} ms)`)
    fleet = await Fleet.start(options.nodes, options.entry, [
      '--redis', seeds, '--redis-prefix', prefix, '--lease-ttl-ms', String(options.leaseTtlMs),
      '--max-inflight', String(options.maxInflight), '--session-queue-max', String(options.queueMax), '--session-expiry', '600'
    ], deps.log, options.nodeLogs)
    for (const scenario of scenarios) {
      for (let run = 1; run <= options.runs; run++) {
        const result = await runOnce(scenario, run, { fleet, redis, options, log: deps.log, prefix })
        runs.push(result)
        deps.progress(progressLine(result))
      }
    }
  }
  try {
    await Promise.race([work(), aborted])
  } finally {
    await cleanup()
  }
  return {
    settings: {
      nodes: options.nodes,
      rate: options.rate,
      leaseTtlMs: options.leaseTtlMs,
      maxInflight: options.maxInflight,
      queueMax: options.queueMax,
      runs: options.runs,
      redis: options.redis === undefined ? 'local cluster, 3 primaries + 3 replicas' : options.redis.join(','),
      cpus: availableParallelism()
    },
    startedAt: new Date(started).toISOString(),
    durationS: Math.round((Date.now() - started) / 1000),
    runs,
    failed: runs.some(runFailed)
  }
}

interface Shared { fleet: Fleet, redis: RedisTarget, options: ChaosOptions, log: Logger, prefix: string }

async function runOnce (scenario: Scenario, run: number, s: Shared): Promise<RunResult> {
  const result: RunResult = { scenario: scenario.name, run, published: 0, acknowledged: 0, delivered: 0, lost: 0, duplicated: 0, outOfOrder: 0, figures: {}, checks: [], durationMs: 0 }
  await prepare(s, result)
  const exitsBefore = s.fleet.unexpectedExits
  const pool = new ClientPool()
  const started = Date.now()
  try {
    await scenario.run({ fleet: s.fleet, redis: s.redis, options: s.options, log: s.log, pool, prefix: s.prefix, tag: `${scenario.name}-${run}-${randomBytes(2).toString('hex')}` }, result)
  } catch (err) {
    s.log.warn({ err, scenario: scenario.name, run }, 'chaos run failed')
    result.checks.push({ name: 'run completed', ok: false, detail: (err as Error).message })
  } finally {
    await pool.closeAll()
  }
  result.durationMs = Date.now() - started
  const exits = s.fleet.unexpectedExits - exitsBefore
  if (exits > 0) result.checks.push({ name: 'no node exited by itself', ok: false, detail: `${exits} node(s) exited without being killed` })
  return result
}

/** Heals the fleet and Redis left by the previous run; a failure to do so is this run's failed check. */
async function prepare (s: Shared, result: RunResult): Promise<void> {
  if (s.redis.killed.length > 0 && !await restartKilled(s.redis, HEAL_TIMEOUT_MS)) {
    result.checks.push({ name: 'Redis Cluster whole before the run', ok: false, detail: `not within ${HEAL_TIMEOUT_MS} ms of restarting the killed server` })
  }
  if (!await s.fleet.heal(HEAL_TIMEOUT_MS)) {
    result.checks.push({ name: 'nodes see each other before the run', ok: false, detail: `membership not whole within ${HEAL_TIMEOUT_MS} ms` })
  }
}

function progressLine (r: RunResult): string {
  if (r.skipped !== undefined) return `${r.scenario} #${r.run}: skipped (${r.skipped})`
  const failed = r.checks.filter(c => !c.ok).map(c => `${c.name}: ${c.detail}`)
  return `${r.scenario} #${r.run}: acked ${r.acknowledged}, delivered ${r.delivered}, lost ${r.lost}, dup ${r.duplicated}, ooo ${r.outOfOrder}` +
    `${failed.length > 0 ? `; FAILED ${failed.join('; ')}` : ''} (${(r.durationMs / 1000).toFixed(1)} s)`
}
