/**
 * `slotmq bench SCENARIO [options]` and `slotmq bench compare [options]`.
 */
import { writeFileSync } from 'node:fs'
import { parseArgs } from 'node:util'
import { didYouMean, parseArgsMessage } from '../did-you-mean.js'
import { BrokerError, ERR } from '../errors.js'
import { parseEndpoints } from './clients.js'
import { k6Summary, ProgressLog, progressLine, renderTable } from './output.js'
import { htmlReport } from './report.js'
import { conn } from './scenarios/conn.js'
import { sessions } from './scenarios/sessions.js'
import { retained } from './scenarios/retained.js'
import { sharedsub } from './scenarios/sharedsub.js'
import { subprop } from './scenarios/subprop.js'
import { takeover } from './scenarios/takeover.js'
import { fanin, fanout, p2p } from './scenarios/throughput.js'
import type { BenchOptions, BenchResult } from './types.js'

export const SCENARIOS = { p2p, fanout, fanin, sharedsub, subprop, takeover, conn, retained, sessions } as const
export type ScenarioName = keyof typeof SCENARIOS

export const BENCH_HELP = `slotmq bench: load generator and broker comparison

Usage:
  slotmq bench SCENARIO [options]   run one scenario against any MQTT broker
  slotmq bench compare [options]    start brokers locally and compare them side by side

Scenarios:
  p2p        N pairs, each publisher on its own topic (--clients N, default 10)
  fanout     1 publisher to M subscribers on one topic (--clients M, default 10)
  fanin      M publishers to 1 wildcard subscriber (--clients M, default 10)
  sharedsub  N publishers into one shared subscription group of M members, with per-member balance
             (--publishers N, default 10; --clients M, default 10)
  subprop    SUBACK on --sub until a publish made on --pub first arrives (--clients = iterations, default 100)
  takeover   a persistent session moves from --pub to --sub and back (--clients = iterations, default 20)
  conn       connection storm (--clients connections, default 1000)
  retained   R retained messages, then one wildcard subscribe (--clients R, default 1000)
  sessions   S parked persistent sessions with 10 subscriptions each; with --redis, their Redis memory (--clients S, default 1000)

Options:
  --pub LIST         publisher endpoints, host:port or mqtt:// / ws:// URLs, comma-separated (default 127.0.0.1:1883)
  --sub LIST         subscriber endpoints (default: the --pub list); clients are placed round-robin
  --qos 0|1|2        QoS of publishes and subscriptions (default 0)
  --size BYTES       payload size, at least 16: 8-byte sequence + 8-byte timestamp + padding (default 256)
  --rate N|max       total publishes per second across publishers (default max)
  --duration S       seconds of publishing (default 10)
  --clients N        see the scenarios
  --publishers N     publishers of the sharedsub scenario (default 10)
  --clean true|false clean session for subscribers (default true)
  --timeout S        longest wait for any step: connect, drain, first delivery (default 10)
  --metrics LIST     /metrics URLs of the brokers, for the conn scenario's memory figures
  --redis LIST       seeds of the brokers' Redis Cluster or single Redis (host:port or redis:// URLs).
                     p2p, fanout, fanin, sharedsub: INFO commandstats of every primary is read
                     before the first publish and after the last delivery; reported: Redis
                     commands per delivered message (all commands executed in between, less
                     these INFO calls, divided by the messages the subscribers received) and
                     script calls (EVAL, EVALSHA, FCALL) per delivered message; --json metrics
                     redis_commands_per_message, redis_script_calls_per_message. Commands called
                     inside Lua scripts are counted as well as the script call itself: the figure
                     is the plain sum. Every client of that Redis counts, so use one that only
                     the brokers under test use.
                     sessions: Redis memory per session.
  --json             print the result as JSON in k6's summary shape instead of the table
  --report FILE      also write a self-contained HTML report: the summary, latency over time
                     (end-to-end and, QoS > 0, publish acknowledgement), message rates
                     (fanout: per subscriber too) and latency distributions
  --progress S       seconds between progress lines when stderr is not a terminal (default 5,
                     0 for none); on a terminal one live line is updated every second

Progress goes to stderr, the result (table or --json) to stdout.

compare options:
  --duration S       seconds per scenario and broker (default 5)
  --scenarios LIST   subset of p2p-qos0,p2p-qos1,p2p-qos1-persistent,latency-2k,
                     latency-2k-persistent,subprop (default all); latency-2k-persistent is
                     latency-2k with persistent subscribers (clean session false)
  --repeat N         rounds over every broker and scenario, interleaved; each cell is the
                     median round, losses are summed over all rounds (default 1)
  --json             print the comparison as JSON

Redis-backed brokers get two more columns per compare scenario, read from the local Redis
Cluster as --redis does: Redis cmds/msg (commands called inside scripts included) and
scripts/msg. They are blank for brokers without Redis.

Every run is bounded: connects and drains time out, and the process exits when done.
`

function usage (message: string): never {
  throw new BrokerError(ERR.USAGE, message)
}

