/**
 * Mutation runner: breaks one README promise at a time in the source and checks that a
 * test catches it (issue 19: "deliberately breaking each promised behaviour makes at
 * least one test fail"). Each mutation in scripts/mutation-table.ts replaces one exact
 * piece of text in src/ or lua/ (it must occur exactly once); the runner applies it, runs
 * the tests docs/claims.md names for the claim (one file at a time, stopping at the first
 * failure), puts the file back and records killed or survived.
 *
 * It edits source files, so run it in a checkout of its own, never in one others work in:
 *
 *   git worktree add --detach /tmp/wtmut main && (cd /tmp/wtmut && npm ci)
 *   export REDIS_CLUSTER_NODES=host:port,...   # optional: reuse a running cluster
 *   node --import tsx scripts/mutations.ts --root /tmp/wtmut [--only id,id] [--out results.jsonl]
 *   node --import tsx scripts/mutations.ts --root /tmp/wtmut --check   # every mutation applies to HEAD
 *   node --import tsx scripts/mutations.ts --root /tmp/wtmut --baseline --only id   # its tests pass unmutated
 *   node --import tsx scripts/mutations.ts --table results.jsonl       # markdown table
 *
 * Results and how to read them: test/MUTATIONS.md. Not part of `npm test`: a full run takes
 * about an hour and a half on a 2-core machine. One mutation at a time; every test run is
 * bounded (--timeout seconds, the process group is killed).
 */
