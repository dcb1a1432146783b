/**
 * The processes this chaos run started (broker nodes, restarted redis-servers): the only
 * ones it ever signals, always by process id. On exit, whatever is still running is
 * SIGKILLed, so an interrupted run leaves nothing behind.
 */
import { once } from 'node:events'
import type { ChildProcess } from 'node:child_process'

const children = new Set<ChildProcess>()
let hooked = false

function killAll (): void {
  for (const child of children) {
    if (isRunning(child) && child.pid !== undefined) {
      try {
        process.kill(child.pid, 'SIGKILL')
      } catch {}
    }
  }
}

export function isRunning (child: ChildProcess): boolean {
  return child.exitCode === null && child.signalCode === null
}

/** Registers a child; it is forgotten once it has exited. */
export function own (child: ChildProcess): void {
  if (!hooked) {
    process.on('exit', killAll)
    hooked = true
  }
  children.add(child)
  child.once('exit', () => children.delete(child))
}

/** Sends `signal` to one of our children by its process id and waits until it exited. */
export async function signalChild (child: ChildProcess, signal: NodeJS.Signals, graceMs = 5000): Promise<void> {
  if (!isRunning(child) || child.pid === undefined) return
  const exited = once(child, 'exit')
  process.kill(child.pid, signal)
  const timer = setTimeout(() => {
    if (isRunning(child) && child.pid !== undefined) process.kill(child.pid, 'SIGKILL')
  }, graceMs)
  await exited
  clearTimeout(timer)
}

/** Stops every child still running: SIGTERM, then SIGKILL after `graceMs`. */
export async function stopAll (graceMs = 5000): Promise<void> {
  await Promise.all([...children].map(async child => await signalChild(child, 'SIGTERM', graceMs)))
}
