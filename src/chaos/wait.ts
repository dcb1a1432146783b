/** Bounded waiting: every wait in the chaos suite ends, with a message saying what was seen. */

export const sleep = async (ms: number): Promise<void> => await new Promise(resolve => setTimeout(resolve, ms))

/**
 * Polls `check` until it holds; returns the time it took (ms), or undefined when
 * `timeoutMs` ran out. A check that throws counts as not yet (Redis failing over).
 */
export async function waitFor (check: () => boolean | Promise<boolean>, timeoutMs: number, intervalMs = 20): Promise<number | undefined> {
  const started = Date.now()
  for (;;) {
    try {
      if (await check()) return Date.now() - started
    } catch {}
    if (Date.now() - started >= timeoutMs) return undefined
    await sleep(intervalMs)
  }
}

/** Like waitFor, but a timeout throws `timed out after N ms waiting until <what>`. */
export async function waitUntil (what: string, check: () => boolean | Promise<boolean>, timeoutMs: number, intervalMs = 20): Promise<number> {
  const took = await waitFor(check, timeoutMs, intervalMs)
  if (took === undefined) throw new Error(`timed out after ${timeoutMs} ms waiting until ${what}`)
  return took
}

/**
 * Waits until `done` holds and then nothing new arrived for `quietMs` (late duplicates
 * are counted too), or until `timeoutMs`; `lastAt` is when something last arrived.
 */
export async function settle (done: () => boolean, lastAt: () => number, timeoutMs: number, quietMs = 500): Promise<void> {
  await waitFor(() => done() && Date.now() - lastAt() >= quietMs, timeoutMs, 20)
}
