/**
 * Command line: `slotmq [start] [options]`, `slotmq help`, `slotmq version`.
 * Every setting has a flag named after it (see SETTINGS in config.ts).
 */
import { parseArgs } from 'node:util'
import { SETTINGS } from './config.js'
import { closest, parseArgsMessage } from './did-you-mean.js'
import { BrokerError, ERR } from './errors.js'

export type Command = 'start' | 'help' | 'version'

export interface CommandLine {
  command: Command
  configFile: string | undefined
  flags: Record<string, string | undefined>
}

const COMMANDS: readonly Command[] = ['start', 'help', 'version']
/** Every command main.ts knows, for "did you mean". */
const ALL_COMMANDS = [...COMMANDS, 'admin', 'users', 'bench', 'chaos', 'doctor']

export function parseCommandLine (argv: readonly string[]): CommandLine {
  const options: Record<string, { type: 'string' | 'boolean', short?: string }> = {
    config: { type: 'string', short: 'c' },
    help: { type: 'boolean', short: 'h' },
    version: { type: 'boolean', short: 'v' }
  }
  for (const s of SETTINGS) options[s.flag] = { type: 'string' }

  let parsed
  try {
    parsed = parseArgs({ args: [...argv], options, allowPositionals: true, strict: true })
  } catch (err) {
    throw new BrokerError(ERR.USAGE, parseArgsMessage(err, options), { cause: err })
  }
  const { values, positionals } = parsed
  if (positionals.length > 1) {
    throw new BrokerError(ERR.USAGE, `unexpected argument '${positionals[1] ?? ''}'`)
  }
  const name = positionals[0] ?? 'start'
  if (!(COMMANDS as readonly string[]).includes(name)) {
    const match = closest(name, ALL_COMMANDS)
    throw new BrokerError(ERR.USAGE, `unknown command '${name}'${match === undefined ? '' : `; did you mean ${match}?`}`)
  }
  const command: Command = values.help === true ? 'help' : values.version === true ? 'version' : name as Command
  const flags: Record<string, string | undefined> = {}
  for (const s of SETTINGS) {
    const v = values[s.flag]
    if (typeof v === 'string') flags[s.flag] = v
  }
  const configFile = typeof values.config === 'string' ? values.config : undefined
  return { command, configFile, flags }
}

export function helpText (): string {
  const rows = SETTINGS.map(s => {
    const def = s.default !== undefined ? JSON.stringify(s.default) : s.key === 'nodeId' ? '(generated)' : '(unset)'
    return `  --${s.flag} VALUE\n      ${s.description}\n      env ${s.env}, file key "${s.key}", default ${def}`
  })
  return [
    'slotmq: an MQTT 3.1/3.1.1 broker that scales out on Redis Cluster',
    '',
    'Usage:',
    '  slotmq [start] [options]   start a broker node (standalone when no Redis is configured)',
    '  slotmq bench ...           load generator and broker comparison (slotmq bench --help)',
    '  slotmq chaos ...           fault scenarios on a local Redis Cluster and nodes (slotmq chaos --help)',
    '  slotmq admin nodes|clients|session|kick|drain ...',
    '                             the admin API of a running cluster, as tables or --json (slotmq admin --help)',
    '  slotmq users add|remove|list ...',
    '                             MQTT users in the auth file or in Redis (slotmq users --help)',
    '  slotmq doctor --redis URL  check a Redis deployment before first use (slotmq doctor --help)',
    '  slotmq help                show this help',
    '  slotmq version             print the version',
    '',
    'Options:',
    '  -c, --config FILE',
    '      JSON configuration file (keys as in config/default.json)',
    ...rows,
    '  -h, --help',
    '  -v, --version',
    '',
    'Precedence: defaults < config file < environment variables < flags.',
    'SIGHUP reloads the auth file (it is also reloaded when it changes).',
    'Exit status: 0 after a clean shutdown (SIGTERM, SIGINT), 1 when the node cannot run',
    '(for example a port in use), 2 for invalid configuration or usage.',
    ''
  ].join('\n')
}
