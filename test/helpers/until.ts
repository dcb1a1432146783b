/**
 * Bounded waits: nothing in a test awaits without a time limit, and a wait that runs out
 * says what it was waiting for and what it last saw.
 */
import { inspect } from 'node:util'

export interface UntilOptions {
  intervalMs?: number
  /** A check that throws counts as not yet (Redis failing over); the last error is reported. */
  ignoreErrors?: boolean
  /** The state the check looks at, shown when the wait runs out (default: the check's last result). */
  observed?: () => unknown
}

/**
 * Polls a condition until it holds or the time runs out; returns how long it took (ms).
 * On timeout the error names `what` and shows `opts.observed()` (or the last result or
 * error of the check).
 */
export async function until (what: string, check: () => boolean | Promise<boolean>, timeoutMs = 5000, opts: UntilOptions = {}): Promise<number> {
  const started = Date.now()
  let last: { result?: unknown, error?: unknown } = {}
  const attempt = async (): Promise<boolean> => {
    try {
      // A check that never returns (a Redis command queued by a client that lost its
      // connection) fails the wait at its deadline, like a check that keeps saying no.
      const left = Math.max(timeoutMs - (Date.now() - started), 0) + 1000
      const result = await within(`a check of "${what}" to return`, Promise.resolve(check()), left, opts.observed)
      last = { result }
      return result
    } catch (err) {
      last = { error: err }
      if (opts.ignoreErrors !== true) throw err
      return false
    }
  }
  while (!(await attempt())) {
    if (Date.now() - started > timeoutMs) {
      // After a stall of this process (a busy machine) timers run before the sockets are
      // read: let what arrived meanwhile be handled, then look once more.
      await new Promise(resolve => setImmediate(resolve))
      if (await attempt()) break
      throw new Error(`timed out after ${timeoutMs} ms waiting until ${what}; last observed: ${await describe(opts.observed, last)}`)
    }
    await new Promise(resolve => setTimeout(resolve, opts.intervalMs ?? 10))
  }
  return Date.now() - started
}

/** Settles as `promise` does, or rejects naming `what` once `timeoutMs` has passed. */
export async function within<T> (what: string, promise: Promise<T>, timeoutMs = 5000, observed?: () => unknown): Promise<T> {
  let timer: NodeJS.Timeout | undefined
  const timeout = new Promise<never>((_resolve, reject) => {
    timer = setTimeout(() => {
      describe(observed, {}).then(
        seen => reject(new Error(`timed out after ${timeoutMs} ms waiting for ${what}${observed === undefined ? '' : `; last observed: ${seen}`}`)),
        reject)
    }, timeoutMs)
  })
  try {
    return await Promise.race([promise, timeout])
  } finally {
    clearTimeout(timer)
  }
}

/** Resolves with the arguments of the next `event` of `emitter`, or rejects after `timeoutMs`. */
/** What nextEvent needs of an emitter (loosely typed: mqtt.js and aedes type their events). */
export interface Emitter { once: (event: any, listener: any) => unknown, removeListener: (event: any, listener: any) => unknown }

export async function nextEvent (emitter: Emitter, event: string, what: string, timeoutMs = 5000): Promise<unknown[]> {
  let listener: ((...args: unknown[]) => void) | undefined
  try {
    return await within(what, new Promise<unknown[]>(resolve => {
      listener = (...args: unknown[]) => resolve(args)
      emitter.once(event, listener)
    }), timeoutMs)
  } finally {
    if (listener !== undefined) emitter.removeListener(event, listener)
  }
}

async function describe (observed: (() => unknown) | undefined, last: { result?: unknown, error?: unknown }): Promise<string> {
  try {
    if (observed !== undefined) return show(await observed())
  } catch (err) {
    return `(observing failed: ${String(err)})`
  }
  if ('error' in last) return `the check threw ${String(last.error)}`
  return 'result' in last ? `the check returned ${show(last.result)}` : 'the check never ran'
}

function show (value: unknown): string {
  return typeof value === 'string' ? value : inspect(value, { depth: 4, breakLength: Infinity, maxArrayLength: 50, maxStringLength: 500 })
}