import { spawn, spawnSync } from 'node:child_process'
import { appendFileSync, existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs'
import { join, resolve } from 'node:path'
import { parseArgs } from 'node:util'
import { MUTATIONS, type Mutation } from './mutation-table.js'

export interface RunResult {
  id: string
  claim: string
  result: 'killed' | 'survived' | 'no-test' | 'not-applied' | 'timeout'
  /** The test file (and failing test) that killed the mutation. */
  killedBy?: string
  seconds: number
  at: string
}

const { values } = parseArgs({
  options: {
    root: { type: 'string' },
    only: { type: 'string' },
    out: { type: 'string', default: 'mutation-results.jsonl' },
    logs: { type: 'string', default: 'mutation-logs' },
    timeout: { type: 'string', default: '600' },
    check: { type: 'boolean', default: false },
    baseline: { type: 'boolean', default: false },
    table: { type: 'string' },
    list: { type: 'boolean', default: false }
  }
})

if (values.table !== undefined) {
  process.stdout.write(table(values.table))
  process.exit(0)
}
if (values.list) {
  for (const m of MUTATIONS) process.stdout.write(`${m.id}\t${m.claim}\t${m.file}\t${m.what}\n`)
  process.exit(0)
}
if (values.root === undefined) {
  process.stderr.write('usage: mutations.ts --root <a checkout of its own> [--only id,id] [--check] | --table results.jsonl | --list\n')
  process.exit(2)
}
const root = resolve(values.root)
const selected = values.only === undefined ? MUTATIONS : pick(values.only.split(','))
checkUnique()

if (values.check) {
  let bad = 0
  for (const m of selected) {
    // Against the committed file: a run in progress may have a mutation applied.
    const n = occurrences(git(['show', `HEAD:${m.file}`]), m.find)
    if (n !== 1) { bad++; process.stdout.write(`${m.id}: the text to replace occurs ${n} times in ${m.file}\n`) }
    for (const t of m.tests) if (!existsSync(join(root, t.file))) { bad++; process.stdout.write(`${m.id}: no test file ${t.file}\n`) }
  }
  process.stdout.write(`${selected.length - bad} of ${selected.length} mutations apply\n`)
  process.exit(bad === 0 ? 0 : 1)
}

const dirty = git(['status', '--porcelain', '--', 'src', 'lua'])
if (dirty.trim() !== '') {
  process.stderr.write(`refusing to run: ${root} has changes under src/ or lua/:\n${dirty}`)
  process.exit(1)
}
mkdirSync(values.logs, { recursive: true })
const timeoutMs = Number(values.timeout) * 1000
for (const m of selected) {
  const result = await runOne(m)
  appendFileSync(values.out, JSON.stringify(result) + '\n')
  process.stdout.write(`${m.id}: ${result.result}${result.killedBy === undefined ? '' : ` by ${result.killedBy}`} (${result.seconds} s)\n`)
}

async function runOne (m: Mutation): Promise<RunResult> {
  const started = Date.now()
  const done = (result: RunResult['result'], killedBy?: string): RunResult => ({
    id: m.id, claim: m.claim, result, ...(killedBy === undefined ? {} : { killedBy }), seconds: Math.round((Date.now() - started) / 1000), at: new Date().toISOString()
  })
  const path = join(root, m.file)
  const original = readFileSync(path, 'utf8')
  if (occurrences(original, m.find) !== 1) return done('not-applied')
  const restore = (): void => { writeFileSync(path, original) }
  const onSignal = (): void => { restore(); process.exit(130) }
  process.once('SIGINT', onSignal)
  process.once('SIGTERM', onSignal)
  // --baseline runs the same tests on the unchanged source: they must pass there.
  if (values.baseline !== true) writeFileSync(path, original.replace(m.find, () => m.replace))
  try {
    let ran = 0
    for (const t of m.tests) {
      const log = join(values.logs as string, `${values.baseline === true ? 'baseline-' : ''}${m.id}--${t.file.replace(/[/.]/g, '_')}.log`)
      const run = await runTests(t.file, t.names ?? [], log, t.timeoutMs ?? 120_000)
      ran += run.pass + run.fail
      if (run.timedOut) return done('timeout', t.file)
      if (run.code !== 0) return done('killed', `${t.file}${run.failed === undefined ? '' : ` › ${run.failed}`}`)
    }
    return done(ran === 0 ? 'no-test' : 'survived')
  } finally {
    restore()
    process.removeListener('SIGINT', onSignal)
    process.removeListener('SIGTERM', onSignal)
  }
}

interface TestRun { code: number | null, pass: number, fail: number, failed?: string, timedOut: boolean }

async function runTests (file: string, names: string[], log: string, testTimeoutMs: number): Promise<TestRun> {
  const args = ['--import', 'tsx', '--test', '--test-reporter=tap', `--test-timeout=${testTimeoutMs}`,
    ...names.map(n => `--test-name-pattern=${escapeRegExp(n)}`), file]
  // Not CI: without REDIS_CLUSTER_NODES each file starts its own cluster (the test helpers
  // refuse to when CI is set at all, even empty).
  const env = { ...process.env }
  delete env.CI
  const child = spawn(process.execPath, args, { cwd: root, detached: true, stdio: ['ignore', 'pipe', 'pipe'], env })
  let output = ''
  child.stdout.on('data', (c: Buffer) => { output += c.toString() })
  child.stderr.on('data', (c: Buffer) => { output += c.toString() })
  let timedOut = false
  const timer = setTimeout(() => {
    timedOut = true
    try { process.kill(-(child.pid as number), 'SIGKILL') } catch {}
  }, Math.max(timeoutMs, testTimeoutMs + 60_000))
  const code = await new Promise<number | null>(resolve => child.once('close', resolve))
  clearTimeout(timer)
  // Whatever the test started in the group (node processes) goes with it.
  try { process.kill(-(child.pid as number), 'SIGKILL') } catch {}
  writeFileSync(log, `node ${args.join(' ')}\n\n${output}`)
  const count = (what: string): number => Number(new RegExp(`^# ${what} (\\d+)$`, 'm').exec(output)?.[1] ?? 0)
  // TAP escapes # in names as \#.
  const failed = /^\s*not ok \d+ - (.*)$/m.exec(output)?.[1]?.replace(/\\#/g, '#')
  return { code, pass: count('pass'), fail: count('fail'), ...(failed === undefined ? {} : { failed }), timedOut }
}

function table (file: string): string {
  const results = new Map<string, RunResult>()
  for (const line of readFileSync(file, 'utf8').split('\n')) if (line.trim() !== '') { const r = JSON.parse(line) as RunResult; results.set(r.id, r) }
  const rows = ['| Claim | Mutation | File: change | Tests run | Result |', '|---|---|---|---|---|']
  for (const m of MUTATIONS) {
    const r = results.get(m.id)
    if (r?.killedBy !== undefined) r.killedBy = r.killedBy.replace(/\\#/g, '#')
    const tests = m.tests.map(t => `\`${t.file}\``).join('<br>')
    const outcome = r === undefined ? 'not run' : r.result === 'killed' ? `killed by \`${r.killedBy?.split(' › ')[0]}\`${r.killedBy?.includes(' › ') === true ? ` › "${r.killedBy.split(' › ')[1]}"` : ''}` : r.result
    const note = m.note === undefined ? '' : ` (${m.note})`
    rows.push(`| \`${m.claim}\` | \`${m.id}\` | \`${m.file}\`: ${m.what} | ${tests} | ${outcome}${note} |`)
  }
  return rows.join('\n') + '\n'
}

function pick (ids: string[]): Mutation[] {
  return ids.map(id => {
    const m = MUTATIONS.find(x => x.id === id)
    if (m === undefined) throw new Error(`no mutation ${id}`)
    return m
  })
}

function checkUnique (): void {
  const seen = new Set<string>()
  for (const m of MUTATIONS) {
    if (seen.has(m.id)) throw new Error(`mutation id ${m.id} twice`)
    seen.add(m.id)
  }
}

function occurrences (text: string, find: string): number {
  return find === '' ? 0 : text.split(find).length - 1
}

function escapeRegExp (s: string): string {
  return s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')
}

function git (args: string[]): string {
  return spawnSync('git', ['-C', root, ...args], { encoding: 'utf8' }).stdout
}
