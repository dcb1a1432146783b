/**
 * `slotmq chaos [options]`: fault scenarios against real slotmq nodes on a real Redis
 * Cluster; prints a table (or --json) and exits 1 when anything acknowledged was lost or
 * a scenario's check failed.
 */
import { parseArgs } from 'node:util'
import { BrokerError, ERR } from '../errors.js'
import { createLogger } from '../logger.js'
import { renderReport } from './output.js'
import { runChaos } from './runner.js'
import { SCENARIOS } from './scenarios/index.js'
import type { ChaosOptions } from './types.js'

export const CHAOS_HELP = `slotmq chaos: fault injection with real MQTT clients, counting every message

Usage:
  slotmq chaos [options]

Starts a Redis Cluster (3 primaries + 3 replicas, from redis-server, on free loopback
ports) unless --redis is given, starts --nodes slotmq nodes as child processes, and runs
each scenario --runs times: a persistent QoS 1 subscriber on one node, a QoS 1 publisher
of numbered messages on another, a fault mid-stream, then a bounded wait for delivery to
settle. Lost = acknowledged (PUBACK) but never delivered.

Scenarios:
${SCENARIOS.map(s => `  ${s.name.padEnd(27)}${s.summary}`).join('\n')}

Options:
  --scenarios LIST   comma-separated subset of the scenarios (default all)
  --runs N           runs of each scenario (default 5)
  --nodes N          slotmq nodes, at least 2 (default 3)
  --rate N           QoS 1 publishes per second of the stream (default 500)
  --lease-ttl-ms MS  the nodes' lease (default 2000)
  --max-inflight N   the nodes' in-flight window per connection (default 32)
  --queue-max N      the nodes' session queue cap (session.queueMax; default 20 s of
                     the stream, --rate x 20): a fault that stops delivery to a session
                     for longer than the queue holds drops its oldest messages by design
  --race-seconds S   how long each takeover race lasts (default 5)
  --settle S         longest wait for delivery to settle after a fault (default 15)
  --redis LIST       use this Redis (host:port,...) instead of starting one; the
                     *-primary-kill scenarios are then skipped (only processes started
                     here are killed), *-primary-failover sends CLUSTER FAILOVER to it
  --node-logs DIR    write every node's whole log to DIR (one file per node process;
                     the directory is created if missing)
  --json             print the result as JSON instead of the table
  --log-level LEVEL  the suite's own log on stderr (default warn)
  -h, --help

Exit status: 0 when nothing acknowledged was lost and every check held, 1 otherwise,
2 for bad options. Every step is bounded in time; processes started here are stopped
on exit and on SIGINT.
`

function usage (message: string): never {
  throw new BrokerError(ERR.USAGE, message)
}

function int (name: string, value: string | undefined, fallback: number, min: number): number {
  if (value === undefined) return fallback
  const v = Number(value)
  if (!Number.isInteger(v) || v < min) usage(`--${name} must be an integer >= ${min}, got '${value}'`)
  return v
}

export interface ParsedChaos { help: boolean, json: boolean, logLevel: string, options: ChaosOptions }

/** Parses the options; `entry` is how to start a slotmq node (node arguments before `start`). */
export function parseChaosOptions (args: string[], entry: string[]): ParsedChaos {
  let parsed
  try {
    parsed = parseArgs({
      args,
      allowPositionals: false,
      strict: true,
      options: {
        scenarios: { type: 'string' },
        runs: { type: 'string' },
        nodes: { type: 'string' },
        rate: { type: 'string' },
        'lease-ttl-ms': { type: 'string' },
        'max-inflight': { type: 'string' },
        'queue-max': { type: 'string' },
        'race-seconds': { type: 'string' },
        settle: { type: 'string' },
        redis: { type: 'string' },
        'node-logs': { type: 'string' },
        json: { type: 'boolean' },
        'log-level': { type: 'string' },
        help: { type: 'boolean', short: 'h' }
      }
    })
  } catch (err) {
    usage((err as Error).message)
  }
  const v = parsed.values
  const names = v.scenarios === undefined ? SCENARIOS.map(s => s.name) : v.scenarios.split(',').map(s => s.trim()).filter(s => s.length > 0)
  const unknown = names.filter(n => !SCENARIOS.some(s => s.name === n))
  if (unknown.length > 0) usage(`unknown scenario${unknown.length > 1 ? 's' : ''} ${unknown.map(n => `'${n}'`).join(', ')} (one of ${SCENARIOS.map(s => s.name).join(', ')})`)
  if (names.length === 0) usage('--scenarios names no scenario')
  const redis = v.redis?.split(',').map(s => s.trim()).filter(s => s.length > 0)
  if (redis !== undefined && (redis.length === 0 || redis.some(s => !/^[^:\s]+:\d+$/.test(s)))) usage(`--redis must be host:port[,host:port...], got '${v.redis ?? ''}'`)
  const logLevel = v['log-level'] ?? 'warn'
  if (!['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'].includes(logLevel)) usage(`--log-level must be one of fatal, error, warn, info, debug, trace, silent, got '${logLevel}'`)
  return {
    help: v.help === true,
    json: v.json === true,
    logLevel,
    options: {
      scenarios: names,
      runs: int('runs', v.runs, 5, 1),
      nodes: int('nodes', v.nodes, 3, 2),
      rate: int('rate', v.rate, 500, 1),
      leaseTtlMs: int('lease-ttl-ms', v['lease-ttl-ms'], 2000, 1000),
      maxInflight: int('max-inflight', v['max-inflight'], 32, 1),
      queueMax: int('queue-max', v['queue-max'], 20 * int('rate', v.rate, 500, 1), 1),
      raceSeconds: int('race-seconds', v['race-seconds'], 5, 1),
      settleMs: int('settle', v.settle, 15, 1) * 1000,
      redis,
      nodeLogs: v['node-logs'] === '' ? usage('--node-logs needs a directory') : v['node-logs'],
      entry
    }
  }
}

/** The command that runs this slotmq: the same entry file, with the same loader flags. */
function currentEntry (): string[] {
  return [...process.execArgv, process.argv[1] as string]
}

/** Runs the chaos command; returns the exit status. */
export async function chaosCommand (args: string[]): Promise<number> {
  const { help, json, logLevel, options } = parseChaosOptions(args, currentEntry())
  if (help) {
    process.stdout.write(CHAOS_HELP)
    return 0
  }
  const log = createLogger({ level: logLevel, nodeId: 'chaos' }, process.stderr)
  const abort = new AbortController()
  const interrupt = (): void => {
    process.stderr.write('interrupted: stopping the nodes and Redis started here\n')
    abort.abort()
  }
  process.once('SIGINT', interrupt)
  process.once('SIGTERM', interrupt)
  try {
    const report = await runChaos(options, { log, progress: line => process.stderr.write(`${line}\n`), signal: abort.signal })
    process.stdout.write(json ? JSON.stringify(report, null, 2) + '\n' : renderReport(report))
    return report.failed ? 1 : 0
  } catch (err) {
    if (abort.signal.aborted) return 130
    throw err
  } finally {
    process.off('SIGINT', interrupt)
    process.off('SIGTERM', interrupt)
  }
}
