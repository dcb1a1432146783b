import { test } from 'node:test'
import assert from 'node:assert/strict'
import { spawn } from 'node:child_process'
import { once } from 'node:events'
import { createServer } from 'node:net'
import { SETTINGS } from '../../src/config.js'
import { closeAll, connect, unique } from '../helpers/mqtt.js'
import { ENTRY, listenerPorts, runSlotmq, type CommandRun } from '../helpers/process.js'

async function run (args: string[], env: Record<string, string> = {}): Promise<CommandRun> {
  return await runSlotmq(args, { env })
}

test('--help lists every flag and environment variable and exits 0', async () => {
  const r = await run(['--help'])
  assert.equal(r.code, 0)
  for (const s of SETTINGS) {
    assert.ok(r.stdout.includes(`--${s.flag}`), `--${s.flag} missing`)
    assert.ok(r.stdout.includes(s.env), `${s.env} missing`)
  }
})

test('--version prints the package version', async () => {
  const r = await run(['--version'])
  assert.equal(r.code, 0)
  assert.match(r.stdout, /^slotmq \d+\.\d+\.\d+/)
})

test('invalid configuration exits 2 and names every bad key', async () => {
  const r = await run(['start', '--mqtt-port', 'abc'], { SLOTMQ_LOG_LEVEL: 'chatty', SLOTMQ_WS_PORT: '-1' })
  assert.equal(r.code, 2)
  assert.match(r.stderr, /invalid configuration/)
  assert.match(r.stderr, /mqtt\.port \(flag --mqtt-port\)/)
  assert.match(r.stderr, /log\.level \(env SLOTMQ_LOG_LEVEL\)/)
  assert.match(r.stderr, /ws\.port \(env SLOTMQ_WS_PORT\)/)
})

test('an unknown flag exits 2 and points to --help', async () => {
  const r = await run(['--mqtt-prot', '1'])
  assert.equal(r.code, 2)
  assert.match(r.stderr, /--help/)
})

test('an unreadable config file exits 2 with the reason', async () => {
  const r = await run(['--config', '/nonexistent/slotmq.json'])
  assert.equal(r.code, 2)
  assert.match(r.stderr, /cannot read config file \/nonexistent\/slotmq\.json/)
})

test('a port already in use exits 1 naming the listener and address', async (t) => {
  const blocker = createServer()
  await new Promise<void>(resolve => blocker.listen(0, '127.0.0.1', resolve))
  t.after(() => blocker.close())
  const port = (blocker.address() as { port: number }).port
  const r = await run(['--host', '127.0.0.1', '--mqtt-port', String(port), '--ws-port', 'off', '--http-port', 'off'])
  assert.equal(r.code, 1)
  assert.match(r.stdout, new RegExp(`mqtt listener cannot bind 127\\.0\\.0\\.1:${port}: address already in use`))
})

test('a running node serves /health, /ready and Prometheus /metrics, and exits 0 on SIGTERM', async (t) => {
  t.after(closeAll)
  const child = spawn(process.execPath, ['--import', 'tsx', ENTRY, 'start', '--host', '127.0.0.1', '--mqtt-port', '0', '--ws-port', '0', '--http-port', '0'], { stdio: 'pipe' })
  const timer = setTimeout(() => child.kill('SIGKILL'), 20_000)
  t.after(() => {
    clearTimeout(timer)
    // Also on failure: a live child would keep this test file from ever finishing.
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL')
  })
  const ports = await listenerPorts(child.stdout)

  const health = await fetch(`http://127.0.0.1:${ports.http}/health`)
  assert.equal(health.status, 200)
  const ready = await fetch(`http://127.0.0.1:${ports.http}/ready`)
  assert.equal(ready.status, 200)

  const client = await connect(`mqtt://127.0.0.1:${ports.mqtt}`)
  await client.publishAsync(unique('m'), 'x', { qos: 1 })
  // A scrape is a snapshot: poll until the publish is counted (a bounded wait).
  let text = ''
  for (let i = 0; i < 50 && !/^slotmq_messages_received_total\{qos="1"\} 1$/m.test(text); i++) {
    if (i > 0) await new Promise(resolve => setTimeout(resolve, 100))
    text = await (await fetch(`http://127.0.0.1:${ports.http}/metrics`)).text()
  }
  assertPrometheusText(text)
  assert.match(text, /^slotmq_messages_received_total\{qos="1"\} 1$/m)
  assert.match(text, /^slotmq_connected_clients 1$/m)
  assert.match(text, /^process_cpu_user_seconds_total /m)

  child.kill('SIGTERM')
  const [code] = await once(child, 'exit') as [number | null]
  assert.equal(code, 0)
})

/** Every line of the Prometheus text exposition format is a comment, blank or a sample. */
function assertPrometheusText (text: string): void {
  const sample = /^[a-zA-Z_:][a-zA-Z0-9_:]*(\{([a-zA-Z_][a-zA-Z0-9_]*="(\\.|[^"\\])*",?)*\})? -?([0-9.e+-]+|NaN|\+Inf|-Inf)( -?\d+)?$/
  for (const line of text.split('\n')) {
    if (line === '' || line.startsWith('# HELP ') || line.startsWith('# TYPE ')) continue
    assert.match(line, sample)
  }
}

test('a node whose Redis is unreachable at start-up exits 1 naming the seed and the reason', async () => {
  const port = await new Promise<number>((resolve) => {
    const server = createServer().listen(0, '127.0.0.1', () => {
      const p = (server.address() as { port: number }).port
      server.close(() => resolve(p))
    })
  })
  const r = await run(['start', '--mqtt-port', '0', '--ws-port', 'off', '--http-port', 'off', '--redis', `127.0.0.1:${port}`])
  assert.equal(r.code, 1)
  assert.match(r.stderr, new RegExp(`no Redis seed answered: 127\\.0\\.0\\.1:${port}: connect ECONNREFUSED`))
})
