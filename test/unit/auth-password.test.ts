import { test } from 'node:test'
import assert from 'node:assert/strict'
import { hashPassword, passwordHashProblem, verifyPassword } from '../../src/auth/password.js'

test('a password hash is scrypt with its cost and a fresh salt, and verifies only its password', async () => {
  const a = await hashPassword('correct horse')
  const b = await hashPassword('correct horse')
  assert.match(a, /^scrypt\$16384\$8\$1\$[A-Za-z0-9+/]+=*\$[A-Za-z0-9+/]+=*$/)
  assert.notEqual(a, b, 'two hashes of one password differ by their salt')
  assert.equal(await verifyPassword('correct horse', a), true)
  assert.equal(await verifyPassword('correct horse', b), true)
  assert.equal(await verifyPassword('correct horsE', a), false)
  assert.equal(await verifyPassword('', a), false)
})

test('the password bytes MQTT carries verify against a hash of the same UTF-8 text', async () => {
  const stored = await hashPassword('pässwörd ✓')
  assert.equal(await verifyPassword(Buffer.from('pässwörd ✓', 'utf8'), stored), true)
  assert.equal(await verifyPassword(Buffer.from('pässwörd ✓', 'latin1'), stored), false)
})

test('a hash made with other cost parameters still verifies: the parameters travel with it', async () => {
  const stored = await hashPassword('pw', { N: 1024, r: 4, p: 2 })
  assert.match(stored, /^scrypt\$1024\$4\$2\$/)
  assert.equal(await verifyPassword('pw', stored), true)
})

test('unusable stored hashes are reported when loaded and never verify', async () => {
  assert.equal(passwordHashProblem(await hashPassword('x')), undefined)
  for (const bad of ['plain-text', 'scrypt$1000$8$1$AAAAAAAAAAAAAAAAAAAAAA==$AAAAAAAAAAAAAAAAAAAAAA==', 'scrypt$1073741824$8$1$AAAA$AAAAAAAAAAAAAAAAAAAAAA==', 'bcrypt$2$x']) {
    assert.notEqual(passwordHashProblem(bad), undefined, bad)
    assert.equal(await verifyPassword('x', bad), false, bad)
  }
})
