import { test } from 'node:test'
import assert from 'node:assert/strict'
import { Acl, covers, filterProblem, type AclRule } from '../../src/auth/acl.js'
import { parseAuthFile } from '../../src/auth/auth-file.js'
import { BrokerError } from '../../src/errors.js'

const alice = { username: 'alice', clientId: 'phone-1' }
const anonymous = { username: undefined, clientId: 'sensor-7' }

function rule (r: Partial<AclRule> & Pick<AclRule, 'action' | 'topic'>): AclRule {
  return { permission: 'allow', ...r }
}

test('with no rules every client may publish and subscribe anything but publish to $SYS', () => {
  const acl = new Acl([]).forClient(anonymous)
  assert.equal(acl.mayPublish('a/b'), true)
  assert.equal(acl.maySubscribe('#'), true)
  assert.equal(acl.mayReceive('a/b'), true)
  assert.equal(acl.mayPublish('$SYS/broker/x'), false)
  assert.equal(acl.mayPublish('$SYS'), false)
})

test('once rules exist a client may do only what a rule applying to it allows', () => {
  const acl = new Acl([
    rule({ user: 'alice', action: 'all', topic: 'home/alice/#' }),
    rule({ anonymous: true, action: 'subscribe', topic: 'public/+' }),
    rule({ clientId: 'sensor-7', action: 'publish', topic: 'sensors/7' })
  ])
  const a = acl.forClient(alice)
  assert.equal(a.mayPublish('home/alice/lamp'), true)
  assert.equal(a.mayPublish('home/alice'), true, 'home/alice/# matches its parent level')
  assert.equal(a.mayPublish('home/bob/lamp'), false)
  assert.equal(a.maySubscribe('public/news'), false, 'anonymous rules do not apply to a user')
  const s = acl.forClient(anonymous)
  assert.equal(s.maySubscribe('public/news'), true)
  assert.equal(s.mayPublish('public/news'), false, 'a subscribe rule does not allow publishing')
  assert.equal(s.mayPublish('sensors/7'), true)
  assert.equal(s.maySubscribe('sensors/7'), false, 'a publish rule does not allow subscribing')
  assert.equal(acl.forClient({ username: undefined, clientId: 'sensor-8' }).mayPublish('sensors/7'), false)
})

test('a subscription is granted only when an allowed filter covers all of it', () => {
  const acl = new Acl([rule({ action: 'subscribe', topic: 'a/+/c/#' })]).forClient(anonymous)
  assert.equal(acl.maySubscribe('a/b/c/d'), true)
  assert.equal(acl.maySubscribe('a/+/c/#'), true)
  assert.equal(acl.maySubscribe('a/b/c'), true)
  assert.equal(acl.maySubscribe('a/#'), false)
  assert.equal(acl.maySubscribe('a/b/+'), false)
  assert.equal(acl.maySubscribe('#'), false)
})

test('a deny rule wins over allow rules, and partly denied wildcards are filtered on delivery', () => {
  const acl = new Acl([
    rule({ action: 'all', topic: '#' }),
    rule({ permission: 'deny', action: 'subscribe', topic: 'test/nosubscribe' }),
    rule({ permission: 'deny', action: 'publish', topic: 'readonly/#' })
  ]).forClient(anonymous)
  assert.equal(acl.maySubscribe('test/nosubscribe'), false)
  assert.equal(acl.maySubscribe('test/#'), true, 'the deny rule covers only part of test/#')
  assert.equal(acl.mayReceive('test/nosubscribe'), false)
  assert.equal(acl.mayReceive('test/other'), true)
  assert.equal(acl.mayPublish('test/nosubscribe'), true)
  assert.equal(acl.mayPublish('readonly/x'), false)
  assert.equal(acl.maySubscribe('readonly/x'), true)
})

