/**
 * A slotmq node in its own process (from source), for tests that kill nodes for real.
 * Bounded: the process is SIGKILLed after `lifetimeMs` whatever happens.
 */
import { spawn, type ChildProcess } from 'node:child_process'
import { once } from 'node:events'

export const ENTRY = new URL('../support/slotmq-src.ts', import.meta.url).pathname

export interface NodeProcess {
  child: ChildProcess
  ports: { mqtt: number, http: number }
  /** Log entries written so far (parsed JSON lines). */
  logs: Array<Record<string, unknown>>
  kill: (signal?: NodeJS.Signals) => Promise<number | null>
}

export async function startNodeProcess (args: string[] = [], lifetimeMs = 60_000): Promise<NodeProcess> {
  const child = spawn(process.execPath, ['--import', 'tsx', ENTRY, 'start', '--host', '127.0.0.1', '--mqtt-port', '0', '--ws-port', '0', '--http-port', '0', ...args], { stdio: 'pipe' })
  const timer = setTimeout(() => child.kill('SIGKILL'), lifetimeMs)
  timer.unref()
  child.once('exit', () => clearTimeout(timer))
  const logs: Array<Record<string, unknown>> = []
  const ports = await listenerPorts(child.stdout as NodeJS.ReadableStream, logs)
  return {
    child,
    ports,
    logs,
    kill: async (signal = 'SIGKILL') => {
      if (child.exitCode !== null || child.signalCode !== null) return child.exitCode
      const exited = once(child, 'exit')
      child.kill(signal)
      const [code] = await exited as [number | null]
      return code
    }
  }
}

/** Reads the bound ports from the node's start-up log lines (and keeps draining stdout). */
export async function listenerPorts (stdout: NodeJS.ReadableStream, logs: Array<Record<string, unknown>> = []): Promise<{ mqtt: number, http: number }> {
  return await new Promise((resolve, reject) => {
    const found: Record<string, number> = {}
    let buffered = ''
    stdout.on('data', (chunk: Buffer) => {
      buffered += chunk.toString()
      const lines = buffered.split('\n')
      buffered = lines.pop() ?? ''
      for (const line of lines) {
        const entry = JSON.parse(line) as { msg: string, address?: { port: number } }
        logs.push(entry)
        if (entry.msg === 'mqtt listener started' && entry.address) found.mqtt = entry.address.port
        if (entry.msg === 'http listener started' && entry.address) found.http = entry.address.port
      }
      if (found.mqtt !== undefined && found.http !== undefined) resolve({ mqtt: found.mqtt, http: found.http })
    })
    stdout.on('end', () => reject(new Error(`the node exited before its listeners started: ${JSON.stringify(logs.slice(-3))}`)))
  })
}

export interface CommandRun { code: number | null, stdout: string, stderr: string }

/** Runs `slotmq ARGS` from source to completion (killed after `timeoutMs`). */
export async function runSlotmq (args: string[], opts: { env?: Record<string, string>, timeoutMs?: number } = {}): Promise<CommandRun> {
  return await runNode(['--import', 'tsx', ENTRY, ...args], opts)
}

/** Runs `node ARGS` to completion (killed after `timeoutMs`), collecting its output. */
export async function runNode (args: string[], opts: { env?: Record<string, string>, timeoutMs?: number } = {}): Promise<CommandRun> {
  const child = spawn(process.execPath, args, { env: { ...process.env, ...opts.env }, stdio: 'pipe' })
  let stdout = ''
  let stderr = ''
  child.stdout.on('data', (b: Buffer) => { stdout += b.toString() })
  child.stderr.on('data', (b: Buffer) => { stderr += b.toString() })
  // Generous: a CLI run compiles the sources through tsx, seconds of CPU on a busy machine.
  const timeoutMs = opts.timeoutMs ?? 60_000
  let killed = false
  const timer = setTimeout(() => { killed = true; child.kill('SIGKILL') }, timeoutMs)
  const [code] = await once(child, 'exit') as [number | null]
  clearTimeout(timer)
  // A run that was killed says so where an assertion shows stderr.
  if (killed) stderr += `\n[test helper: killed after ${timeoutMs} ms without exiting: node ${args.join(' ')}]`
  return { code, stdout, stderr }
}