function int (name: string, value: string | undefined, fallback: number | undefined, min = 0): number | undefined {
  if (value === undefined) return fallback
  const v = Number(value)
  if (!Number.isInteger(v) || v < min) usage(`--${name} must be an integer >= ${min}, got '${value}'`)
  return v
}

/** Options some scenarios take besides the common ones. */
export type ScenarioOptions = BenchOptions & { metrics?: string[], publishers?: number }

function list (value: string): string[] {
  return value.split(',').map(s => s.trim()).filter(s => s.length > 0)
}

const BENCH_OPTIONS = {
  pub: { type: 'string' },
  sub: { type: 'string' },
  qos: { type: 'string' },
  size: { type: 'string' },
  rate: { type: 'string' },
  duration: { type: 'string' },
  clients: { type: 'string' },
  publishers: { type: 'string' },
  clean: { type: 'string' },
  timeout: { type: 'string' },
  metrics: { type: 'string' },
  redis: { type: 'string' },
  scenarios: { type: 'string' },
  repeat: { type: 'string' },
  json: { type: 'boolean' },
  report: { type: 'string' },
  progress: { type: 'string' },
  help: { type: 'boolean', short: 'h' }
} as const

export function parseBenchOptions (args: string[]): { scenario: string, options: ScenarioOptions, json: boolean, report: string | undefined, progressEveryS: number } {
  let parsed
  try {
    parsed = parseArgs({ args, allowPositionals: true, strict: true, options: BENCH_OPTIONS })
  } catch (err) {
    usage(parseArgsMessage(err, BENCH_OPTIONS))
  }
  const { values: v, positionals } = parsed
  const scenario = v.help === true ? 'help' : positionals[0]
  if (scenario === undefined) usage(`missing scenario: slotmq bench ${[...Object.keys(SCENARIOS), 'compare'].join('|')} [options]`)
  const pub = parseEndpoints(v.pub ?? '127.0.0.1:1883')
  const qos = int('qos', v.qos, 0) as number
  if (qos > 2) usage('--qos must be 0, 1 or 2')
  const rate = v.rate === undefined || v.rate === 'max' ? 'max' : int('rate', v.rate, undefined, 1) as number
  if (v.clean !== undefined && v.clean !== 'true' && v.clean !== 'false') usage('--clean must be true or false')
  const options: ScenarioOptions = {
    pub,
    sub: v.sub === undefined ? pub : parseEndpoints(v.sub),
    qos: qos as 0 | 1 | 2,
    size: int('size', v.size, 256, 16) as number,
    rate,
    durationS: int('duration', v.duration, scenario === 'compare' ? 5 : 10, 1) as number,
    clients: int('clients', v.clients, undefined, 1),
    clean: v.clean !== 'false',
    timeoutMs: (int('timeout', v.timeout, 10, 1) as number) * 1000,
    ...(v.metrics === undefined ? {} : { metrics: list(v.metrics) }),
    ...(v.redis === undefined ? {} : { redis: list(v.redis) }),
    ...(v.publishers === undefined ? {} : { publishers: int('publishers', v.publishers, undefined, 1) as number })
  }
  if (v.scenarios !== undefined) (options as { scenarios?: string[] }).scenarios = v.scenarios.split(',')
  if (v.repeat !== undefined) (options as { repeat?: number }).repeat = int('repeat', v.repeat, 1, 1) as number
  return { scenario, options, json: v.json === true, report: v.report, progressEveryS: int('progress', v.progress, 5) as number }
}

export async function runScenario (name: ScenarioName, options: ScenarioOptions): Promise<BenchResult> {
  return await SCENARIOS[name](options)
}

/** Runs the bench command; returns the exit status. */
export async function benchCommand (args: string[]): Promise<number> {
  const { scenario, options, json, report, progressEveryS } = parseBenchOptions(args)
  if (scenario === 'help') {
    process.stdout.write(BENCH_HELP)
    return 0
  }
  if (scenario === 'compare') {
    const { compareCommand } = await import('./compare.js')
    return await compareCommand(options, json)
  }
  if (!(scenario in SCENARIOS)) usage(`unknown scenario '${scenario}' (one of ${Object.keys(SCENARIOS).join(', ')}, compare)${didYouMean(scenario, [...Object.keys(SCENARIOS), 'compare'])}`)
  // On a terminal one line rewritten in place; in a log or a pipe, where that shows
  // nothing until the end, a whole line every few seconds.
  if (process.stderr.isTTY) options.progress = p => process.stderr.write(`\r${progressLine(p)}`)
  else {
    const log = new ProgressLog(scenario, progressEveryS)
    options.progress = p => {
      const line = log.line(p)
      if (line !== undefined) process.stderr.write(`${line}\n`)
    }
  }
  const result = await runScenario(scenario as ScenarioName, options)
  if (process.stderr.isTTY) process.stderr.write('\n')
  process.stdout.write(json ? JSON.stringify(k6Summary(result), null, 2) + '\n' : renderTable(result))
  if (report !== undefined) writeFileSync(report, htmlReport(result))
  return 0
}