test('%u and %c stand for the user name and client id, and never for a value that would widen the rule', () => {
  const acl = new Acl([
    rule({ action: 'all', topic: 'users/%u/#' }),
    rule({ action: 'publish', topic: 'clients/%c/status' })
  ])
  const a = acl.forClient(alice)
  assert.equal(a.mayPublish('users/alice/x'), true)
  assert.equal(a.mayPublish('users/bob/x'), false)
  assert.equal(a.mayPublish('clients/phone-1/status'), true)
  assert.equal(a.mayPublish('clients/phone-2/status'), false)
  const anon = acl.forClient(anonymous)
  assert.equal(anon.mayPublish('users//x'), false, 'a %u rule does not apply to anonymous clients')
  assert.equal(anon.mayPublish('clients/sensor-7/status'), true)
  for (const username of ['alice/x', '+', '#']) {
    const sneaky = acl.forClient({ username, clientId: 'c' })
    assert.equal(sneaky.mayPublish('users/alice/x/y'), false, username)
    assert.equal(sneaky.maySubscribe('users/+/x'), false, username)
  }
})

test('[MQTT-4.7.2-1] rules starting with a wildcard do not reach $ topics; a $SYS rule does', () => {
  const acl = new Acl([rule({ action: 'all', topic: '#' }), rule({ user: 'alice', action: 'subscribe', topic: '$SYS/#' })])
  const anon = acl.forClient(anonymous)
  assert.equal(anon.maySubscribe('$SYS/#'), false)
  assert.equal(anon.mayReceive('$SYS/x'), false)
  const a = acl.forClient(alice)
  assert.equal(a.maySubscribe('$SYS/broker/+'), true)
  assert.equal(a.mayReceive('$SYS/x'), true)
  assert.equal(a.mayPublish('$SYS/x'), false, '$SYS is read-only whatever the rules say')
})

test('covers compares two topic filters level by level', () => {
  assert.equal(covers('#', 'a/b'), true)
  assert.equal(covers('a/#', 'a'), true)
  assert.equal(covers('a/+', 'a/#'), false)
  assert.equal(covers('a/+/#', 'a/#'), false)
  assert.equal(covers('a/+', 'a/+'), true)
  assert.equal(covers('a/b', 'a/+'), false)
  assert.equal(covers('a/b', 'a/b/c'), false)
  assert.equal(covers('+/b', '$x/b'), false)
})

test('invalid topic filters in rules are named', () => {
  assert.equal(filterProblem('a/#/b'), '# must be a whole last level')
  assert.equal(filterProblem('a/b+'), '+ must be a whole level')
  assert.equal(filterProblem(''), 'empty topic filter')
  assert.equal(filterProblem('a/+/#'), undefined)
})

test('an auth file with mistakes is refused with every problem listed', () => {
  assert.throws(() => parseAuthFile({
    users: { alice: 'plain' },
    acl: [
      { action: 'read', topic: 'a' },
      { action: 'all', topic: 'a/#/b' },
      { action: 'all', topic: 'a', user: 'alice', clientId: 'c' },
      { action: 'all', topic: 'a', who: 'x' }
    ],
    extra: 1
  }, 'auth.json'), (err: unknown) => {
    assert.ok(err instanceof BrokerError, `a BrokerError: ${String(err)}`)
    assert.equal(err.code, 'ERR_AUTH_FILE')
    const text = err.problems.join('\n')
    assert.match(text, /users\.alice: expected scrypt/)
    assert.match(text, /acl\[0\]\.action/)
    assert.match(text, /acl\[1\]\.topic: # must be a whole last level/)
    assert.match(text, /acl\[2\]: a rule names at most one of user, clientId, anonymous/)
    assert.match(text, /acl\[3\]/)
    assert.match(text, /extra/)
    return true
  })
})

test('a valid auth file gives its users and rules, permission allow by default', () => {
  const data = parseAuthFile({ acl: [{ action: 'subscribe', topic: 'x/#', anonymous: true }] }, 'auth.json')
  assert.equal(data.users.size, 0)
  assert.deepEqual(data.rules, [{ permission: 'allow', action: 'subscribe', topic: 'x/#', anonymous: true }])
})
