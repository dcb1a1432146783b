import { test } from 'node:test'
import assert from 'node:assert/strict'
import type { Client } from 'aedes'
import { createAuth, CONNACK_BAD_CREDENTIALS, CONNACK_NOT_AUTHORIZED } from '../../src/auth/authenticator.js'
import { readAuthFile } from '../../src/auth/auth-file.js'
import { hashPassword } from '../../src/auth/password.js'
import { createLogger } from '../../src/logger.js'
import { within } from '../helpers/until.js'

const log = createLogger({ level: 'silent', nodeId: 'unit' })
/** What the authenticator reads of an aedes client: its id, and the will from CONNECT. */
const client = (id: string, willTopic?: string): Client => ({ id, _will: willTopic === undefined ? null : { topic: willTopic } }) as unknown as Client

async function subscribeResult (auth: Awaited<ReturnType<typeof createAuth>>, c: Client, topic: string): Promise<unknown> {
  return await within(`authorizeSubscribe(${topic}) to call back`, new Promise(resolve => auth.authorizeSubscribe(c, { topic, qos: 0 }, (_err, sub) => resolve(sub))), 2000)
}

test('a client certificate\'s name stands for the user name: no password needed, its rules apply', async () => {
  const initial = {
    users: new Map([['alice', await hashPassword('pw')]]),
    rules: [{ permission: 'allow' as const, action: 'all' as const, topic: 'home/%u/#' }]
  }
  const auth = await createAuth({
    file: undefined,
    initial,
    anonymous: false,
    log,
    certificateUser: (c) => c.id.startsWith('cert-') ? 'device-7' : undefined
  })
  const certified = client('cert-1')
  assert.equal(await auth.checkCredentials(certified, undefined, undefined), undefined)
  assert.deepEqual(await subscribeResult(auth, certified, 'home/device-7/#'), { topic: 'home/device-7/#', qos: 0 })
  assert.equal(await subscribeResult(auth, certified, 'home/alice/#'), null)
  assert.equal(await auth.checkCredentials(client('plain-1'), undefined, undefined), CONNACK_NOT_AUTHORIZED)
  assert.equal(await auth.checkCredentials(client('plain-2'), 'alice', Buffer.from('nope')), CONNACK_BAD_CREDENTIALS)
  assert.equal(await auth.checkCredentials(client('plain-3'), 'alice', Buffer.from('pw')), undefined)
  auth.close()
})

test('without a certificate option every client is judged by its user name and password', async () => {
  const auth = await createAuth({ file: undefined, anonymous: true, log })
  assert.equal(await auth.checkCredentials(client('a'), undefined, undefined), undefined)
  assert.equal(await auth.checkCredentials(client('b'), 'ghost', Buffer.from('x')), CONNACK_BAD_CREDENTIALS)
  auth.close()
})

test('a will the client may not publish refuses the CONNECT with 0x05, $SYS wills included', async () => {
  const auth = await createAuth({
    file: undefined,
    initial: { users: new Map(), rules: [{ permission: 'allow', action: 'publish', topic: 'status/%c' }] },
    anonymous: true,
    log
  })
  assert.equal(await auth.checkCredentials(client('dev-1', 'status/dev-1'), undefined, undefined), undefined)
  assert.equal(await auth.checkCredentials(client('dev-2', 'status/dev-1'), undefined, undefined), CONNACK_NOT_AUTHORIZED)
  const open = await createAuth({ file: undefined, anonymous: true, log })
  assert.equal(await open.checkCredentials(client('dev-3', '$SYS/x'), undefined, undefined), CONNACK_NOT_AUTHORIZED)
  auth.close()
  open.close()
})

test('the example auth file in config/ loads: alice\'s password is alice-secret', async () => {
  const auth = await createAuth({ file: 'config/auth.example.json', anonymous: false, log })
  assert.equal(await auth.checkCredentials(client('phone'), 'alice', Buffer.from('alice-secret')), undefined)
  assert.equal((await readAuthFile('config/auth.example.json')).rules.length, 7)
  auth.close()
})
