/**
 * Polls a condition until it holds or the time runs out; returns how long it took (ms).
 * With `ignoreErrors`, a check that throws counts as not yet (Redis failing over).
 */
export async function until (what: string, check: () => boolean | Promise<boolean>, timeoutMs = 5000, opts: { intervalMs?: number, ignoreErrors?: boolean } = {}): Promise<number> {
  const started = Date.now()
  const attempt = async (): Promise<boolean> => {
    if (opts.ignoreErrors !== true) return await check()
    try {
      return await check()
    } catch {
      return false
    }
  }
  while (!(await attempt())) {
    if (Date.now() - started > timeoutMs) throw new Error(`timed out after ${timeoutMs} ms waiting until ${what}`)
    await new Promise(resolve => setTimeout(resolve, opts.intervalMs ?? 10))
  }
  return Date.now() - started
}
