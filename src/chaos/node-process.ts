/**
 * One slotmq node in a child process: `node <entry> start` on loopback, port 0 for every
 * listener, JSON logs on stdout. The bound ports come from its start-up log lines; every
 * log message is counted, so a scenario can ask how often a node said something.
 */
import { spawn, type ChildProcess } from 'node:child_process'
import { createWriteStream } from 'node:fs'
import { BrokerError, ERR } from '../errors.js'
import { isRunning, own, signalChild } from './owned.js'

export interface NodeProcess {
  readonly child: ChildProcess
  readonly pid: number
  readonly mqttPort: number
  readonly httpPort: number
  readonly url: string
  /** Set when this suite killed it (so its exit is expected). */
  killed: boolean
  /** How many log lines carried each message, since start. */
  readonly said: Map<string, number>
  /** The last log lines, for error reports. */
  readonly tail: string[]
}

const STARTUP_MS = 30_000
const TAIL = 20

export function running (node: NodeProcess): boolean { return isRunning(node.child) }

export function saidCount (node: NodeProcess, message: string): number { return node.said.get(message) ?? 0 }

/**
 * Starts a node and waits until its MQTT and HTTP listeners are up and it joined the
 * cluster; with `logFile`, its whole log is written there too.
 */
export async function startNodeProcess (entry: readonly string[], args: readonly string[], logFile?: string): Promise<NodeProcess> {
  const child = spawn(process.execPath, [...entry, 'start', '--host', '127.0.0.1', '--mqtt-port', '0', '--ws-port', 'off', '--http-port', '0', '--log-level', 'info', ...args], { stdio: ['ignore', 'pipe', 'pipe'] })
  own(child)
  if (logFile !== undefined) {
    const file = createWriteStream(logFile, { flags: 'a' })
    child.stdout?.pipe(file)
    child.stderr?.pipe(file)
  }
  const said = new Map<string, number>()
  const tail: string[] = []
  let stderr = ''
  child.stderr?.on('data', (b: Buffer) => { stderr = (stderr + b.toString()).slice(-2000) })
  const ports: { mqtt?: number, http?: number } = {}
  let buffered = ''
  const ready = new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => reject(new BrokerError(ERR.BENCH, `slotmq node did not start within ${STARTUP_MS} ms: ${tail.slice(-3).join(' | ')}`)), STARTUP_MS)
    child.once('exit', (code, signal) => {
      clearTimeout(timer)
      reject(new BrokerError(ERR.BENCH, `slotmq node exited during start-up (${code ?? signal ?? ''}): ${stderr.trim() || tail.slice(-3).join(' | ')}`))
    })
    child.stdout?.on('data', (chunk: Buffer) => {
      buffered += chunk.toString()
      const lines = buffered.split('\n')
      buffered = lines.pop() ?? ''
      for (const line of lines) {
        let entry: { msg?: unknown, address?: { port?: unknown } }
        try {
          entry = JSON.parse(line) as typeof entry
        } catch {
          continue
        }
        const msg = typeof entry.msg === 'string' ? entry.msg : ''
        said.set(msg, (said.get(msg) ?? 0) + 1)
        tail.push(line.slice(0, 400))
        if (tail.length > TAIL) tail.shift()
        const port = entry.address?.port
        if (msg === 'mqtt listener started' && typeof port === 'number') ports.mqtt = port
        if (msg === 'http listener started' && typeof port === 'number') ports.http = port
      }
      if (ports.mqtt !== undefined && ports.http !== undefined && (said.get('joined cluster') ?? 0) > 0) {
        clearTimeout(timer)
        resolve()
      }
    })
  })
  try {
    await ready
  } catch (err) {
    await signalChild(child, 'SIGKILL')
    throw err
  }
  const mqttPort = ports.mqtt as number
  return { child, pid: child.pid as number, mqttPort, httpPort: ports.http as number, url: `mqtt://127.0.0.1:${mqttPort}`, killed: false, said, tail }
}

/** SIGKILL, by process id; resolves once the process is gone. */
export async function killNode (node: NodeProcess): Promise<void> {
  node.killed = true
  await signalChild(node.child, 'SIGKILL')
}
