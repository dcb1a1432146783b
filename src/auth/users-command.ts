/**
 * `slotmq users add NAME [--password-stdin | --password P] | remove NAME | list`, against
 * the auth file (--auth-file) or the Redis that the brokers share (--redis SEEDS, with the
 * broker's Redis options). Brokers pick the change up without a restart: the file through
 * its watch, Redis through the version they poll.
 */
import { parseArgs } from 'node:util'
import { loadConfig, type Config } from '../config.js'
import { parseArgsMessage } from '../did-you-mean.js'
import { BrokerError, ERR } from '../errors.js'
import { createLogger } from '../logger.js'
import { createRedis } from '../redis/client.js'
import { createKeySpace } from '../redis/keys.js'
import { editAuthFileUsers, readAuthFile } from './auth-file.js'
import { hashPassword } from './password.js'
import { RedisUsers } from './redis-users.js'

export const USERS_HELP = `slotmq users: manage MQTT users (scrypt password hashes)

Usage:
  slotmq users add NAME --password-stdin [target]   add or replace NAME, password read from standard input
  slotmq users add NAME --password P [target]       the same, password on the command line (visible to ps)
  slotmq users remove NAME [target]                 remove NAME
  slotmq users list [target]                        print the user names, one per line

Target (one of):
  --auth-file FILE        the auth file (created when missing; ACL rules in it are kept)
  --redis SEEDS           the Redis the brokers share, with --redis-prefix, --redis-mode,
                          --redis-username, --redis-password as for the broker
Without a flag the target comes from SLOTMQ_AUTH_FILE or SLOTMQ_REDIS (and the other
SLOTMQ_REDIS_* variables). Brokers notice the change without a restart.
`

/** What the command reads and writes outside itself (tests pass their own). */
export interface UsersIo {
  env: Record<string, string | undefined>
  readStdin: () => Promise<string>
  out: (text: string) => void
}

const TARGET_FLAGS = ['auth-file', 'redis', 'redis-prefix', 'redis-mode', 'redis-username', 'redis-password'] as const

function usage (message: string): never {
  throw new BrokerError(ERR.USAGE, message)
}

const USERS_OPTIONS = {
  'auth-file': { type: 'string' },
  redis: { type: 'string' },
  'redis-prefix': { type: 'string' },
  'redis-mode': { type: 'string' },
  'redis-username': { type: 'string' },
  'redis-password': { type: 'string' },
  password: { type: 'string' },
  'password-stdin': { type: 'boolean' },
  help: { type: 'boolean', short: 'h' }
} as const

/** Runs the users command; returns the exit status. Usage errors throw ERR_USAGE. */
export async function usersCommand (args: string[], io: UsersIo): Promise<number> {
  let parsed
  try {
    parsed = parseArgs({ args, allowPositionals: true, strict: true, options: USERS_OPTIONS })
  } catch (err) {
    usage(parseArgsMessage(err, USERS_OPTIONS))
  }
  const { values, positionals } = parsed
  const [action, name, extra] = positionals
  if (values.help === true || action === 'help') {
    io.out(USERS_HELP)
    return 0
  }
  if (action === undefined) usage('missing command: slotmq users add|remove|list [NAME] [options]')
  if (extra !== undefined) usage(`unexpected argument '${extra}'`)
  if (!['add', 'remove', 'list'].includes(action)) usage(`unknown users command '${action}' (add, remove or list)`)
  if (action !== 'list' && (name === undefined || name === '')) usage(`slotmq users ${action} needs a user name`)
  if (action === 'list' && name !== undefined) usage(`unexpected argument '${name}'`)

  const flags: Record<string, string> = {}
  for (const f of TARGET_FLAGS) {
    const v = values[f]
    if (typeof v === 'string') flags[f] = v
  }
  const config = loadConfig({ env: io.env, flags })
  const target = chooseTarget(config, flags)

  let password: string | undefined
  if (action === 'add') {
    if (values.password !== undefined && values['password-stdin'] === true) usage('give --password or --password-stdin, not both')
    password = values['password-stdin'] === true ? stripNewline(await io.readStdin()) : values.password
    if (password === undefined) usage('slotmq users add needs --password-stdin or --password')
    if (password === '') usage('empty password')
  }
  const hash = password === undefined ? undefined : await hashPassword(password)
  const user = name ?? ''

  if (target === 'file') {
    const file = config.auth.file as string
    if (action === 'list') {
      for (const n of [...(await readAuthFile(file)).users.keys()].sort()) io.out(`${n}\n`)
      return 0
    }
    const existed = await editAuthFileUsers(file, (users) => {
      const had = Object.hasOwn(users, user)
      if (hash === undefined) delete users[user]
      else users[user] = hash
      return had
    })
    return report(io, action, user, existed, file)
  }

  const redis = await createRedis(config, { log: createLogger({ level: 'silent', nodeId: 'users' }), memberName: 'users-command' })
  try {
    const store = new RedisUsers(redis.cmd, createKeySpace(config.redis.keyPrefix))
    if (action === 'list') {
      for (const n of await store.names()) io.out(`${n}\n`)
      return 0
    }
    const existed = hash === undefined ? await store.remove(user) : !(await store.set(user, hash))
    return report(io, action, user, existed, 'redis')
  } finally {
    await redis.close()
  }
}

function chooseTarget (config: Config, flags: Record<string, string>): 'file' | 'redis' {
  if (flags['auth-file'] !== undefined && flags.redis !== undefined) usage('give --auth-file or --redis, not both')
  if (flags['auth-file'] !== undefined) return 'file'
  if (flags.redis !== undefined) return 'redis'
  const file = config.auth.file !== undefined
  const redis = config.redis.seeds.length > 0
  if (file && redis) usage('SLOTMQ_AUTH_FILE and SLOTMQ_REDIS are both set: pass --auth-file or --redis')
  if (file) return 'file'
  if (redis) return 'redis'
  usage('no target: pass --auth-file FILE or --redis SEEDS')
}

function report (io: UsersIo, action: string, name: string, existed: boolean, where: string): number {
  if (action === 'remove' && !existed) {
    io.out(`no user ${name} in ${where}\n`)
    return 1
  }
  io.out(`user ${name} ${action === 'remove' ? 'removed from' : existed ? 'updated in' : 'added to'} ${where}\n`)
  return 0
}

/** `echo secret | slotmq users add ...` ends the password with a newline that is not part of it. */
function stripNewline (text: string): string {
  return text.replace(/\r?\n$/, '')
}
