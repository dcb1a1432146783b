/**
 * The mutations scripts/mutations.ts applies: one per README promise (claim id of
 * docs/claims.md), each a small realistic bug that breaks exactly that promise. `find`
 * must occur exactly once in `file`; `tests` are run in order (cheapest first) until one
 * fails; `names` are substrings of test names (--test-name-pattern, escaped).
 */
/* eslint-disable no-template-curly-in-string -- the source text to find and replace holds template literals */

export interface Mutation {
  /** Unique; the claim id, with a suffix when a claim has more than one mutation. */
  id: string
  claim: string
  file: string
  /** What the mutation does, for the table. */
  what: string
  find: string
  replace: string
  /** `timeoutMs`: the file's --test-timeout when it needs more than the default 120 s. */
  tests: Array<{ file: string, names?: string[], timeoutMs?: number }>
  /** Why a mutation that survives is expected to (an equivalent mutant, a race no test provokes). */
  note?: string
}

const T = {
  scriptSessions: 'test/integration/scripts/sessions.test.ts',
  sweep: 'test/integration/scripts/node-sweep.test.ts',
  heartbeat: 'test/integration/scripts/node-heartbeat.test.ts',
  sessions: 'test/integration/sessions.test.ts',
  promisesSessions: 'test/integration/promises-sessions.test.ts',
  promisesWills: 'test/integration/promises-wills.test.ts',
  promisesAdmin: 'test/integration/promises-admin.test.ts',
  promisesShared: 'test/integration/promises-shared.test.ts',
  nodeDeath: 'test/integration/node-death.test.ts',
  membership: 'test/integration/membership.test.ts',
  deadPeer: 'test/integration/dead-peer.test.ts',
  admin: 'test/integration/admin.test.ts',
  auth: 'test/integration/auth.test.ts',
  brokerCluster: 'test/integration/broker-cluster.test.ts',
  brokerStandalone: 'test/integration/broker-standalone.test.ts',
  badInput: 'test/integration/bad-input.test.ts',
  clusterRouting: 'test/integration/cluster-routing.test.ts',
  limits: 'test/integration/limits.test.ts',
  limitsInflight: 'test/integration/limits-inflight.test.ts',
  shared: 'test/integration/shared-subscriptions.test.ts',
  sharedStrategies: 'test/integration/shared-strategies.test.ts',
  sharedNodeDeath: 'test/integration/shared-node-death.test.ts',
  outbox: 'test/integration/outbox.test.ts',
  ackAfterHandoff: 'test/integration/ack-after-handoff.test.ts',
  redisFailover: 'test/failover/redis-failover.test.ts',
  leaseFailover: 'test/failover/lease-failover.test.ts',
  inboxRecovery: 'test/integration/inbox-recovery.test.ts',
  bench: 'test/integration/bench.test.ts',
  cli: 'test/integration/cli.test.ts',
  tls: 'test/integration/tls.test.ts',
  acl: 'test/unit/acl.test.ts'
} as const

