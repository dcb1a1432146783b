/**
 * CPU time used by the brokers under test, read from /proc (Linux). `bench compare`
 * reports it per delivered message: on a machine where the load generator, the brokers
 * and Redis share the same cores, throughput compares summed CPU cost, and this figure
 * says where it went.
 */
import { spawnSync } from 'node:child_process'
import { readFileSync } from 'node:fs'

let ticksPerSecond: number | undefined

function clockTicks (): number {
  if (ticksPerSecond === undefined) {
    const out = spawnSync('getconf', ['CLK_TCK'], { encoding: 'utf8' })
    const n = Number(out.stdout?.trim())
    ticksPerSecond = Number.isInteger(n) && n > 0 ? n : 100
  }
  return ticksPerSecond
}

/** User + system CPU seconds used so far by all of `pids`; undefined off Linux or when one is gone. */
export function cpuSeconds (pids: readonly number[]): number | undefined {
  if (pids.length === 0) return undefined
  let ticks = 0
  for (const pid of pids) {
    let stat: string
    try {
      stat = readFileSync(`/proc/${pid}/stat`, 'utf8')
    } catch {
      return undefined
    }
    // Fields after the command name (which may hold spaces): state is field 3, utime 14, stime 15.
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ')
    ticks += Number(fields[11]) + Number(fields[12])
  }
  return ticks / clockTicks()
}
