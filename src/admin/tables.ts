/**
 * How `slotmq admin` shows the admin API's answers without --json: aligned tables for
 * lists, one field per line for a session, a sentence for kick and drain.
 */

type Row = Record<string, unknown>

/** Columns padded to their widest cell, two spaces apart; no trailing spaces. */
export function table (headers: readonly string[], rows: ReadonlyArray<readonly string[]>): string {
  const widths = headers.map((h, i) => Math.max(h.length, ...rows.map(r => (r[i] ?? '').length)))
  const line = (cells: readonly string[]): string => cells.map((c, i) => c.padEnd(widths[i] ?? 0)).join('  ').trimEnd()
  return [line(headers), ...rows.map(line)].join('\n') + '\n'
}

const text = (v: unknown): string => v === undefined || v === null ? '-' : String(v)
const seconds = (ms: unknown): string => typeof ms === 'number' ? `${(ms / 1000).toFixed(1)} s` : '-'
const duration = (sec: unknown): string => {
  if (typeof sec !== 'number') return '-'
  const h = Math.floor(sec / 3600)
  const m = Math.floor((sec % 3600) / 60)
  return h > 0 ? `${h}h${String(m).padStart(2, '0')}m` : m > 0 ? `${m}m${String(sec % 60).padStart(2, '0')}s` : `${sec}s`
}
const mqttVersion = (v: unknown): string => v === 3 ? '3.1' : v === 4 ? '3.1.1' : text(v)

/** GET /admin/nodes */
export function nodesTable (body: unknown): string {
  const nodes = Array.isArray(body) ? body as Row[] : []
  const rows = nodes.map(n => {
    const s = (n.stats ?? {}) as Row
    const state = [n.self === true ? 'this node' : '', s.draining === true ? 'draining' : ''].filter(x => x !== '').join(', ')
    return [text(n.memberId), text(n.nodeId), seconds(n.leaseAgeMs), text(s.clients), text(s.subscriptions), text(s.messagesReceived), text(s.messagesSent), duration(s.uptimeSec), text(s.version), state]
  })
  return table(['MEMBER ID', 'NODE ID', 'LEASE AGE', 'CLIENTS', 'SUBSCRIPTIONS', 'MSGS IN', 'MSGS OUT', 'UPTIME', 'VERSION', 'STATE'], rows) +
    `${nodes.length} node${nodes.length === 1 ? '' : 's'}\n`
}

/** GET /admin/clients (every node's clients; see cluster-clients.ts) */
export function clientsTable (body: unknown): string {
  const b = (body ?? {}) as { nodes?: Row[], clients?: Row[] }
  const nodes = b.nodes ?? []
  const clients = b.clients ?? []
  const rows = clients.map(c => [text(c.clientId), text(c.nodeId), text(c.remote), c.clean === true ? 'yes' : 'no', mqttVersion(c.version), text(c.subscriptions), text(c.connectedAt)])
  const notes: string[] = []
  for (const n of nodes) {
    if (n.answered !== true) notes.push(`node ${text(n.nodeId)} (${text(n.memberId)}) did not answer: its clients are not listed`)
    else if (typeof n.connected === 'number' && n.connected > Number(n.listed)) notes.push(`node ${text(n.nodeId)}: ${text(n.listed)} of ${n.connected} clients listed (--limit)`)
  }
  const connected = nodes.reduce((sum, n) => sum + (typeof n.connected === 'number' ? n.connected : 0), 0)
  const summary = `${connected} client${connected === 1 ? '' : 's'} connected to ${nodes.length} node${nodes.length === 1 ? '' : 's'}`
  return table(['CLIENT ID', 'NODE', 'ADDRESS', 'CLEAN', 'MQTT', 'SUBSCRIPTIONS', 'CONNECTED SINCE'], rows) + [summary, ...notes].join('\n') + '\n'
}

/** GET /admin/sessions/<client id>: one field per line. */
export function sessionView (body: unknown): string {
  const fields = Object.entries((body ?? {}) as Row).map(([key, value]) => [key, field(value)] as const)
  const width = Math.max(0, ...fields.map(([k]) => k.length))
  return fields.map(([k, v]) => `${k.padEnd(width)}  ${v}`.trimEnd()).join('\n') + '\n'
}

function field (value: unknown): string {
  if (Array.isArray(value)) {
    if (value.length === 0) return '(none)'
    return value.map(v => {
      const s = v as { topic?: unknown, qos?: unknown }
      return typeof s === 'object' && s !== null && 'topic' in s ? `${String(s.topic)} (QoS ${text(s.qos)})` : typeof v === 'object' ? JSON.stringify(v) : String(v)
    }).join(', ')
  }
  if (typeof value === 'object' && value !== null) return JSON.stringify(value)
  return text(value)
}

/** POST …/kick and …/drain */
export function actionLine (command: 'kick' | 'drain', body: unknown): string {
  const b = (body ?? {}) as Row
  return command === 'kick'
    ? `kicked ${text(b.kicked)}: its connection on ${text(b.node)} is closed (no will published)\n`
    : `draining ${text(b.draining)}\n`
}
