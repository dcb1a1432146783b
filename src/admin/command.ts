/**
 * `slotmq admin`: the admin API from the command line. Prints the answer as a table (or,
 * with --json, the JSON the API sent); exit status 0 when the node said yes, 1 when it
 * said no (or could not be reached), 2 for bad usage.
 */
import { parseArgs } from 'node:util'
import { parseArgsMessage } from '../did-you-mean.js'
import { BrokerError, ERR } from '../errors.js'
import { DEFAULT_LIMIT, MAX_LIMIT } from './cluster-clients.js'
import { actionLine, clientsTable, nodesTable, sessionView } from './tables.js'

export const ADMIN_HELP = `Usage: slotmq admin COMMAND [options]

Commands:
  nodes                 live nodes, with lease age and their latest statistics
  clients               clients connected to every node of the cluster (asked of the
                        node at --url, which asks the others)
  session CLIENT_ID     one session: owner, epoch, subscriptions, queue length, will
  kick CLIENT_ID        close that client's connection, on whichever node it is (no will)
  drain [NODE]          drain the node at --url, or NODE (member id or node id): stop
                        accepting, disconnect its clients in batches, hand over, exit

Options:
  --url URL             a node's HTTP address (env SLOTMQ_ADMIN_URL, default http://127.0.0.1:8888)
  --token TOKEN         the nodes' admin.token (env SLOTMQ_ADMIN_TOKEN; prefer the variable)
  --limit N             clients: at most N clients listed per node (default ${DEFAULT_LIMIT})
  --json                print the API's JSON answer instead of a table
  -h, --help            show this help
`

export interface AdminCommandIo {
  env: Record<string, string | undefined>
  out: (text: string) => void
  err: (text: string) => void
}

export async function adminCommand (args: string[], io: AdminCommandIo): Promise<number> {
  let parsed
  const options = { url: { type: 'string' }, token: { type: 'string' }, limit: { type: 'string' }, json: { type: 'boolean' }, help: { type: 'boolean', short: 'h' } } as const
  try {
    parsed = parseArgs({ args, options, allowPositionals: true, strict: true })
  } catch (err) {
    throw new BrokerError(ERR.USAGE, parseArgsMessage(err, options), { cause: err })
  }
  const { values, positionals } = parsed
  if (values.help === true) {
    io.out(ADMIN_HELP)
    return 0
  }
  if (positionals.length === 0) throw new BrokerError(ERR.USAGE, 'missing command: slotmq admin nodes|clients|session|kick|drain [options]')
  const [command, arg, extra] = positionals
  const id = (what: string): string => {
    if (arg === undefined || arg === '') throw new BrokerError(ERR.USAGE, `admin ${command ?? ''} needs a ${what}`)
    return encodeURIComponent(arg)
  }
  if (extra !== undefined) throw new BrokerError(ERR.USAGE, `unexpected argument '${extra}'`)
  let method = 'GET'
  let path: string
  switch (command) {
    case 'nodes': path = '/admin/nodes'; break
    case 'clients': path = `/admin/clients?limit=${limit(values.limit)}`; break
    case 'session': path = `/admin/sessions/${id('client id')}`; break
    case 'kick': method = 'POST'; path = `/admin/clients/${id('client id')}/kick`; break
    case 'drain': method = 'POST'; path = arg === undefined ? '/admin/drain' : `/admin/nodes/${id('node')}/drain`; break
    default: throw new BrokerError(ERR.USAGE, `unknown admin command '${command ?? ''}'`)
  }
  const base = values.url ?? io.env.SLOTMQ_ADMIN_URL ?? 'http://127.0.0.1:8888'
  let url: URL
  try {
    url = new URL(path, base)
  } catch {
    throw new BrokerError(ERR.USAGE, `--url ${base} is not a URL`)
  }
  const token = values.token ?? io.env.SLOTMQ_ADMIN_TOKEN
  let res: Response
  try {
    res = await fetch(url, { method, headers: token === undefined ? {} : { authorization: `Bearer ${token}` }, signal: AbortSignal.timeout(10_000) })
  } catch (err) {
    io.err(`slotmq admin: ${url.origin} did not answer: ${(err as Error).cause instanceof Error ? ((err as Error).cause as Error).message : (err as Error).message}\n`)
    return 1
  }
  const text = await res.text()
  let body: unknown = text
  try {
    body = JSON.parse(text)
  } catch {}
  if (!res.ok) {
    const reason = typeof body === 'object' && body !== null && 'error' in body ? String((body as { error: unknown }).error) : text.trim()
    io.err(`slotmq admin: ${res.status} ${res.statusText}: ${values.json === true ? JSON.stringify(body, null, 2) : reason}\n`)
    return 1
  }
  if (values.json === true || typeof body === 'string') {
    io.out(typeof body === 'string' ? body : JSON.stringify(body, null, 2) + '\n')
    return 0
  }
  switch (command) {
    case 'nodes': io.out(nodesTable(body)); break
    case 'clients': io.out(clientsTable(body)); break
    case 'session': io.out(sessionView(body)); break
    default: io.out(actionLine(command === 'kick' ? 'kick' : 'drain', body))
  }
  return 0
}

function limit (value: string | undefined): number {
  if (value === undefined) return DEFAULT_LIMIT
  const n = Number(value)
  if (value === '' || !Number.isInteger(n) || n < 0 || n > MAX_LIMIT) throw new BrokerError(ERR.USAGE, `--limit must be a whole number from 0 to ${MAX_LIMIT}, not '${value}'`)
  return n
}
