/**
 * Usage errors look the same in every command: exit status 2, nothing on stdout, the
 * reason and where to find help on stderr. An empty value is one of them, a missing
 * subcommand is one, and an unknown option or command names the closest known one.
 */
import { describe, test } from 'node:test'
import assert from 'node:assert/strict'
import { runSlotmq, type CommandRun } from '../helpers/process.js'

function assertUsageError (r: CommandRun, reason: RegExp, help: string): void {
  assert.equal(r.code, 2, `exit status 2: ${r.stderr}`)
  assert.equal(r.stdout, '', 'nothing on stdout')
  assert.match(r.stderr, reason)
  assert.ok(r.stderr.includes(help), `stderr points to ${help}: ${r.stderr}`)
}

describe('usage errors', { timeout: 300_000 }, () => {
  test('an empty --mqtt-port is a usage error, not a random port', async () => {
    const r = await runSlotmq(['start', '--mqtt-port', '', '--http-port', 'off', '--ws-port', 'off'])
    assert.equal(r.code, 2, r.stderr)
    assert.match(r.stderr, /mqtt\.port \(flag --mqtt-port\): empty value/)
  })

  for (const [command, help] of [['admin', 'slotmq admin --help'], ['users', 'slotmq users --help'], ['bench', 'slotmq bench --help']] as const) {
    test(`slotmq ${command} without a subcommand exits 2 with its usage on stderr`, async () => {
      assertUsageError(await runSlotmq([command]), new RegExp(`missing (command|scenario): slotmq ${command} \\S+\\|`), help)
      const asked = await runSlotmq([command, '--help'])
      assert.equal(asked.code, 0, asked.stderr)
      assert.ok(asked.stdout.length > 0, 'help asked for goes to stdout')
    })
  }

  test('an unknown option or command names the closest known one', async () => {
    assertUsageError(await runSlotmq(['start', '--mqt-port', '1883']), /unknown option '--mqt-port'; did you mean --mqtt-port\?/, 'slotmq --help')
    assertUsageError(await runSlotmq(['strat']), /unknown command 'strat'; did you mean start\?/, 'slotmq --help')
    assertUsageError(await runSlotmq(['users', 'list', '--auth-fil', 'x.json']), /unknown option '--auth-fil'; did you mean --auth-file\?/, 'slotmq users --help')
    assertUsageError(await runSlotmq(['admin', 'nodes', '--tokn', 'x']), /unknown option '--tokn'; did you mean --token\?/, 'slotmq admin --help')
    assertUsageError(await runSlotmq(['bench', 'p2p', '--durration', '1']), /unknown option '--durration'; did you mean --duration\?/, 'slotmq bench --help')
    assertUsageError(await runSlotmq(['bench', 'fanot']), /unknown scenario 'fanot'.*did you mean fanout\?/, 'slotmq bench --help')
  })

  test('slotmq admin clients --limit takes a whole number only', async () => {
    assertUsageError(await runSlotmq(['admin', 'clients', '--limit', 'all']), /--limit must be a whole number from 0 to 100000, not 'all'/, 'slotmq admin --help')
  })
})
