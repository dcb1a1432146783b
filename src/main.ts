/**
 * Process entry: command line → configuration → logger → broker → signal handling.
 */
import { readFileSync } from 'node:fs'
import { helpText, parseCommandLine, type CommandLine } from './cli.js'
import { loadConfig, redactConfig, type Config } from './config.js'
import { createBroker } from './broker.js'
import { BrokerError, ERR, EXIT_CONFIG } from './errors.js'
import { createLogger } from './logger.js'
import { VERSION } from './version.js'

export async function main (argv: readonly string[], env: Record<string, string | undefined>): Promise<number> {
  if (argv[0] === 'bench') return await bench(argv.slice(1))
  if (argv[0] === 'chaos') return await chaos(argv.slice(1))
  if (argv[0] === 'admin') return await admin(argv.slice(1), env)
  if (argv[0] === 'users') return await users(argv.slice(1), env)
  if (argv[0] === 'doctor') return await doctor(argv.slice(1), env)
  let commandLine: CommandLine
  let config: Config
  try {
    commandLine = parseCommandLine(argv)
    if (commandLine.command === 'help') {
      process.stdout.write(helpText())
      return 0
    }
    if (commandLine.command === 'version') {
      process.stdout.write(`slotmq ${VERSION}\n`)
      return 0
    }
    config = loadConfig({ env, flags: commandLine.flags, ...readConfigFile(commandLine.configFile) })
  } catch (err) {
    return reportStartupError(err)
  }

  // Pretty lines on a terminal, JSON lines otherwise (a pipe, a file, a log collector).
  const log = createLogger({ level: config.log.level, nodeId: config.nodeId, pretty: process.stdout.isTTY })
  log.info({ config: redactConfig(config) }, 'effective configuration')
  let broker
  try {
    broker = await createBroker(config, { log })
  } catch (err) {
    log.fatal({ err }, 'broker failed to start')
    if (err instanceof BrokerError && err.code === ERR.AUTH_FILE) return reportStartupError(err)
    process.stderr.write(`slotmq: ${err instanceof Error ? err.message : String(err)}\n`)
    return err instanceof BrokerError && err.code === ERR.REDIS_MODE ? EXIT_CONFIG : 1
  }

  const reloadAuth = (): void => { void broker.reloadAuth() }
  process.on('SIGHUP', reloadAuth)
  // A drain (asked for over HTTP or by a peer) stops the node by itself: then exit.
  const signal = await new Promise<NodeJS.Signals | 'drained'>(resolve => {
    process.once('SIGTERM', () => resolve('SIGTERM'))
    process.once('SIGINT', () => resolve('SIGINT'))
    void broker.closed.then(() => resolve('drained'))
  })
  process.off('SIGHUP', reloadAuth)
  if (signal === 'drained') {
    log.info('drained: exiting')
    return 0
  }
  log.info({ signal }, 'shutting down')
  const timer = setTimeout(() => {
    log.error({ timeoutMs: config.shutdown.timeoutMs }, 'shutdown timed out')
    process.exit(1)
  }, config.shutdown.timeoutMs)
  timer.unref()
  await broker.close()
  clearTimeout(timer)
  return 0
}

function readConfigFile (path: string | undefined): { file?: unknown, fileName?: string } {
  if (path === undefined) return {}
  let text: string
  try {
    text = readFileSync(path, 'utf8')
  } catch (err) {
    throw new BrokerError(ERR.CONFIG_FILE, `cannot read config file ${path}: ${(err as Error).message}`, { cause: err })
  }
  try {
    return { file: JSON.parse(text), fileName: path }
  } catch (err) {
    throw new BrokerError(ERR.CONFIG_FILE, `config file ${path} is not valid JSON: ${(err as Error).message}`, { cause: err })
  }
}

async function admin (args: string[], env: Record<string, string | undefined>): Promise<number> {
  const { adminCommand } = await import('./admin/command.js')
  try {
    return await adminCommand(args, { env, out: (text) => process.stdout.write(text), err: (text) => process.stderr.write(text) })
  } catch (err) {
    if (!(err instanceof BrokerError)) throw err
    process.stderr.write(`slotmq admin: ${err.message}\nRun \`slotmq admin --help\` for the commands and options.\n`)
    return EXIT_CONFIG
  }
}

async function bench (args: string[]): Promise<number> {
  const { benchCommand } = await import('./bench/command.js')
  try {
    return await benchCommand(args)
  } catch (err) {
    if (!(err instanceof BrokerError)) throw err
    process.stderr.write(`slotmq bench: ${err.message}\n`)
    if (err.code === ERR.USAGE) {
      process.stderr.write('Run `slotmq bench --help` for the scenarios and options.\n')
      return EXIT_CONFIG
    }
    return 1
  }
}

async function chaos (args: string[]): Promise<number> {
  const { chaosCommand } = await import('./chaos/command.js')
  try {
    return await chaosCommand(args)
  } catch (err) {
    if (!(err instanceof BrokerError)) throw err
    process.stderr.write(`slotmq chaos: ${err.message}\n`)
    if (err.code === ERR.USAGE) {
      process.stderr.write('Run `slotmq chaos --help` for the scenarios and options.\n')
      return EXIT_CONFIG
    }
    return 1
  }
}

async function doctor (args: string[], env: Record<string, string | undefined>): Promise<number> {
  const { doctorCommand } = await import('./redis/doctor-command.js')
  try {
    return await doctorCommand(args, { env, out: (text) => process.stdout.write(text) })
  } catch (err) {
    if (!(err instanceof BrokerError)) throw err
    process.stderr.write(`slotmq doctor: ${err.message}\nRun \`slotmq doctor --help\` for the options.\n`)
    return EXIT_CONFIG
  }
}

async function users (args: string[], env: Record<string, string | undefined>): Promise<number> {
  const { usersCommand } = await import('./auth/users-command.js')
  const readStdin = async (): Promise<string> => {
    const chunks: Buffer[] = []
    for await (const chunk of process.stdin) chunks.push(chunk as Buffer)
    return Buffer.concat(chunks).toString('utf8')
  }
  try {
    return await usersCommand(args, { env, readStdin, out: (text) => process.stdout.write(text) })
  } catch (err) {
    if (!(err instanceof BrokerError)) throw err
    const lines = [`slotmq users: ${err.message}`, ...err.problems.map(p => `  - ${p}`)]
    if (err.code === ERR.USAGE) lines.push('Run `slotmq users --help` for the commands and options.')
    process.stderr.write(lines.join('\n') + '\n')
    return err.code === ERR.USAGE || err.code === ERR.CONFIG || err.code === ERR.AUTH_FILE ? EXIT_CONFIG : 1
  }
}

function reportStartupError (err: unknown): number {
  if (!(err instanceof BrokerError)) throw err
  const lines = [`slotmq: ${err.message}`, ...err.problems.map(p => `  - ${p}`)]
  if (err.code === ERR.USAGE) lines.push('Run `slotmq --help` for the options.')
  process.stderr.write(lines.join('\n') + '\n')
  return EXIT_CONFIG
}
