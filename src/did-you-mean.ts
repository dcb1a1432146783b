/**
 * "Did you mean" for every command line and the config file: the closest known name to a
 * mistyped one, by edit distance (a typo) or by prefix (a shortened name).
 */

/** The known name closest to `given`, if one is close enough to be what was meant. */
export function closest (given: string, known: readonly string[]): string | undefined {
  const norm = (s: string): string => s.toLowerCase()
  let best: string | undefined
  let bestDistance = Infinity
  for (const name of known) {
    const d = distance(norm(given), norm(name))
    if (d < bestDistance) {
      best = name
      bestDistance = d
    }
  }
  if (best === undefined) return undefined
  const close = bestDistance <= Math.max(1, Math.floor(given.length / 3))
  const prefix = given.length >= 3 && known.filter(k => norm(k).startsWith(norm(given))).length === 1
  if (prefix) return known.find(k => norm(k).startsWith(norm(given)))
  return close ? best : undefined
}

/** `; did you mean X?` for a suggestion, or nothing. */
export function didYouMean (given: string, known: readonly string[], format: (name: string) => string = (n) => n): string {
  const match = closest(given, known)
  return match === undefined ? '' : `; did you mean ${format(match)}?`
}

/**
 * The message for an error of node:util parseArgs: an unknown option gets the closest known
 * option; any other message is kept.
 */
export function parseArgsMessage (err: unknown, options: Readonly<Record<string, unknown>>): string {
  const message = err instanceof Error ? err.message : String(err)
  if ((err as { code?: string }).code !== 'ERR_PARSE_ARGS_UNKNOWN_OPTION') return message
  const given = /Unknown option '(-{1,2})([^'=]+)'/.exec(message)
  if (given === null) return message
  const [, dashes, name = ''] = given
  return `unknown option '${dashes ?? '--'}${name}'${didYouMean(name, Object.keys(options), (n) => `--${n}`)}`
}

/** Edit distance: insertions, deletions, substitutions and swaps of two neighbours (optimal string alignment). */
function distance (a: string, b: string): number {
  const d: number[][] = Array.from({ length: a.length + 1 }, (_, i) => Array.from({ length: b.length + 1 }, (_, j) => i === 0 ? j : j === 0 ? i : 0))
  const at = (i: number, j: number): number => d[i]?.[j] ?? Infinity
  for (let i = 1; i <= a.length; i++) {
    for (let j = 1; j <= b.length; j++) {
      const cost = a[i - 1] === b[j - 1] ? 0 : 1
      let best = Math.min(at(i - 1, j) + 1, at(i, j - 1) + 1, at(i - 1, j - 1) + cost)
      if (i > 1 && j > 1 && a[i - 1] === b[j - 2] && a[i - 2] === b[j - 1]) best = Math.min(best, at(i - 2, j - 2) + 1)
      const row = d[i]
      if (row !== undefined) row[j] = best
    }
  }
  return at(a.length, b.length)
}
