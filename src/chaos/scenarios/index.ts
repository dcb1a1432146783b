/** Every chaos scenario, in the order a full run takes them. */
import type { Scenario } from '../types.js'
import { offlineQueueNodeKill } from './offline-queue.js'
import { pubNodeKillBurst, pubNodeKillRetained } from './pub-node-kill.js'
import { leasePrimaryFailover, leasePrimaryKill, sessionPrimaryFailover, sessionPrimaryKill } from './redis-primary.js'
import { subNodeKill } from './sub-node-kill.js'
import { takeoverRace50, takeoverRace500, takeoverRaceSimultaneous } from './takeover-race.js'
import { willsNodeKill } from './wills.js'

export const SCENARIOS: readonly Scenario[] = [
  pubNodeKillBurst,
  pubNodeKillRetained,
  subNodeKill,
  offlineQueueNodeKill,
  willsNodeKill,
  takeoverRace50,
  takeoverRace500,
  takeoverRaceSimultaneous,
  leasePrimaryKill,
  leasePrimaryFailover,
  sessionPrimaryKill,
  sessionPrimaryFailover
]

export function scenarioNamed (name: string): Scenario | undefined {
  return SCENARIOS.find(s => s.name === name)
}
