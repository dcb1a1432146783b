/**
 * Connected clients with wills, each on its own topic `<base>/will/<name>`, and a tally
 * of the wills that arrive: how many distinct, how many twice, and how many for a client
 * that was still connected (a will published for a live connection is a false death).
 */
import type { ChaosContext } from './types.js'

export interface WillClients {
  /** Names of the clients (the last level of their will topics). */
  names: string[]
  /** Call for each message on `<base>/will/#`. */
  onWill: (topic: string) => void
  distinct: () => number
  duplicated: () => number
  /** Wills received while their client's connection was open. */
  forConnected: () => number
  /** Clients whose connection closed. */
  disconnected: () => number
  /** When the last distinct will arrived (0: none). */
  lastAt: () => number
}

export function willFilter (base: string): string { return `${base}/will/#` }

/** Connects `perNode` clients with wills to each slot in `slots`. */
export async function connectWillClients (ctx: ChaosContext, base: string, slots: number[], perNode: number, persistentEvery = 0): Promise<WillClients> {
  const names: string[] = []
  const closed = new Set<string>()
  const seen = new Map<string, number>()
  let forConnected = 0
  let lastAt = 0
  await Promise.all(slots.flatMap(slot => Array.from({ length: perNode }, async (_, i) => {
    const name = `n${slot}-${i}`
    names.push(name)
    const client = await ctx.pool.connect(ctx.fleet.url(slot), {
      clientId: `${ctx.tag}-will-${name}`,
      clean: persistentEvery === 0 || i % persistentEvery !== 0,
      will: { topic: `${base}/will/${name}`, payload: Buffer.from('gone'), qos: 1, retain: false }
    })
    client.once('close', () => closed.add(name))
  })))
  return {
    names,
    onWill: (topic) => {
      const name = topic.slice(`${base}/will/`.length)
      const count = seen.get(name) ?? 0
      seen.set(name, count + 1)
      if (count === 0) lastAt = Date.now()
      if (!closed.has(name)) forConnected++
    },
    distinct: () => seen.size,
    duplicated: () => [...seen.values()].reduce((n, c) => n + c - 1, 0),
    forConnected: () => forConnected,
    disconnected: () => closed.size,
    lastAt: () => lastAt
  }
}
