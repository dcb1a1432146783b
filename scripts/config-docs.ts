/**
 * Writes the configuration table into docs/configuration.md (between the config-table
 * markers) and config/default.json from the schema: `npm run docs:config`. A unit test
 * keeps both true.
 */
import { readFileSync, writeFileSync } from 'node:fs'
import { SETTINGS } from '../src/config.js'

const BEGIN = '<!-- config-table:begin -->'
const END = '<!-- config-table:end -->'

export function renderConfigTable (): string {
  const rows = SETTINGS.map(s => {
    const def = s.default === undefined ? '(unset)' : `\`${JSON.stringify(s.default)}\``
    return `| \`${s.key}\` | \`${s.env}\` | \`--${s.flag}\` | ${def} | ${s.description} |`
  })
  return [BEGIN, '| File key | Environment | Flag | Default | Meaning |', '|---|---|---|---|---|', ...rows, END].join('\n')
}

export function renderDefaultConfig (): string {
  const out: Record<string, unknown> = {}
  for (const s of SETTINGS) {
    if (s.default === undefined) continue
    const path = s.key.split('.')
    let node = out
    for (const part of path.slice(0, -1)) node = (node[part] ??= {}) as Record<string, unknown>
    node[path[path.length - 1] as string] = s.default
  }
  return JSON.stringify(out, null, 2) + '\n'
}

if (process.argv.includes('--write')) {
  const docUrl = new URL('../docs/configuration.md', import.meta.url)
  const doc = readFileSync(docUrl, 'utf8')
  const start = doc.indexOf(BEGIN)
  const end = doc.indexOf(END)
  if (start < 0 || end < 0) throw new Error('docs/configuration.md has no config-table markers')
  writeFileSync(docUrl, doc.slice(0, start) + renderConfigTable() + doc.slice(end + END.length))
  writeFileSync(new URL('../config/default.json', import.meta.url), renderDefaultConfig())
}
