/**
 * `pickMember`: which live node adopts a dead node's parked session. README: the sessions
 * are "adopted by the live nodes, spread by a hash of the client id". The hash is
 * rendezvous hashing, so these properties hold for any member ids; the bounds below are
 * loose (a share within 20 points of even), not a statistical test of the hash.
 */
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { pickMember } from '../../src/sessions/reaper.js'

const MEMBERS = ['slotmq-1~0a1b2c3d', 'slotmq-2~4e5f6a7b', 'slotmq-3~8c9d0e1f', 'slotmq-4~23456789']
const IDS = Array.from({ length: 4000 }, (_, i) => `sensor-${i}`)

function shares (live: string[]): Map<string, number> {
  const counts = new Map<string, number>(live.map(m => [m, 0]))
  for (const id of IDS) {
    const m = pickMember(live, id)
    counts.set(m, (counts.get(m) ?? 0) + 1)
  }
  return counts
}

test('many sessions spread over every live member, none getting far from an even share', () => {
  for (const live of [MEMBERS.slice(0, 2), MEMBERS.slice(0, 3), MEMBERS]) {
    const counts = shares(live)
    assert.deepEqual([...counts.keys()].sort(), [...live].sort(), 'only live members are picked')
    const even = IDS.length / live.length
    for (const [m, n] of counts) assert.ok(Math.abs(n - even) < 0.2 * IDS.length, `${m} got ${n} of ${IDS.length} (even: ${even})`)
  }
})

test('the pick depends on the set of live members, not on their order', () => {
  const reversed = [...MEMBERS].reverse()
  for (const id of IDS.slice(0, 500)) assert.equal(pickMember(reversed, id), pickMember(MEMBERS, id))
})

test('when a member leaves, only its sessions move, and they spread over the members that stay', () => {
  const leaving = MEMBERS[1] ?? ''
  const staying = MEMBERS.filter(m => m !== leaving)
  const movedTo = new Map<string, number>()
  for (const id of IDS) {
    const before = pickMember(MEMBERS, id)
    const after = pickMember(staying, id)
    if (before !== leaving) assert.equal(after, before, `${id} stays with ${before}`)
    else movedTo.set(after, (movedTo.get(after) ?? 0) + 1)
  }
  assert.deepEqual([...movedTo.keys()].sort(), [...staying].sort(), `the leaving member's sessions go to every other member: ${JSON.stringify([...movedTo])}`)
})

test('one live member takes every session; no live member picks nobody', () => {
  assert.equal(pickMember(['only'], 'a'), 'only')
  assert.equal(pickMember([], 'a'), '')
})