export const MUTATIONS: Mutation[] = [
  // Sessions and takeover
  {
    id: 'session-on-any-node',
    claim: 'session-on-any-node',
    file: 'lua/session-open.lua',
    what: 'a stored session is never resumable (Session Present 0, subscriptions and queue deleted)',
    find: "local resumable = prev[3] == '1'",
    replace: 'local resumable = false',
    tests: [{ file: T.sessions, names: ['a session resumes on another node'] }]
  },
  {
    id: 'session-on-any-node-clean',
    claim: 'session-on-any-node',
    file: 'lua/session-open.lua',
    what: 'clean session 1 keeps the stored session (no DEL of subscriptions and queues)',
    find: "if present == 0 then rcall('DEL', KEYS[2], KEYS[3], KEYS[4], KEYS[5]) end",
    replace: "if present == 0 and ARGV[2] == '0' then rcall('DEL', KEYS[2], KEYS[3], KEYS[4], KEYS[5]) end",
    tests: [{ file: T.sessions, names: ['clean session 1 on another node discards the stored session'] }]
  },
  {
    id: 'takeover-closes-older',
    claim: 'takeover-closes-older',
    file: 'src/sessions/ownership.ts',
    what: 'the previous owner node is never sent the kick',
    find: '      links.kick(result.previousOwner, id, result.epoch)\n',
    replace: '',
    tests: [{ file: T.sessions, names: ['a connect on another node closes the old connection at once'] }]
  },
  {
    id: 'stale-writer-lets-go-lua',
    claim: 'stale-writer-lets-go',
    file: 'lua/outgoing-enqueue.lua',
    what: 'the enqueue script skips its epoch check (a stale writer queues anyway)',
    find: "if meta[1] ~= ARGV[1] then return { 0, 0, meta[2] or '' } end",
    replace: "if meta[1] == nil then return { 0, 0, meta[2] or '' } end",
    tests: [{ file: T.scriptSessions, names: ['a writer with a stale epoch changes nothing and is told so'] }, { file: T.promisesSessions, names: ['a parked session taken over elsewhere without its node being told'] }]
  },
  {
    id: 'stale-writer-lets-go-forward',
    claim: 'stale-writer-lets-go',
    file: 'src/sessions/outgoing.ts',
    what: 'a stale enqueue does not forward the message to the owner the script names',
    find: '        this.#ctx.links.forward(result.owner, clientId, subQos === undefined ? packet : capQos(packet, subQos))\n',
    replace: '',
    tests: [{ file: T.promisesSessions, names: ['a parked session taken over elsewhere without its node being told'] }]
  },
  {
    id: 'stale-writer-lets-go-close',
    claim: 'stale-writer-lets-go',
    file: 'src/sessions/ownership.ts',
    what: 'a fenced write refused as stale does not close the connection of that epoch',
    find: '      if (this.#connEpoch.get(conn) === epoch) {\n        this.#conns.get(clientId)?.delete(conn)\n        this.#closeTakenOver(conn)\n',
    replace: '      if (this.#connEpoch.get(conn) === epoch) {\n        this.#conns.get(clientId)?.delete(conn)\n',
    tests: [{ file: T.promisesSessions, names: ['a connection whose QoS 2 release finds a newer epoch is closed by its node'] }]
  },
  {
    id: 'connect-race-one-survives',
    claim: 'connect-race-one-survives',
    file: 'src/sessions/ownership.ts',
    what: 'a kick that arrives while the session script is on its way is ignored (the older connect is let in)',
    find: 'if (kick !== undefined && Number(kick) > Number(result.epoch)) {',
    replace: 'if (kick !== undefined && Number(kick) < 0) {',
    tests: [{ file: T.sessions, names: ['two connects of one client id on two nodes at once'] }, { file: T.promisesSessions, names: ['the surviving connection is the one whose node holds the newer epoch'] }],
    note: 'a race no test provokes: the kick of a newer connect must reach this node while its own session script\'s reply is still on its way; in 40 rounds the reply always came first'
  },
  {
    id: 'connect-race-aedes-takeover',
    claim: 'connect-race-one-survives',
    file: 'src/broker.ts',
    what: "aedes' own $SYS new/clients takeover listener is registered again in Redis modes",
    find: '      refuseListener: isAedesTakeoverListener,\n',
    replace: '',
    tests: [{ file: T.sessions, names: ['two connects of one client id on two nodes at once'] }, { file: T.promisesSessions, names: ['the surviving connection is the one whose node holds the newer epoch'] }],
    note: 'equivalent: aedes\' $SYS announcements stay on their node (keepAedesSysLocal), so aedes\' takeover listener never hears of a connect on another node'
  },
  {
    id: 'takeover-bench',
    claim: 'takeover-bench',
    file: 'lua/session-open.lua',
    what: 'a session is resumed only on the node that owned it (a cross-node takeover starts afresh)',
    find: "if ARGV[2] == '0' and resumable then present = 1 end",
    replace: "if ARGV[2] == '0' and resumable and prev[1] == ARGV[1] then present = 1 end",
    tests: [{ file: T.bench, names: ['takeover reports CONNACK times'] }]
  },
  {
    id: 'parked-session-queues',
    claim: 'parked-session-queues',
    file: 'lua/outgoing-enqueue.lua',
    what: 'a full queue drops its newest entries instead of the oldest (ZPOPMAX)',
    find: "rcall('ZPOPMIN', KEYS[2], over)",
    replace: "rcall('ZPOPMAX', KEYS[2], over)",
    tests: [{ file: T.scriptSessions, names: ['a full queue drops its oldest entries'] }, { file: T.sessions, names: ['a parked session keeps queueing on its node'] }]
  },
  {
    id: 'resume-replays-in-order-dup',
    claim: 'resume-replays-in-order',
    file: 'src/sessions/outgoing.ts',
    what: 'a replayed in-flight message is sent without DUP',
    find: "if (replaying && packet.cmd === 'publish') packet.dup = true",
    replace: "if (replaying && packet.cmd === 'pubrel') packet.dup = true",
    tests: [{ file: T.brokerCluster, names: ['an unacknowledged QoS 1 message is sent again on reconnect, with DUP set'] }]
  },
  {
    id: 'resume-replays-in-order-order',
    claim: 'resume-replays-in-order',
    file: 'src/sessions/outgoing.ts',
    what: 'the queue is replayed newest first',
    find: 'const refs = entries.filter((_, i) => i % 2 === 0)',
    replace: 'const refs = entries.filter((_, i) => i % 2 === 0).reverse()',
    tests: [{ file: T.sessions, names: ['a session resumes on another node'] }]
  },
  {
    id: 'resume-replays-in-order-once',
    claim: 'resume-replays-in-order',
    file: 'src/sessions/gate.ts',
    what: 'the delivery gate forgets what a connection was sent (a moving session gets messages twice)',
    find: 'if (this.#sent.get(client)?.has(refOf(packet)) === true) return false',
    replace: 'if (this.#sent.get(client)?.has(refOf(packet)) === null) return false',
    tests: [{ file: T.sessions, names: ['moves to another node mid-stream loses nothing and sends each message once'] }],
    note: 'survived the first pass; in the second the test passed and the file then hung at teardown (a kill by a hang only); a message reaching a session twice during a move is mostly refused by the enqueue script (queued once per ref) before the gate sees it'
  },
  {
    id: 'parked-session-expiry',
    claim: 'parked-session-expiry',
    file: 'lua/session-close.lua',
    what: 'a parked session gets no expiry',
    find: "for i = 1, 5 do rcall('PEXPIRE', KEYS[i], ARGV[2]) end",
    replace: "for i = 1, 5 do rcall('PERSIST', KEYS[i]) end",
    tests: [{ file: T.sessions, names: ['a parked session expires after session.expirySeconds'] }]
  },
  {
    id: 'clean-session-leaves-nothing',
    claim: 'clean-session-leaves-nothing',
    file: 'lua/session-close.lua',
    what: 'a clean session is parked like a persistent one instead of deleted',
    find: "if meta[2] ~= '1' then",
    replace: "if meta[2] == 'never' then",
    tests: [{ file: T.sessions, names: ['a clean session leaves nothing in Redis once its connection ends'] }]
  },
  // Wills
  {
    id: 'will-on-close-and-takeover-same-node',
    claim: 'will-on-close-and-takeover',
    file: 'src/sessions/wills.ts',
    what: "aedes' delete of the old connection's will after a same-node takeover deletes the new one's",
    find: '    if (!this.#owners.opened(client) && this.#owners.get(client.id) !== undefined) return undefined\n',
    replace: '',
    tests: [{ file: T.sessions, names: ["a same-node takeover keeps the new connection's will"] }]
  },
  {
    id: 'will-on-close-and-takeover-cross-node',
    claim: 'will-on-close-and-takeover',
    file: 'src/sessions/ownership.ts',
    what: 'a clean-session connection closed by a cross-node takeover loses its will',
    find: '    if (conn.clean !== false || conn.will === undefined || conn.will === null) {\n      conn.close()',
    replace: '    if (conn.clean !== false || conn.will === undefined || conn.will === null) {\n      conn.will = null\n      conn.close()',
    tests: [{ file: T.promisesWills, names: ["a client id connecting on another node: the old connection's will is published once"] }]
  },
  {
    id: 'will-once-on-node-death-twice',
    claim: 'will-once-on-node-death',
    file: 'src/sessions/reaper.ts',
    what: 'the reaper publishes each will of a dead node twice',
    find: '          this.#wills.publishDead(decodeStoredPacket(result.will))\n',
    replace: '          this.#wills.publishDead(decodeStoredPacket(result.will))\n          this.#wills.publishDead(decodeStoredPacket(result.will))\n',
    tests: [{ file: T.nodeDeath, names: ["the wills of a SIGKILLed node's connections are published once"] }]
  },
  {
    id: 'will-once-on-node-death-early',
    claim: 'will-once-on-node-death',
    file: 'lua/node-sweep.lua',
    what: 'a sweep reaps leases a lease time before they run out',
    find: "local dead = rcall('ZRANGEBYSCORE', KEYS[1], '-inf', '(' .. now, 'LIMIT', 0, tonumber(ARGV[1]))",
    replace: "local dead = rcall('ZRANGEBYSCORE', KEYS[1], '-inf', '(' .. (now + tonumber(ARGV[5]) / 2), 'LIMIT', 0, tonumber(ARGV[1]))",
    tests: [{ file: T.promisesWills, names: ["a SIGKILLed node's will is published only after its lease is over"] }]
  },
  {
    id: 'aedes-will-sweep-off',
    claim: 'aedes-will-sweep-off',
    file: 'src/broker.ts',
    what: "aedes' own dead-broker will sweep is left running",
    find: '    stopAedesWillSweep(aedes)\n',
    replace: '',
    tests: [{ file: T.nodeDeath, names: ["the wills of a SIGKILLed node's connections are published once"] }],
    note: 'aedes\' sweep first runs 4 x its heartbeatInterval (60 s) = 4 min after start; no test runs a node that long'
  },
  {
    id: 'wills-at-shutdown',
    claim: 'wills-at-shutdown',
    file: 'src/broker.ts',
    what: 'a graceful stop closes its clients without their wills',
    find: "      log.info({ clients: aedes.connectedClients }, 'broker closing')\n",
    replace: "      log.info({ clients: aedes.connectedClients }, 'broker closing')\n      for (const c of connected(aedes)) disconnectWithoutWill(c)\n",
    tests: [{ file: T.promisesWills, names: ['SIGTERM: the node closes its clients, their wills reach subscribers'] }]
  },
  // Membership, leases, reaping
  {
    id: 'one-reaper-per-dead-node',
    claim: 'one-reaper-per-dead-node',
    file: 'lua/node-sweep.lua',
    what: 'a sweep returns expired members without removing them (every sweeper reaps them)',
    find: "  rcall('ZREM', KEYS[1], unpack(dead))\n",
    replace: '',
    tests: [{ file: T.sweep, names: ['concurrent sweeps reap each expired member exactly once'] }, { file: T.nodeDeath, names: ["the wills of a SIGKILLed node's connections are published once"] }]
  },
  {
    id: 'sweep-needs-own-lease',
    claim: 'sweep-needs-own-lease',
    file: 'lua/node-sweep.lua',
    what: "the sweep no longer checks how long the caller's own lease still runs",
    find: 'if not own or tonumber(own) - now < tonumber(ARGV[3]) then return {} end',
    replace: 'if not own then return {} end',
    tests: [{ file: T.sweep, names: ['a caller whose own lease is stale or missing reaps nobody'] }]
  },
  {
    id: 'no-mutual-reaping',
    claim: 'no-mutual-reaping',
    file: 'lua/node-sweep.lua',
    what: 'the quiet period after a gap in the beats is ignored by the sweep',
    find: "if now < (tonumber(rcall('HGET', KEYS[2], 'quietUntil')) or 0) then return {} end",
    replace: '',
    tests: [{ file: T.sweep, names: ['after a gap in which nobody beat'] }]
  },
  {
    id: 'lease-lost-restored',
    claim: 'lease-lost-restored',
    file: 'lua/node-heartbeat.lua',
    what: 'a missing lease is taken as reaped even without a tombstone',
    find: "if rcall('ZSCORE', KEYS[3], ARGV[1]) then held = false else restored = 1 end",
    replace: 'held = false',
    tests: [{ file: T.heartbeat, names: ['a lease missing without a tombstone'] }]
  },
  {
    id: 'dead-node-traffic-stops',
    claim: 'dead-node-traffic-stops',
    file: 'src/routing/cluster.ts',
    what: "a dropped peer's routes stay in the route table",
    find: '    this.#sync.drop(memberId)\n',
    replace: '',
    tests: [{ file: T.membership, names: ['a node killed with SIGKILL loses its routes on every node'] }]
  },
  {
    id: 'rejoin-new-identity',
    claim: 'rejoin-new-identity',
    file: 'src/routing/cluster.ts',
    what: 'a reaped node rejoins under its old member id',
    find: "    this.#memberId = `${this.#deps.nodeId}~${randomBytes(4).toString('hex')}`\n",
    replace: "    this.#memberId = old || randomBytes(4).toString('hex')\n",
    tests: [{ file: T.membership, names: ['a node whose lease was reaped rejoins under a new identity'] }]
  },
  {
    id: 'reaped-node-closes-connections',
    claim: 'reaped-node-closes-connections',
    file: 'src/routing/cluster.ts',
    what: 'a rejoined node keeps serving the connections of its old identity',
    find: '      this.#rejoined?.()\n',
    replace: '',
    tests: [{ file: T.membership, names: ['a node whose lease was reaped rejoins under a new identity'] }]
  },
  {
    id: 'graceful-stop-leaves',
    claim: 'graceful-stop-leaves',
    file: 'src/routing/cluster.ts',
    what: 'a graceful stop does not remove its lease (peers wait for it to run out)',
    find: '      await Promise.all([cmd.zrem(this.#deps.keys.nodes(), me), cmd.hdel(this.#deps.keys.nodesFrames(), me)])',
    replace: '      await Promise.all([cmd.hdel(this.#deps.keys.nodesFrames(), me)])',
    tests: [{ file: T.nodeDeath, names: ['a gracefully stopped node hands its parked sessions to the others at once'] }]
  },
  {
    id: 'sigterm-hands-over',
    claim: 'sigterm-hands-over',
    file: 'src/sessions/reaper.ts',
    what: 'a stopping node does not hand its parked sessions over',
    find: '    await this.reapMember(this.#ctx.links.memberId(), peers)\n',
    replace: '',
    tests: [{ file: T.nodeDeath, names: ['a gracefully stopped node hands its parked sessions to the others at once'] }]
  },
  {
    id: 'adoption-spread-by-hash',
    claim: 'adoption-spread-by-hash',
    file: 'src/sessions/reaper.ts',
    what: "every session of a dead node is adopted by the reaper's first live member",
    find: '        const adopter = pickMember(live, id)\n',
    replace: '        const adopter = live[0] ?? pickMember(live, id)\n',
    tests: [{ file: T.promisesSessions, names: ['the parked sessions of a SIGKILLed node are spread over the live nodes'] }]
  },
  {
    id: 'adoption-adopter-queues',
    claim: 'adoption-spread-by-hash',
    file: 'src/sessions/reaper.ts',
    what: 'the reaper does not load the sessions it adopts itself (no routes held for them)',
    find: '          if (adopter === me) await this.adopted(id, result.epoch)\n',
    replace: '',
    tests: [{ file: T.nodeDeath, names: ['a persistent session parked on a SIGKILLed node is adopted'] }]
  },
  // Journal, node kill, Redis failover
  {
    id: 'node-kill-loses-nothing',
    claim: 'node-kill-loses-nothing',
    file: 'src/sessions/reaper.ts',
    what: "the reaper does not replay a dead node's journal",
    find: '    if (replay && owners.size > 0) {',
    replace: '    if (replay && owners.size < 0) {',
    tests: [{ file: T.nodeDeath, names: ['gets every acknowledged publish when it returns', 'it reconnects elsewhere and every acknowledged publish arrives'] }]
  },
  {
    id: 'replay-skips-acknowledged',
    claim: 'replay-skips-acknowledged',
    file: 'lua/outgoing-enqueue.lua',
    what: 'a message the client acknowledged lately is queued again',
    find: "if rcall('ZSCORE', KEYS[2], ref) or rcall('ZSCORE', KEYS[4], ref) then return { 2, 0, '' } end",
    replace: "if rcall('ZSCORE', KEYS[2], ref) then return { 2, 0, '' } end",
    tests: [{ file: T.scriptSessions, names: ['an acknowledged message is remembered for a while'] }, { file: T.deadPeer }]
  },
  {
    id: 'connack-no-wait-dead-peer',
    claim: 'connack-no-wait-dead-peer',
    file: 'src/routing/cluster.ts',
    what: 'a route change waits for the acknowledgement of a peer nobody listens for',
    find: '(err, receivers) => { if (err === undefined && receivers === 0) this.#local.acked(p, seq) })',
    replace: '() => {})',
    tests: [{ file: T.deadPeer }]
  },
  {
    id: 'takeover-race-loses-nothing',
    claim: 'takeover-race-loses-nothing',
    file: 'lua/outgoing-acked.lua',
    what: 'PUBACKs of a connection that lost its session clear nothing',
    find: "  elseif ref == '' or string.sub(ref, 1, 1) == '~' or not rcall('ZSCORE', KEYS[2], ref) then",
    replace: '  elseif true then',
    tests: [{ file: T.scriptSessions, names: ['a connection that lost its session clears by ref', 'a stale writer clears only by the refs it sent'] }]
  },
  {
    id: 'takeover-race-loses-nothing-clear',
    claim: 'takeover-race-loses-nothing',
    file: 'lua/outgoing-clear.lua',
    what: 'a PUBCOMP of a connection that lost its session clears by packet identifier (the new owner\'s message)',
    find: "if ARGV[1] ~= '' and rcall('HGET', KEYS[1], 'epoch') ~= ARGV[1] then",
    replace: "if ARGV[1] == 'never' then",
    tests: [{ file: T.scriptSessions, names: ['a connection that lost its session clears by ref'] }]
  },
  {
    id: 'journal-fills-gaps-gap',
    claim: 'journal-fills-gaps',
    file: 'src/routing/journal.ts',
    what: 'a gap in a sender\'s frame numbers is not filled from the journal',
    find: 'if (last !== undefined && seq > last + 1) void this.#fillGap(sender, last + 1, seq - 1)',
    replace: 'if (last !== undefined && seq > last + 1) void 0',
    tests: [{ file: T.redisFailover, names: ["primary holding a node's inbox", 'slot migrates'], timeoutMs: 300_000 }]
  },
  {
    id: 'journal-fills-gaps-replay',
    claim: 'journal-fills-gaps',
    file: 'src/routing/journal.ts',
    what: 'after an inbox outage the journal is not replayed to persistent sessions',
    find: '        await replay(m)\n',
    replace: '',
    tests: [{ file: T.redisFailover, names: ["primary holding a node's inbox", 'slot migrates'], timeoutMs: 300_000 }],
    note: 'redundant in the tested faults: the gap fill and the audit hand the same frames to the node\'s persistent sessions (the inbound hook queues them)'
  },
  {
    id: 'inbox-renewal-stops',
    claim: 'journal-fills-gaps',
    file: 'src/routing/inbox.ts',
    what: 'a ping is sent while an inbox renewal is under way (renewals go on for ever)',
    find: '    if (this.#resubscribing !== undefined) return\n    const now = Date.now()',
    replace: '    const now = Date.now()',
    tests: [{ file: T.inboxRecovery }],
    note: 'equivalent in the test\'s fault: #resubscribe() has its own guard, and the ping the tick guard holds back needs a late ping answer during a renewal, which no Redis fault produces on demand'
  },
  {
    id: 'journal-fills-gaps-audit',
    claim: 'journal-fills-gaps',
    file: 'src/routing/journal.ts',
    what: 'the audit after a lost ping takes nothing from the journal (frames lost at the end of a stream stay lost)',
    find: '        if (frame.seq <= (this.#lastSeq.get(frame.sender) ?? 0)) continue\n',
    replace: '        if (frame.seq >= 0) continue\n',
    tests: [{ file: T.redisFailover, names: ["primary holding a node's inbox", 'slot migrates'], timeoutMs: 300_000 }],
    note: 'the failover tests\' streams go on after the outage, so the gap fill recovers every lost frame; an outage at the very end of a stream is not tested'
  },
  {
    id: 'inbox-late-ping-settles',
    claim: 'journal-fills-gaps',
    file: 'src/routing/inbox.ts',
    what: 'an answered ping settles only itself, not the earlier ones lost in an outage (renewals go on)',
    find: '    for (const [n, at] of this.#unanswered) if (at <= sentAt) this.#unanswered.delete(n)\n',
    replace: '    this.#unanswered.delete(nonce)\n',
    tests: [{ file: T.inboxRecovery }],
    note: 'a race: survived the first pass, caught in the second; whether a ping is lost (not just held) during the test\'s CLIENT PAUSE WRITE is chance'
  },
  {
    id: 'ack-after-handoff',
    claim: 'ack-after-handoff',
    file: 'src/aedes/ack-after-handoff.ts',
    what: 'a PUBACK is released before broker.publish has completed',
    find: "      const entry: HeldAck = { messageId: packet.messageId, packet, state: 'waiting' }",
    replace: "      const entry: HeldAck = { messageId: packet.messageId, packet, state: 'ready' }",
    tests: [{ file: T.ackAfterHandoff }]
  },
  {
    id: 'ack-after-handoff-order',
    claim: 'ack-after-handoff',
    file: 'src/aedes/ack-after-handoff.ts',
    what: 'a ready PUBACK does not wait for those of earlier PUBLISH packets',
    find: "    while (q.head < q.entries.length && q.entries[q.head]?.state !== 'waiting') {",
    replace: "    for (const e of q.entries) if (e.state === 'ready') { e.state = 'failed'; write(client, e.packet) }\n    while (q.head < q.entries.length && q.entries[q.head]?.state !== 'waiting') {",
    tests: [{ file: T.ackAfterHandoff, names: ['PUBACKs keep the order of their PUBLISH packets'] }]
  },
  // Admin, readiness, drain
  {
    id: 'ready-checks',
    claim: 'ready-checks',
    file: 'src/broker.ts',
    what: '/ready answers 200 while the node drains',
    find: "{ name: 'listeners', ok: () => !closing && admin?.drain.draining !== true },",
    replace: "{ name: 'listeners', ok: () => !closing },",
    tests: [{ file: T.promisesAdmin, names: ['answers 200 on a serving node and 503 while it drains'] }]
  },
  {
    id: 'managed-ready-503',
    claim: 'managed-ready-503',
    file: 'src/broker.ts',
    what: '/ready does not check that Redis is reachable',
    find: "{ name: 'redis', ok: () => cluster.routing.health().redis },",
    replace: "{ name: 'redis', ok: () => true },",
    tests: [{ file: T.promisesAdmin, names: ['answers 503 naming the redis check while Redis is unreachable'] }]
  },
  {
    id: 'drain-no-wills',
    claim: 'drain-no-wills',
    file: 'src/admin/drain.ts',
    what: 'a drain closes its clients with their wills',
    find: '        disconnectWithoutWill(client)\n        disconnected++',
    replace: '        client.close()\n        disconnected++',
    tests: [{ file: T.promisesAdmin, names: ['a drained node closes its clients without publishing their wills'] }]
  },
  {
    id: 'drain-hands-over',
    claim: 'drain-hands-over',
    file: 'src/sessions/reaper.ts',
    what: "a stopping node leaves without waiting for its adopters' confirmation",
    find: '    if (waiting.size > 0) {\n',
    replace: '    if (waiting.size < 0) {\n',
    tests: [{ file: T.promisesAdmin, names: ['a drained node closes its clients without publishing their wills'] }, { file: 'test/integration/rolling-restart.test.ts' }],
    note: 'a race: a leaving node\'s 300 ms quiet period usually covers its adopters\' route propagation; rolling-restart caught it in one of two runs (lost acknowledged messages)'
  },
  {
    id: 'admin-kick-no-will',
    claim: 'admin-kick-no-will',
    file: 'src/admin/node-admin.ts',
    what: 'a kick requested by a peer closes the client with its will',
    find: '      if (client !== undefined) disconnectWithoutWill(client)\n',
    replace: '      if (client !== undefined) client.close()\n',
    tests: [{ file: T.admin, names: ['closes the client connected to another, without its will'] }, { file: T.promisesAdmin, names: ["an admin kick of a persistent session's client publishes no will"] }]
  },
  {
    id: 'admin-kick-no-will-local',
    claim: 'admin-kick-no-will',
    file: 'src/admin/node-admin.ts',
    what: 'a kick of a client on the node asked closes it with its will',
    find: '        disconnectWithoutWill(client)\n        return { node: memberId() }',
    replace: '        client.close()\n        return { node: memberId() }',
    tests: [{ file: T.promisesAdmin, names: ["an admin kick of a persistent session's client publishes no will"] }, { file: T.admin, names: ['closes the client connected to another, without its will'] }]
  },
  // Auth
  {
    id: 'anonymous-warning',
    claim: 'anonymous-warning',
    file: 'src/auth/authenticator.ts',
    what: 'no warning about anonymous access in a Redis mode',
    find: '  if (options.anonymous && store !== undefined) {',
    replace: '  if (options.anonymous && store === undefined) {',
    tests: [{ file: T.auth, names: ['anonymous access in a Redis mode is announced with a warning'] }]
  },
  {
    id: 'connect-refusals',
    claim: 'connect-refusals',
    file: 'src/auth/authenticator.ts',
    what: 'no user name with anonymous access off gets 0x04 instead of 0x05',
    find: 'if (username === undefined) return options.anonymous ? undefined : CONNACK_NOT_AUTHORIZED',
    replace: 'if (username === undefined) return options.anonymous ? undefined : CONNACK_BAD_CREDENTIALS',
    tests: [{ file: T.auth, names: ['no user name gets CONNACK 0x05'] }]
  },
  {
    id: 'connect-refusals-password',
    claim: 'connect-refusals',
    file: 'src/auth/authenticator.ts',
    what: 'a wrong password of a known user is accepted',
    find: 'return ok && stored !== undefined && password !== undefined ? username : CONNACK_BAD_CREDENTIALS',
    replace: 'return stored !== undefined ? username : CONNACK_BAD_CREDENTIALS',
    tests: [{ file: T.auth, names: ['no user name gets CONNACK 0x05'] }]
  },
  {
    id: 'subscribe-denied-0x80',
    claim: 'subscribe-denied-0x80',
    file: 'src/auth/authenticator.ts',
    what: 'a denied SUBSCRIBE filter is granted',
    find: '      callback(null, null as unknown as typeof sub)',
    replace: '      callback(null, sub)',
    tests: [{ file: T.auth, names: ['a denied SUBSCRIBE filter gets SUBACK 0x80'] }]
  },
  {
    id: 'deny-checked-on-delivery',
    claim: 'deny-checked-on-delivery',
    file: 'src/auth/authenticator.ts',
    what: 'messages are not checked again on delivery',
    find: 'if (acl.rules.length === 0 || aclOf(client).mayReceive(packet.topic)) return packet',
    replace: 'if (acl.rules.length >= 0 || aclOf(client).mayReceive(packet.topic)) return packet',
    tests: [{ file: T.auth, names: ['a wildcard subscription does not receive the topics a deny rule withholds'] }]
  },
  {
    id: 'publish-denied-acked-dropped',
    claim: 'publish-denied-acked-dropped',
    file: 'src/auth/authenticator.ts',
    what: 'a denied PUBLISH is delivered anyway',
    find: '        if (!denied.has(packet)) return publish(packet, ...rest)',
    replace: '        return publish(packet, ...rest)',
    tests: [{ file: T.auth, names: ['a denied PUBLISH is acknowledged, counted and delivered to nobody'] }]
  },
  {
    id: 'auth-reload',
    claim: 'auth-reload',
    file: 'src/auth/authenticator.ts',
    what: 'a change of the auth file is not noticed (only SIGHUP reloads)',
    find: "        if (name !== null && name !== basename(path) && !name.startsWith('..')) return",
    replace: '        if (name !== null || name === basename(path)) return',
    tests: [{ file: T.auth, names: ['a changed auth file changes the decisions of every node without a restart'] }]
  },
  {
    id: 'redis-users-everywhere',
    claim: 'redis-users-everywhere',
    file: 'src/auth/authenticator.ts',
    what: 'a change of the Redis users is logged but not used',
    find: '        redisUsers = snapshot.users\n',
    replace: '',
    tests: [{ file: T.auth, names: ['a user added with `slotmq users add --redis` connects on every node'] }]
  }, {
    id: 'connect-race-epoch-time-only',
    claim: 'connect-race-one-survives',
    file: 'lua/session-open.lua',
    what: 'the epoch is Redis TIME in ms only (two connects in one millisecond get the same epoch)',
    find: 'local epoch = math.max(previousEpoch + 1, now)',
    replace: 'local epoch = now',
    tests: [{ file: T.scriptSessions, names: ['each open bumps the epoch'] }, { file: T.sessions, names: ['two connects of one client id on two nodes at once'] }]
  },
  // Protocol strictness
  {
    id: 'empty-client-id',
    claim: 'empty-client-id',
    file: 'src/aedes/connect-policy.ts',
    what: 'an empty client id with clean session 0 is accepted (only MQTT 3.1 refuses it)',
    find: "if (packet.clientId === '' && (packet.clean === false || packet.protocolVersion === 3)) {",
    replace: "if (packet.clientId === '' && packet.protocolVersion === 3) {",
    tests: [{ file: T.brokerStandalone, names: ['an empty client id with clean session 0 gets CONNACK 0x02'] }]
  },
  {
    id: 'aedes-955-every-message',
    claim: 'aedes-955-every-message',
    file: 'src/aedes/delivery.ts',
    what: "aedes' per-origin duplicate check is left on",
    find: '      client.duplicates = NO_DUPLICATES\n',
    replace: '',
    tests: [{ file: T.brokerCluster, names: ['aedes#955: every message arrives'] }, { file: T.brokerStandalone, names: ['aedes#955: every message arrives'] }]
  },
  {
    id: 'qos-min-granted',
    claim: 'qos-min-granted',
    file: 'src/aedes/delivery.ts',
    what: 'a QoS 1 subscription is not capped (gets QoS 2 publishes at QoS 2)',
    find: 'if (grantedQos.get(func) === 1) deliver =',
    replace: 'if (grantedQos.get(func) === 3) deliver =',
    tests: [{ file: T.brokerStandalone, names: ['a QoS 1 wildcard subscription gets a QoS 2 publish at QoS 1'] }]
  },
  {
    id: 'session-present-without-subscriptions',
    claim: 'session-present-without-subscriptions',
    file: 'src/aedes/write-hook.ts',
    what: 'Session Present is left to aedes (which needs a subscription to call a session present)',
    find: '        else if (present === true) packet.sessionPresent = true\n',
    replace: '',
    tests: [{ file: T.brokerCluster, names: ['a persistent session without subscriptions is reported present'] }]
  },
  {
    id: 'bad-utf8-closes',
    claim: 'bad-utf8-closes',
    file: 'src/aedes/parser-guards.ts',
    what: 'ill-formed UTF-8 in a string is let through (decoded with U+FFFD)',
    find: '      if (!isUtf8(bytes)) {',
    replace: '      if (!isUtf8(bytes) && bytes.length < 0) {',
    tests: [{ file: T.badInput, names: ['ill-formed UTF-8 in a topic closes that connection'] }]
  },
  {
    id: 'bad-utf8-control',
    claim: 'bad-utf8-closes',
    file: 'src/aedes/parser-guards.ts',
    what: 'C0 control characters are let through (only C1 ones close)',
    find: 'if ((c >= 0x01 && c <= 0x1f) || (c >= 0x7f && c <= 0x9f)) return true',
    replace: 'if (c >= 0x7f && c <= 0x9f) return true',
    tests: [{ file: T.brokerStandalone, names: ['a topic with a control character closes the connection'] }]
  },
  {
    id: 'connect-unsupported-level',
    claim: 'connect-unsupported-level',
    file: 'src/aedes/connect-rules.ts',
    what: 'any protocol level under the name MQTT is accepted',
    find: "return (name === 'MQIsdp' && base === 3) || (name === 'MQTT' && base === 4)",
    replace: "return (name === 'MQIsdp' && base === 3) || (name === 'MQTT' && base >= 4)",
    tests: [{ file: T.brokerStandalone, names: ['gets CONNACK 0x01, then the connection is closed'] }]
  },
  {
    id: 'connect-flags-strict',
    claim: 'connect-flags-strict',
    file: 'src/aedes/connect-rules.ts',
    what: 'a password flag without the user name flag is accepted',
    find: "  if ((flags & PASSWORD_FLAG) !== 0 && (flags & USERNAME_FLAG) === 0) return 'password flag without user name flag [MQTT-3.1.2-22]'\n",
    replace: '',
    tests: [{ file: T.brokerStandalone, names: ['a password flag without the user name flag closes the connection'] }]
  },
  {
    id: 'protocol-violations-close',
    claim: 'protocol-violations-close',
    file: 'src/aedes/parser-guards.ts',
    what: 'packet identifier 0 is accepted',
    find: '    if (id < 1) {',
    replace: '    if (id < 0) {',
    tests: [{ file: T.brokerStandalone, names: ['packet identifier 0 in a QoS 1 PUBLISH closes the connection'] }]
  },
  {
    id: 'mqtt31-connack',
    claim: 'mqtt31-connack',
    file: 'src/aedes/write-hook.ts',
    what: 'an MQTT 3.1 CONNACK carries Session Present',
    find: '        if (client.version !== 4) packet.sessionPresent = false\n        else if',
    replace: '        if',
    tests: [{ file: T.brokerStandalone, names: ['MQTT 3.1 CONNACK carries no Session Present'] }, { file: T.brokerCluster, names: ['MQTT 3.1 CONNACK carries no Session Present'] }]
  },
  {
    id: 'mqtt31-dup-retry',
    claim: 'mqtt31-connack',
    file: 'src/aedes/parser-guards.ts',
    what: 'MQTT 3.1 retries with DUP (and QoS 1 bits) are parsed as mqtt-packet does (refused)',
    find: '    if (cmd === undefined || this.settings?.protocolVersion !== 3) return parseHeader.call(this)',
    replace: '    return parseHeader.call(this)',
    tests: [{ file: T.brokerStandalone, names: ['MQTT 3.1: a PUBREL sent again with DUP set is answered'] }]
  },
  {
    id: 'plus-matches-empty-level',
    claim: 'plus-matches-empty-level',
    file: 'src/topics.ts',
    what: "+ does not match an empty level (qlobber's default)",
    find: '  match_empty_levels: true,',
    replace: '  match_empty_levels: false,',
    tests: [{ file: 'test/unit/topics.test.ts' }, { file: T.brokerStandalone, names: ['+ matches an empty level'] }]
  },
  {
    id: 'retained-once',
    claim: 'retained-once',
    file: 'src/aedes/retained-once.ts',
    what: 'the live copy of a retained message already sent from the store is not dropped',
    find: '        if (id !== undefined && phase.read.delete(id)) return cb()',
    replace: '        if (id !== undefined && phase.read.delete(id) && id === undefined) return cb()',
    tests: [{ file: T.brokerCluster, names: ['arrives once'] }],
    note: 'a race: the live copy must arrive after the retained read has ended; caught in the first pass, not in 200 tries of the second'
  },
  {
    id: 'fresh-broker-id',
    claim: 'fresh-broker-id',
    file: 'src/broker.ts',
    what: 'the aedes broker id is derived from the node id only',
    find: "  const brokerId = `${config.nodeId}~${randomBytes(4).toString('hex')}`",
    replace: "  const brokerId = `${config.nodeId}~${Buffer.from(config.nodeId).toString('hex').slice(0, 8).padEnd(8, '0')}`",
    tests: [{ file: T.badInput, names: ['aedes#754: the broker id is fresh on every start'] }]
  },
  {
    id: 'closed-client-not-registered',
    claim: 'closed-client-not-registered',
    file: 'src/aedes/register-guard.ts',
    what: 'a client closed while its CONNECT was processed is registered anyway',
    find: '    if (next.closed === true) return\n',
    replace: '',
    tests: [{ file: 'test/integration/closed-client-registration.test.ts' }]
  },
  {
    id: 'closing-client-keeps-successor',
    claim: 'closing-client-keeps-successor',
    file: 'src/aedes/register-guard.ts',
    what: 'a connection whose close ends after its successor registered takes the successor out of the client table',
    find: '    if (current !== undefined && current !== client) broker.clients[client.id] = current\n',
    replace: '',
    tests: [{ file: 'test/integration/closed-client-registration.test.ts', names: ['a connection whose close ends after a new connection of its client id registered'] }]
  },
  // Limits
  {
    id: 'limit-max-connections',
    claim: 'limit-max-connections',
    file: 'src/aedes/limits.ts',
    what: 'one connection more than maxConnections is let in',
    find: 'if (max > 0 && admitted.size >= max && !takeover) {',
    replace: 'if (max > 0 && admitted.size > max && !takeover) {',
    tests: [{ file: T.limits, names: ['a CONNECT beyond the limit gets CONNACK 0x03'] }]
  },
  {
    id: 'limit-max-connections-takeover',
    claim: 'limit-max-connections',
    file: 'src/aedes/limits.ts',
    what: 'a client taking over its own session at the limit is refused',
    find: '      const takeover = client.id !== null && clients[client.id] !== undefined',
    replace: '      const takeover = false',
    tests: [{ file: T.limits, names: ['a client taking over its own session at the limit is let in'] }]
  },
  {
    id: 'limit-connection-rate',
    claim: 'limit-connection-rate',
    file: 'src/aedes/limits.ts',
    what: 'the connection rate is not applied',
    find: '      if (address === undefined || connectionRate.admit(address)) return true',
    replace: '      if (address !== undefined || connectionRate.admit(address)) return true',
    tests: [{ file: T.limits, names: ['connections from one address beyond the rate are closed before CONNECT is read'] }]
  },
  {
    id: 'limit-packet-size',
    claim: 'limit-packet-size',
    file: 'src/aedes/parser-guards.ts',
    what: 'the maximum packet size is checked against ten times the setting',
    find: 'if (complete && fixedHeaderSize(this.packet.length) + this.packet.length > maxPacketSize) {',
    replace: 'if (complete && fixedHeaderSize(this.packet.length) + this.packet.length > 10 * maxPacketSize) {',
    tests: [{ file: T.limits, names: ['a packet larger than the maximum closes that connection'] }, { file: 'test/integration/oversize.test.ts' }]
  },
  {
    id: 'limit-topic-length',
    claim: 'limit-topic-length',
    file: 'src/aedes/limits.ts',
    what: 'the topic length limit counts levels instead of bytes',
    find: 'if (settings.maxTopicLength > 0 && Buffer.byteLength(topic) > settings.maxTopicLength) {',
    replace: "if (settings.maxTopicLength > 0 && topic.split('/').length > settings.maxTopicLength) {",
    tests: [{ file: T.limits, names: ['a PUBLISH whose topic is longer than the limit closes that connection without PUBACK', 'a will whose topic is longer than the limit is not published'] }]
  },
  {
    id: 'limit-topic-levels',
    claim: 'limit-topic-levels',
    file: 'src/aedes/limits.ts',
    what: 'one topic level more than the limit is let through',
    find: 'if (topicLevels(topic) > settings.maxTopicLevels) return',
    replace: 'if (topicLevels(topic) > settings.maxTopicLevels + 1) return',
    tests: [{ file: T.limits, names: ['a PUBLISH with more topic levels than the limit closes that connection'] }, { file: T.brokerStandalone, names: ['a filter over the level limit gets 0x80, never a close'] }]
  },
  {
    id: 'limit-subscriptions',
    claim: 'limit-subscriptions',
    file: 'src/aedes/limits.ts',
    what: 'one filter more than maxSubscriptionsPerClient is granted',
    find: '          if (count >= max) {',
    replace: '          if (count > max) {',
    tests: [{ file: T.limits, names: ['filters beyond the limit get 0x80, the first ones are granted and deliver'] }]
  },
  {
    id: 'limit-subscriptions-repeat',
    claim: 'limit-subscriptions',
    file: 'src/aedes/limits.ts',
    what: 'subscribing again to a held filter counts against the limit',
    find: '        if (!(sub.topic in held) && !pending.has(sub.topic)) {',
    replace: '        if (!pending.has(sub.topic)) {',
    tests: [{ file: T.limits, names: ['subscribing again to a held filter does not count'] }]
  },
  {
    id: 'limit-inflight',
    claim: 'limit-inflight',
    file: 'src/aedes/inflight.ts',
    what: 'one QoS 1/2 message more than maxInflight may await acknowledgement',
    find: 'const full = (): boolean => w.ids.size + w.passing >= opts.max',
    replace: 'const full = (): boolean => w.ids.size + w.passing > opts.max',
    tests: [{ file: T.limitsInflight, names: ['at most the limit of QoS 1 messages await PUBACK'] }]
  },
  {
    id: 'limit-inflight-qos0-order',
    claim: 'limit-inflight',
    file: 'src/aedes/inflight.ts',
    what: 'a QoS 0 message overtakes held QoS 1 messages',
    find: '      client.deliver0 = (packet, cb) => {\n        if (w.held.length > 0) return hold(packet, cb)\n',
    replace: '      client.deliver0 = (packet, cb) => {\n',
    tests: [{ file: T.limitsInflight, names: ['a QoS 0 message waits behind held QoS 1 messages'] }]
  },
  {
    id: 'limit-inflight-resume',
    claim: 'limit-inflight-resume',
    file: 'src/sessions/outgoing.ts',
    what: 'a resumed session replays only messages that were sent before (never-sent queued ones are skipped)',
    find: '            const messageId = values[2 * j + 1]\n',
    replace: '            const messageId = values[2 * j + 1]\n            if (messageId === null || messageId === undefined) continue\n',
    tests: [{ file: T.limitsInflight, names: ['messages held back when the connection closed are sent after the session resumes'] }]
  },
  {
    id: 'limit-publish-rate',
    claim: 'limit-publish-rate',
    file: 'src/aedes/limits.ts',
    what: 'the publish rate is not applied (no delay)',
    find: '      if (waitMs === 0) return next(client, packet, callback)',
    replace: '      if (waitMs >= 0) return next(client, packet, callback)',
    tests: [{ file: T.limits, names: ['a client publishing faster than the rate is slowed and loses nothing'] }]
  },
  {
    id: 'limit-log-throttle',
    claim: 'limit-log-throttle',
    file: 'src/listeners/rate.ts',
    what: 'the log throttle lets every line through',
    find: 'if (last !== undefined && nowMs - last.atMs < this.#intervalMs) {',
    replace: 'if (last !== undefined && nowMs - last.atMs < 0) {',
    tests: [{ file: 'test/unit/rate.test.ts', names: ['the log throttle'] }]
  },
  // Access control, $SYS, admin
  {
    id: 'refused-never-takes-over',
    claim: 'refused-never-takes-over',
    file: 'src/aedes/connect-policy.ts',
    what: 'the session is opened (taken over) before a credentials refusal is sent',
    find: "        if (refusal !== undefined) return done(Object.assign(new Error('connect refused'), { returnCode: refusal }), null)",
    replace: "        if (refusal !== undefined) return void open(client).finally(() => done(Object.assign(new Error('connect refused'), { returnCode: refusal }), null))",
    tests: [{ file: T.auth, names: ['a client refused for its credentials does not take over the session'] }]
  },
  {
    id: 'deny-wins',
    claim: 'deny-wins',
    file: 'src/auth/acl.ts',
    what: 'publish deny rules are ignored when an allow rule matches',
    find: 'mayPublish: (topic) => !isSysTopic(topic) && reaches(sets.pubAllow, topic) && !reaches(sets.pubDeny, topic),',
    replace: 'mayPublish: (topic) => !isSysTopic(topic) && reaches(sets.pubAllow, topic),',
    tests: [{ file: T.acl, names: ['a deny rule wins over allow rules'] }]
  },
  {
    id: 'deny-wins-default',
    claim: 'deny-wins',
    file: 'src/auth/acl.ts',
    what: 'a topic no rule mentions may be published once rules exist',
    find: 'mayPublish: (topic) => !isSysTopic(topic) && reaches(sets.pubAllow, topic) && !reaches(sets.pubDeny, topic),',
    replace: 'mayPublish: (topic) => !isSysTopic(topic) && !reaches(sets.pubDeny, topic),',
    tests: [{ file: T.acl, names: ['once rules exist a client may do only what a rule applying to it allows'] }]
  },
  {
    id: 'sys-read-only',
    claim: 'sys-read-only',
    file: 'src/auth/acl.ts',
    what: 'with no rules, clients may publish to $SYS',
    find: '  mayPublish: (topic) => !isSysTopic(topic),\n',
    replace: '  mayPublish: () => true,\n',
    tests: [{ file: T.acl, names: ['with no rules every client may publish and subscribe anything but publish to $SYS'] }]
  },
  {
    id: 'wildcard-never-reaches-dollar-acl',
    claim: 'wildcard-never-reaches-dollar',
    file: 'src/auth/acl.ts',
    what: 'a rule starting with a wildcard covers $ filters',
    find: "  if (filter.startsWith('$') && (r[0] === '+' || r[0] === '#')) return false\n",
    replace: '',
    tests: [{ file: T.acl, names: ['rules starting with a wildcard do not reach $ topics'] }]
  },
  {
    id: 'wildcard-never-reaches-dollar-retained',
    claim: 'wildcard-never-reaches-dollar',
    file: 'src/redis/retained.ts',
    what: 'a wildcard first level reads the $ partitions of the retained store too',
    find: ".filter(p => !p.startsWith('$')).sort()",
    replace: '.sort()',
    tests: [{ file: T.clusterRouting, names: ['a # subscription does not receive retained $ topics'] }]
  },
  {
    id: 'aedes-sys-stays-local',
    claim: 'aedes-sys-stays-local',
    file: 'src/aedes/internal-sys.ts',
    what: "aedes' $SYS announcements are published like any message",
    find: '    if (!isAedesSysTopic(packet.topic)) return publish(packet, ...rest)',
    replace: '    return publish(packet, ...rest)',
    tests: [{ file: 'test/integration/safe-defaults.test.ts', names: ['an anonymous $SYS/# subscriber sees no client id but its own', "aedes' announcements of one node do not reach another node"] }]
  },
  {
    id: 'sys-topics',
    claim: 'sys-topics',
    file: 'src/admin/sys.ts',
    what: 'every node publishes the $SYS/broker totals',
    find: '      if (members[0]?.memberId !== own.memberId) return\n',
    replace: '',
    tests: [{ file: T.admin, names: ['totals are published by one node only'] }]
  },
  {
    id: 'admin-token',
    claim: 'admin-token',
    file: 'src/admin/api.ts',
    what: 'read-only admin requests need no token',
    find: '    if (given === undefined || !timingSafeEqual(digest(given), expected)) {',
    replace: '    if (write && (given === undefined || !timingSafeEqual(digest(given), expected))) {',
    tests: [{ file: T.admin, names: ['the admin API refuses requests without the token or with a wrong one'] }]
  },
  {
    id: 'admin-token-unset',
    claim: 'admin-token',
    file: 'src/admin/api.ts',
    what: 'without admin.token, read-only admin requests are answered',
    find: '    if (expected === undefined) {',
    replace: '    if (expected === undefined && write) {',
    tests: [{ file: T.admin, names: ['every admin request is refused (401), read-only ones included'] }, { file: 'test/integration/safe-defaults.test.ts', names: ['without admin.token an admin GET gets 401'] }]
  },
  // Routing and retained
  {
    id: 'publish-after-suback',
    claim: 'publish-after-suback',
    file: 'src/routing/local-routes.ts',
    what: 'SUBACK does not wait for the peers to acknowledge the new route',
    find: '        await this.#waitForAcks(seq, this.#deps.announce(seq, chunk))',
    replace: '        this.#deps.announce(seq, chunk)',
    tests: [{ file: T.clusterRouting, names: ['SUBACK waits until the other nodes know the route', 'a publish made on another node right after SUBACK reaches the new subscriber'] }]
  },
  {
    id: 'publish-to-matching-nodes',
    claim: 'publish-to-matching-nodes',
    file: 'src/routing/cluster.ts',
    what: 'every publish goes to every peer',
    find: '    const targets = this.table.match(message.topic)\n',
    replace: '    const targets = new Set(this.#peers)\n',
    tests: [{ file: T.clusterRouting, names: ['a publish goes only to the nodes that have a matching subscriber'] }]
  },
  {
    id: 'publish-to-matching-nodes-removed',
    claim: 'publish-to-matching-nodes',
    file: 'src/routing/local-routes.ts',
    what: 'a route is not withdrawn when its last local subscriber leaves',
    find: '    this.#counts.delete(filter)\n    this.#dirty.add(filter)\n',
    replace: '    this.#counts.delete(filter)\n',
    tests: [{ file: T.clusterRouting, names: ["when its last local subscriber leaves, a node's route disappears"] }]
  },
  {
    id: 'order-per-publisher',
    claim: 'order-per-publisher',
    file: 'src/routing/cluster.ts',
    what: 'the records of one inbox frame are handled last first',
    find: '    const works: Array<Promise<void>> = []\n    for (const r of records) {',
    replace: '    const works: Array<Promise<void>> = []\n    for (const r of [...records].reverse()) {',
    tests: [{ file: T.clusterRouting, names: ['1000 messages from one publisher arrive on another node complete and in order'] }]
  },
  {
    id: 'order-per-publisher-hook',
    claim: 'order-per-publisher',
    file: 'src/routing/cluster.ts',
    what: 'a peer publish is delivered when its offline queueing is done, not in arrival order',
    find: '    this.#order.after(queued, () => this.emitter.deliver(message))',
    replace: '    void Promise.resolve(queued).then(() => this.emitter.deliver(message))',
    tests: [{ file: T.clusterRouting, names: ['1000 messages from one publisher arrive on another node complete and in order'] }],
    note: 'equivalent for order: the offline-queue writes of one sender complete in order (one connection per shard, replies in order); in the first pass the file hung at teardown, in the second it passed'
  },
  {
    id: 'retained-no-scan',
    claim: 'retained-no-scan',
    file: 'src/redis/retained.ts',
    what: 'a wildcard read stops after the first page of each index partition',
    find: '        if (topics.length < PAGE) break',
    replace: '        break',
    tests: [{ file: T.clusterRouting, names: ['retained messages written on one node are found by wildcards on another'] }]
  },
  {
    id: 'retained-visible-on-ack',
    claim: 'retained-visible-on-ack',
    file: 'src/redis/retained.ts',
    what: "a retained message's index entry is written 200 ms later, after the PUBACK",
    find: '    const writes: Array<Promise<unknown>> = [this.#redis.zincrby(partition, 1, packet.topic)]',
    replace: '    setTimeout(() => { this.#redis.zincrby(partition, 1, packet.topic).catch(() => {}) }, 200)\n    const writes: Array<Promise<unknown>> = []',
    tests: [{ file: T.ackAfterHandoff, names: ['a retained QoS 1 PUBACK waits until the retained message is stored'] }, { file: T.clusterRouting, names: ['retained messages written on one node are found by wildcards on another'] }]
  },
  {
    id: 'key-prefix',
    claim: 'key-prefix',
    file: 'src/redis/keys.ts',
    what: 'the prefix goes after mqtt:',
    find: '  const base = `${prefix}mqtt:`',
    replace: '  const base = `mqtt:${prefix}`',
    tests: [{ file: 'test/unit/keys.test.ts', names: ['the prefix stays outside the braces'] }]
  },
  {
    id: 'config-precedence',
    claim: 'config-precedence',
    file: 'src/config.ts',
    what: 'the environment overrides flags',
    find: '    const fromFlag = sources.flags?.[s.flag]\n    if (fromFlag !== undefined) {',
    replace: '    const fromFlag = sources.flags?.[s.flag]\n    if (fromFlag !== undefined && fromEnv === undefined) {',
    tests: [{ file: 'test/unit/config.test.ts', names: ['precedence is defaults < file < environment < flags'] }]
  },
  // Shared subscriptions
  {
    id: 'shared-one-member-per-group',
    claim: 'shared-one-member-per-group',
    file: 'src/routing/shared-dispatch.ts',
    what: 'a local member gets the message even when another node was picked',
    find: '    if (target === me && this.#deps.emitter.deliverShared(g.group, g.filter, message, hash)) {',
    replace: '    if (this.#deps.emitter.deliverShared(g.group, g.filter, message, hash) && target === me) {',
    tests: [{ file: T.shared, names: ['each of 10,000 QoS 1 messages reaches the group exactly once'] }]
  },
  {
    id: 'shared-no-duplicates',
    claim: 'shared-no-duplicates',
    file: 'src/aedes/shared-members.ts',
    what: 'a PUBACK does not settle the tracked shared message (it is given to another member when the member leaves)',
    find: "        if ((packet.cmd === 'puback' || packet.cmd === 'pubrec') && packet.messageId !== undefined) acked(client, packet.messageId)",
    replace: "        if (packet.cmd === 'pubrec' && packet.messageId !== undefined) acked(client, packet.messageId)",
    tests: [{ file: T.shared, names: ['a member that acknowledged its messages and leaves', 'a member killed mid-run'] }]
  },
  {
    id: 'strategy-round-robin',
    claim: 'strategy-round-robin',
    file: 'src/routing/shared.ts',
    what: 'round_robin picks at random',
    find: '      at = state.next % total\n',
    replace: '      at = Math.floor(Math.random() * total)\n',
    tests: [{ file: T.sharedStrategies, names: ['round_robin'] }]
  },
  {
    id: 'strategy-random',
    claim: 'strategy-random',
    file: 'src/routing/shared.ts',
    what: 'random always picks the first candidate',
    find: "    case 'random':\n      at = Math.floor(Math.random() * total)",
    replace: "    case 'random':\n      at = 0",
    tests: [{ file: T.sharedStrategies, names: ['random'] }]
  },
  {
    id: 'strategy-sticky',
    claim: 'strategy-sticky',
    file: 'src/routing/shared.ts',
    what: 'sticky forgets its pick',
    find: '      if (state.sticky !== undefined && candidates.some(([id]) => id === state.sticky)) return state.sticky\n',
    replace: '',
    tests: [{ file: 'test/unit/shared.test.ts', names: ['sticky'] }, { file: T.sharedStrategies, names: ['sticky'] }]
  },
  {
    id: 'strategy-hash-clientid',
    claim: 'strategy-hash-clientid',
    file: 'src/routing/shared.ts',
    what: 'hash_clientid hashes the topic',
    find: "  if (strategy === 'hash_clientid') return hash32(String((message as { clientId?: unknown }).clientId ?? ''))",
    replace: "  if (strategy === 'hash_clientid') return hash32(message.topic + String(Math.random()))",
    tests: [{ file: T.sharedStrategies, names: ['hash_clientid'] }]
  },
  {
    id: 'strategy-hash-topic',
    claim: 'strategy-hash-topic',
    file: 'src/routing/shared.ts',
    what: 'hash_topic hashes something that changes per message',
    find: "  if (strategy === 'hash_topic') return hash32(message.topic)",
    replace: "  if (strategy === 'hash_topic') return hash32(message.topic + String(Math.random()))",
    tests: [{ file: T.sharedStrategies, names: ['hash_topic'] }]
  },
  {
    id: 'shared-no-retained',
    claim: 'shared-no-retained',
    file: 'src/aedes/shared-members.ts',
    what: 'a new shared subscription is sent the retained messages',
    find: '    const kept = patterns.filter(p => !isShareTopic(p))',
    replace: '    const kept = patterns',
    tests: [{ file: T.shared, names: ['retained messages are not sent to a new shared subscription'] }],
    note: 'equivalent: both retained stores look `$share/<group>/<filter>` up literally and find nothing'
  },
  {
    id: 'shared-invalid-filter',
    claim: 'shared-invalid-filter',
    file: 'src/aedes/shared-members.ts',
    what: 'an invalid $share filter is passed on to access control and aedes',
    find: "    if (!('problem' in share)) return next(client, sub, callback)\n    log.debug",
    replace: '    return next(client, sub, callback)\n    log.debug',
    tests: [{ file: T.shared, names: ['a $share filter with an invalid group name or no filter gets SUBACK 0x80'] }]
  },
  {
    id: 'shared-invalid-filter-acl',
    claim: 'shared-invalid-filter',
    file: 'src/aedes/shared-members.ts',
    what: 'access control sees the whole $share filter, not the inner one',
    find: '    next(client, { ...sub, topic: share.filter }, (err, granted) => {',
    replace: '    next(client, sub, (err, granted) => {',
    tests: [{ file: T.shared, names: ['access control rules see the inner filter'] }]
  },
  {
    id: 'shared-member-leaves',
    claim: 'shared-member-leaves',
    file: 'src/aedes/shared-members.ts',
    what: "a closing member's unacknowledged messages are not given to the group when it unsubscribes",
    find: '      if (member.client.closed) release(member)\n',
    replace: '',
    tests: [{ file: T.shared, names: ['a member killed mid-run'] }, { file: T.promisesShared, names: ['on DISCONNECT', 'on a keep-alive timeout', 'on a takeover from another node'] }],
    note: 'equivalent: aedes\' clientDisconnect handler gives the member\'s remaining messages to the group anyway'
  },
  {
    id: 'shared-member-leaves-release',
    claim: 'shared-member-leaves',
    file: 'src/aedes/shared-members.ts',
    what: "a leaving member's unacknowledged messages are dropped instead of given to the group",
    find: '        if (p.messageId !== undefined) t.byId.delete(p.messageId)\n        redispatch(p)\n',
    replace: '        if (p.messageId !== undefined) t.byId.delete(p.messageId)\n',
    tests: [{ file: T.promisesShared, names: ['on DISCONNECT', 'on a keep-alive timeout', 'on a takeover from another node'] }, { file: T.shared, names: ['a member killed mid-run'] }]
  },
  {
    id: 'shared-not-resent-on-resume',
    claim: 'shared-not-resent-on-resume',
    file: 'src/aedes/shared-members.ts',
    what: "a shared delivery's packet identifier is stored in the member's session",
    find: '    if (isSharedDelivery(client, packet)) return\n',
    replace: '',
    tests: [{ file: T.shared, names: ['a persistent member killed with messages unacknowledged'] }]
  },
  {
    id: 'shared-node-death',
    claim: 'shared-node-death',
    file: 'src/routing/dead-members.ts',
    what: "a dead node's journal is not read for its shared group messages",
    find: '        this.#deps.redispatch({ ...m, share: m.share })\n',
    replace: '',
    tests: [{ file: T.sharedNodeDeath }]
  },
  {
    id: 'shared-node-death-unheard',
    claim: 'shared-node-death',
    file: 'src/routing/cluster.ts',
    what: 'a shared message sent to an inbox nobody listens on is not given to another member',
    find: 'if (err === undefined && receivers === 0 && record.qos > 0 && s.hops + 1 < MAX_HOPS && this.#closing === undefined) {',
    replace: 'if (err === undefined && receivers < 0 && record.qos > 0 && s.hops + 1 < MAX_HOPS && this.#closing === undefined) {',
    tests: [{ file: T.sharedNodeDeath }],
    note: 'a race (a publish between the reaper\'s journal read and the publisher\'s node learning of the death): survived the first pass, caught in the second'
  },
  {
    id: 'shared-dead-inbox',
    claim: 'shared-dead-inbox',
    file: 'src/routing/cluster.ts',
    what: 'a shared message whose inbox nobody heard may be given to the same node again',
    find: 'this.#shared.redispatch(s.group, s.filter, message, s.hash, s.hops + 1, s.target)',
    replace: 'this.#shared.redispatch(s.group, s.filter, message, s.hash, s.hops + 1)',
    tests: [{ file: T.sharedNodeDeath, names: ['with a hash strategy'] }]
  },
  {
    id: 'shared-node-death-pending',
    claim: 'shared-node-death',
    file: 'src/routing/outbox.ts',
    what: 'the frame pending for a member that is dropped is settled unsent (not journaled, nobody told it was unheard)',
    find: '    this.#pending.delete(memberId)\n    this.#sendFrame(memberId, p)\n',
    replace: '    this.#pending.delete(memberId)\n    for (const settle of p.settle) settle()\n',
    tests: [{ file: T.outbox }, { file: T.sharedNodeDeath }]
  },
  {
    id: 'shared-offline-no-member',
    claim: 'shared-offline-no-member',
    file: 'src/sessions/subscriptions.ts',
    what: 'a parked session holds routes for its $share subscriptions',
    find: "      if (sub.topic.startsWith('$share/')) continue\n",
    replace: '',
    tests: [{ file: T.promisesShared, names: ['is no member: the other members get every message and nothing is queued'] }],
    note: 'equivalent: a `$share/...` filter held as an ordinary route matches no published topic'
  },
  {
    id: 'shared-qos0-at-most-once',
    claim: 'shared-qos0-at-most-once',
    file: 'src/aedes/shared-members.ts',
    what: 'QoS 0 shared deliveries are tracked and redispatched when their member leaves',
    find: '      if (qos > 0) track(client, { member, message: packet as unknown as Message })',
    replace: '      track(client, { member, message: packet as unknown as Message })',
    tests: [{ file: T.promisesShared, names: ['are at most once: what a member that leaves was sent at QoS 0'] }]
  },  // Wills on DISCONNECT, admin view, exits
  {
    id: 'will-deleted-on-disconnect',
    claim: 'will-deleted-on-disconnect',
    file: 'lua/session-close.lua',
    what: 'parking a persistent session keeps its will',
    find: "rcall('DEL', KEYS[6])\nrcall('HSET', KEYS[1], 'parked', '1')",
    replace: "rcall('HSET', KEYS[1], 'parked', '1')",
    tests: [{ file: T.brokerCluster, names: ['GET /sessions/<client id> shows a session', 'the will is discarded after DISCONNECT'] }]
  },
  {
    id: 'will-deleted-on-disconnect-del',
    claim: 'will-deleted-on-disconnect',
    file: 'src/sessions/wills.ts',
    what: "aedes' delete of the will after DISCONNECT deletes nothing on Redis",
    find: "    const result = await this.#ctx.scripts.session(client.id).put(this.#owners.epochOf(client), 'will', 'clear')\n",
    replace: "    const result = 'stale' as string\n",
    tests: [{ file: T.brokerCluster, names: ['GET /sessions/<client id> shows a session', 'the will is discarded after DISCONNECT'] }],
    note: 'equivalent: the close script deletes the will of a parked session anyway (the mutation of that is killed)'
  },
  {
    id: 'admin-session-view',
    claim: 'admin-session-view',
    file: 'src/sessions/describe.ts',
    what: 'GET /sessions/<id> shows only sessions owned by the node asked',
    find: '  if (meta.owner === undefined) return undefined',
    replace: '  if (meta.owner !== links.memberId()) return undefined',
    tests: [{ file: T.brokerCluster, names: ['GET /sessions/<client id> shows a session'] }, { file: T.admin, names: ['`slotmq admin session` shows a session held on another node'] }]
  },
  {
    id: 'exit-status',
    claim: 'exit-status',
    file: 'src/main.ts',
    what: 'an invalid configuration exits 1',
    find: "  process.stderr.write(lines.join('\\n') + '\\n')\n  return EXIT_CONFIG\n}",
    replace: "  process.stderr.write(lines.join('\\n') + '\\n')\n  return 1\n}",
    tests: [{ file: T.cli, names: ['invalid configuration exits 2 and names every bad key'] }]
  },
  {
    id: 'auth-bad-file-exit-2',
    claim: 'auth-bad-file-exit-2',
    file: 'src/main.ts',
    what: 'a bad auth file at start-up exits 1 like any start-up failure',
    find: '    if (err instanceof BrokerError && err.code === ERR.AUTH_FILE) return reportStartupError(err)\n',
    replace: '',
    tests: [{ file: T.auth, names: ['a bad auth file at start-up exits 2'] }]
  },
  {
    id: 'shutdown-exit-0',
    claim: 'shutdown-exit-0',
    file: 'src/main.ts',
    what: 'a stop that does not finish within shutdown.timeoutMs exits 0',
    find: '    process.exit(1)\n',
    replace: '    process.exit(0)\n',
    tests: [{ file: T.promisesAdmin, names: ['a node that cannot finish a graceful stop'] }]
  },
  {
    id: 'shutdown-exit-0-close',
    claim: 'shutdown-exit-0',
    file: 'src/main.ts',
    what: 'SIGTERM exits at once without closing the broker (clients are not closed)',
    find: '  timer.unref()\n  await broker.close()\n',
    replace: '  timer.unref()\n',
    tests: [{ file: T.cli, names: ['exits 0 on SIGTERM'] }, { file: T.promisesWills, names: ['SIGTERM: the node closes its clients'] }]
  },
  // TLS
  {
    id: 'tls-config-error',
    claim: 'tls-config-error',
    file: 'src/config.ts',
    what: 'a TLS port without certificate and key is not a configuration error',
    find: "      if (values.has(key) && values.get(key) === undefined) problems.push(`${key}: required when ${enabled.join(' and ')} is set`)",
    replace: "      if (values.has(key) && values.get(key) === null) problems.push(`${key}: required when ${enabled.join(' and ')} is set`)",
    tests: [{ file: T.tls, names: ['a TLS port without certificate and key is a configuration error'] }]
  },
  {
    id: 'tls-bad-files-stop',
    claim: 'tls-bad-files-stop',
    file: 'src/listeners/tls-credentials.ts',
    what: 'the start-up error for a certificate file without a certificate does not name the file',
    find: '`TLS certificate file ${files.certFile} holds no PEM certificate: ${(err as Error).message}`',
    replace: '`TLS certificate file holds no PEM certificate: ${(err as Error).message}`',
    tests: [{ file: T.tls, names: ['a node whose certificate file holds no certificate does not start and says which file'] }]
  },
  {
    id: 'tls-reload',
    claim: 'tls-reload',
    file: 'src/listeners/tls-credentials.ts',
    what: 'reloaded certificate files are read but not given to the listeners',
    find: '    for (const l of listeners) l(next)\n',
    replace: '',
    tests: [{ file: T.tls, names: ['replaced certificate files are served to new connections'] }]
  },
  {
    id: 'tls-reload-keeps-previous',
    claim: 'tls-reload-keeps-previous',
    file: 'src/listeners/tls-credentials.ts',
    what: 'an unusable certificate set on reload replaces the previous one (with nothing)',
    find: "      opts.log.error({ err: { message: (err as Error).message } }, 'tls certificate not reloaded: keeping the previous one')\n      return\n",
    replace: "      opts.log.error({ err: { message: (err as Error).message } }, 'tls certificate not reloaded: keeping the previous one')\n      next = {}\n",
    tests: [{ file: T.tls, names: ['an unusable certificate on reload is logged and counted, and the previous one stays in use'] }]
  },
  {
    id: 'tls-client-cert-required',
    claim: 'tls-client-cert-required',
    file: 'src/listeners/tls.ts',
    what: 'a client certificate is asked for but not required',
    find: '    rejectUnauthorized: opts.clientCertAuth,',
    replace: '    rejectUnauthorized: false,',
    tests: [{ file: T.tls, names: ['a client without a certificate is refused during the handshake', 'a client with a certificate from another CA is refused during the handshake'] }]
  },
  {
    id: 'tls-cn-is-user',
    claim: 'tls-cn-is-user',
    file: 'src/listeners/tls.ts',
    what: "the user name is the certificate issuer's CN",
    find: '  const cn: unknown = socket.getPeerCertificate().subject?.CN',
    replace: '  const cn: unknown = socket.getPeerCertificate().issuer?.CN',
    tests: [{ file: T.tls, names: ['connects over mqtts and its CN is its certificate user'] }]
  },
  {
    id: 'tls-handshake-timeout',
    claim: 'tls-handshake-timeout',
    file: 'src/listeners/tls.ts',
    what: 'the TLS handshake timeout is two minutes whatever mqtt.connectTimeoutMs says',
    find: '    handshakeTimeout: opts.handshakeTimeoutMs',
    replace: '    handshakeTimeout: 120_000',
    tests: [{ file: T.tls, names: ['a connection that never completes its TLS handshake is closed by the node'] }]
  },
  // Redis start-up, fallback, doctor
  {
    id: 'spublish-fallback',
    claim: 'spublish-fallback',
    file: 'src/redis/probe.ts',
    what: 'the start-up probe always reports SPUBLISH',
    find: 'sharded: await hasSpublish(a.client, version),',
    replace: 'sharded: await hasSpublish(a.client, version) || true,',
    tests: [{ file: 'test/integration/broker-publish-fallback.test.ts', names: ['the start-up probe finds no SPUBLISH'] }]
  },
  {
    id: 'redis-scheme-hint',
    claim: 'redis-scheme-hint',
    file: 'src/redis/probe.ts',
    what: 'a failed seed gets no scheme hint',
    find: "    return `${a.seed.host}:${a.seed.port}: ${why}${hint === undefined ? '' : ` (${hint})`}`",
    replace: '    return `${a.seed.host}:${a.seed.port}: ${why}`',
    tests: [{ file: 'test/integration/redis-startup.test.ts', names: ['rediss:// against a plain port', 'redis:// against a TLS port'] }]
  },
  {
    id: 'doctor-checks',
    claim: 'doctor-checks',
    file: 'src/redis/doctor.ts',
    what: 'a command refused by the ACL is not reported as missing',
    find: '      if (/NOPERM|no permissions/i.test(message)) missing.push(check)',
    replace: '      if (/NOPERM|no permissions/i.test(message) && check === undefined) missing.push(check)',
    tests: [{ file: 'test/integration/redis-startup.test.ts', names: ['a user without the stream and Lua commands'] }]
  },
  {
    id: 'route-gap-reload',
    claim: 'route-gap-reload',
    file: 'src/routing/peer-sync.ts',
    what: "a gap in a peer's route deltas is queued but never reloaded",
    find: '    state.queued.push({ seq, changes })\n    void this.reload(from)\n',
    replace: '    state.queued.push({ seq, changes })\n',
    tests: [{ file: 'test/unit/route-table.test.ts' }, { file: 'test/integration/scripts/routes.test.ts' }, { file: T.clusterRouting }],
    note: 'unasserted in docs/claims.md: a lost route delta cannot be provoked on purpose'
  },
  {
    id: 'compose-consistent',
    claim: 'compose-consistent',
    file: 'docker-compose.redis.yml',
    what: 'the broker services set an environment variable slotmq does not read',
    find: '  SLOTMQ_REDIS_MODE: cluster\n',
    replace: '  SLOTMQ_REDIS_CLUSTER: "true"\n',
    tests: [{ file: 'test/unit/docker-compose.test.ts' }]
  },
  {
    id: 'connect-timeout',
    claim: 'flood-own-connections',
    file: 'src/broker.ts',
    what: 'aedes gets no connect timeout (silent sockets stay open)',
    find: '    connectTimeout: config.mqtt.connectTimeoutMs,\n',
    replace: '',
    tests: [{ file: 'test/integration/flood.test.ts' }]
  },
  {
    id: 'chaos-counts',
    claim: 'chaos-counts',
    file: 'src/chaos/ledger.ts',
    what: 'a chaos run never counts a lost message',
    find: '    result.lost = this.missing().length',
    replace: '    result.lost = 0',
    tests: [{ file: 'test/unit/chaos-ledger.test.ts' }, { file: 'test/chaos/chaos-subset.test.ts', timeoutMs: 300_000 }]
  },
  {
    id: 'chaos-counts-exit',
    claim: 'chaos-counts',
    file: 'src/chaos/runner.ts',
    what: 'a run that lost an acknowledged message does not fail (only failed checks do)',
    find: '  return r.skipped === undefined && (r.lost > 0 || r.checks.some(c => !c.ok))',
    replace: '  return r.skipped === undefined && r.checks.some(c => !c.ok)',
    tests: [{ file: 'test/unit/chaos-ledger.test.ts' }]
  },
  {
    id: 'bench-bounded',
    claim: 'bench-bounded',
    file: 'src/bench/clients.ts',
    what: 'bench clients connect without a timeout and retry for ever',
    find: '    const client = mqttConnect(url, { reconnectPeriod: 0, connectTimeout: timeoutMs, keepalive: 60, ...rest })',
    replace: '    const client = mqttConnect(url, { reconnectPeriod: 1000, connectTimeout: 600_000, keepalive: 60, ...rest })',
    tests: [{ file: T.bench, names: ['an endpoint that accepts TCP and never answers fails with exit 1 naming it', 'an unreachable endpoint fails with exit 1 naming it'] }]
  }, {
    id: 'seed-unreachable-exits',
    claim: 'seed-unreachable-exits',
    file: 'src/redis/probe.ts',
    what: 'a seed that never answers is reported without the stage it stopped at',
    find: '    const why = a.failure ?? `no answer within ${timeoutMs / 1000} s (${a.stage})`',
    replace: "    const why = a.failure ?? 'no answer'",
    tests: [{ file: 'test/integration/redis-startup.test.ts', names: ['a seed that accepts TCP and never answers'] }]
  },
  {
    id: 'bad-input-one-connection',
    claim: 'bad-input-one-connection',
    file: 'src/client-errors.ts',
    what: 'a connection closed for an oversized packet is counted under another reason',
    find: "  { test: /maximum packet size/, reason: 'packet_too_large', level: 'warn' },",
    replace: "  { test: /maximum size/, reason: 'packet_too_large', level: 'warn' },",
    tests: [{ file: T.badInput, names: ['a packet larger than mqtt.maxPacketSize closes that connection and is counted'] }]
  },
  {
    id: 'limit-packet-size-counted',
    claim: 'limit-packet-size',
    file: 'src/aedes/limits.ts',
    what: 'a connection closed for an oversized packet is not counted as a limit',
    find: '    if (/maximum packet size/.test(err.message)) deps.metrics',
    replace: '    if (/maximum size/.test(err.message)) deps.metrics',
    tests: [{ file: T.limits, names: ['a packet larger than the maximum closes that connection and is counted as a limit'] }]
  },
  {
    id: 'redis-primary-loss-loses-nothing',
    claim: 'redis-primary-loss-loses-nothing',
    file: 'src/redis/client.ts',
    what: 'the redirection budget is far shorter than a failover (100 retries 1 ms apart)',
    find: '      retryDelayOnFailover: 300,',
    replace: '      retryDelayOnFailover: 1,',
    tests: [{ file: T.redisFailover, names: ['primary holding a persistent session'], timeoutMs: 300_000 }],
    note: 'not a break of the promise after all: a write that fails during the failover is not acknowledged, and the publisher sends it again'
  }, {
    id: 'ws-path-404',
    claim: 'ws-path-404',
    file: 'src/listeners/ws.ts',
    what: 'a WebSocket upgrade on any path is accepted',
    find: '    if (path !== WS_PATH) {',
    replace: "    if (path === '/never') {",
    tests: [{ file: 'test/integration/websocket.test.ts', names: ['an upgrade on a path other than /mqtt gets 404'] }]
  },
  {
    id: 'logs-format',
    claim: 'logs-format',
    file: 'src/logger.ts',
    what: "levels are written as pino's numbers, not labels",
    find: '    formatters: { level: (label: string) => ({ level: label }) }',
    replace: '    formatters: {}',
    tests: [{ file: 'test/integration/logs.test.ts', names: ['JSON lines with level labels when standard output is a pipe', 'every line has its level as a label'] }]
  },
  {
    id: 'admin-clients-cluster',
    claim: 'admin-clients-cluster',
    file: 'src/admin/node-admin.ts',
    what: 'a node lists its clients without their addresses',
    find: '        remote: peerOf(c),',
    replace: '        remote: undefined,',
    tests: [{ file: T.admin, names: ['GET /admin/clients on any node lists the clients of every node'] }]
  },
  {
    id: 'admin-clients-cluster-cap',
    claim: 'admin-clients-cluster',
    file: 'src/admin/node-admin.ts',
    what: 'a node lists all its clients whatever the limit',
    find: '      clients: all.slice(0, limit).map(c => ({',
    replace: '      clients: all.map(c => ({',
    tests: [{ file: T.admin, names: ['GET /admin/clients on any node lists the clients of every node'] }, { file: 'test/integration/admin-clients.test.ts' }]
  }
]
