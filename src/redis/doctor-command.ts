/**
 * `slotmq doctor --redis URL`: the command line of the Redis check (doctor.ts).
 * Exit status 0 when slotmq can use the deployment as it is, 1 when something is missing,
 * 2 for a usage error.
 */
import { readFileSync } from 'node:fs'
import { parseArgs } from 'node:util'
import { BrokerError, ERR } from '../errors.js'
import { runDoctor } from './doctor.js'

export const DOCTOR_HELP = [
  'Usage: slotmq doctor --redis URL [options]',
  '',
  'Checks a Redis deployment before slotmq first uses it: that it answers (with a hint when',
  'the scheme is wrong: redis:// against TLS, rediss:// against a plain port), the version,',
  'cluster or single server and the slots served, SPUBLISH, every command slotmq sends',
  '(allowed for the user on the key prefix, tried on throw-away keys that are deleted),',
  'and the PING round trip to each primary. Prints one line per check.',
  '',
  'Options (each also read from the environment variable of the same broker setting):',
  '  --redis URL[,URL...]         seeds: host:port, redis://[user:password@]host:port or rediss://… (SLOTMQ_REDIS)',
  '  --redis-username USER        ACL user (SLOTMQ_REDIS_USERNAME)',
  '  --redis-password PASSWORD    prefer SLOTMQ_REDIS_PASSWORD in the environment',
  '  --redis-prefix PREFIX        key prefix the broker will use (SLOTMQ_REDIS_PREFIX)',
  '  --redis-tls-ca-file FILE     PEM CAs for rediss:// (SLOTMQ_REDIS_TLS_CA_FILE)',
  '  --json                       the checks as JSON',
  '  -h, --help',
  '',
  'Exit status: 0 every check passed, 1 something is missing or unreachable, 2 usage.',
  ''
].join('\n')

export interface DoctorIo {
  env: Record<string, string | undefined>
  out: (text: string) => void
}

export async function doctorCommand (args: string[], io: DoctorIo): Promise<number> {
  let values
  try {
    values = parseArgs({
      args,
      options: {
        redis: { type: 'string' },
        'redis-username': { type: 'string' },
        'redis-password': { type: 'string' },
        'redis-prefix': { type: 'string' },
        'redis-tls-ca-file': { type: 'string' },
        json: { type: 'boolean' },
        help: { type: 'boolean', short: 'h' }
      },
      strict: true
    }).values
  } catch (err) {
    throw new BrokerError(ERR.USAGE, (err as Error).message, { cause: err })
  }
  if (values.help === true) {
    io.out(DOCTOR_HELP)
    return 0
  }
  const seeds = (values.redis ?? io.env.SLOTMQ_REDIS ?? '').split(',').map(s => s.trim()).filter(s => s !== '')
  if (seeds.length === 0) throw new BrokerError(ERR.USAGE, 'give the Redis to check: --redis URL (or SLOTMQ_REDIS)')
  const caFile = values['redis-tls-ca-file'] ?? io.env.SLOTMQ_REDIS_TLS_CA_FILE
  let ca: Buffer | undefined
  if (caFile !== undefined) {
    try {
      ca = readFileSync(caFile)
    } catch (err) {
      throw new BrokerError(ERR.USAGE, `cannot read ${caFile}: ${(err as Error).message}`, { cause: err })
    }
  }
  const checks = await runDoctor({
    seeds,
    username: values['redis-username'] ?? io.env.SLOTMQ_REDIS_USERNAME,
    password: values['redis-password'] ?? io.env.SLOTMQ_REDIS_PASSWORD,
    keyPrefix: values['redis-prefix'] ?? io.env.SLOTMQ_REDIS_PREFIX ?? '',
    tlsCaFile: ca
  })
  const ok = checks.every(c => c.ok)
  if (values.json === true) {
    io.out(JSON.stringify({ ok, checks }, null, 2) + '\n')
  } else {
    const lines = checks.map(c => `${c.ok ? 'ok     ' : 'PROBLEM'}  ${c.name.padEnd(8)}  ${c.detail}`)
    lines.push(ok ? 'slotmq can use this Redis.' : `${checks.filter(c => !c.ok).length} problem(s): see the lines marked PROBLEM.`)
    io.out(lines.join('\n') + '\n')
  }
  return ok ? 0 : 1
}
