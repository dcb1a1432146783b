/**
 * The claims map (docs/claims.md) keeps the behavioural promises of the user documents
 * (USER_DOCS: README and the docs/ pages README links to) tied to what asserts them. A
 * document marks each claim with an HTML comment right after its sentence,
 * `<!-- claim: some-id -->` (`<!-- claim: none -->` for a sentence that looks like a
 * promise and is not one); docs/claims.md has one table row per id, with the document in
 * its Source column, naming tests (`test/....ts` › "test name"), chaos scenarios
 * (chaos `name`), bench scenarios (bench `name`), or `unasserted: why` for a promise
 * nothing checks yet.
 *
 * This file fails when:
 * - a marker has no row in docs/claims.md naming its document, or a row has no marker in
 *   the user document it names (another Source must at least exist);
 * - a row names a test file that does not exist, a test name not found in that file
 *   (a literal part of the name is enough for names built from a template), a chaos
 *   scenario that `slotmq chaos` does not have (src/chaos/scenarios; until that exists,
 *   the scenario list in docs/claims.md), or a bench scenario with no file in
 *   src/bench/scenarios;
 * - a user document has a claim-shaped sentence without a marker. Claim-shaped, kept simple: a
 *   sentence outside code blocks and the generated configuration table that contains
 *   one of PROMISE_WORDS below (inline code is ignored when looking for them).
 */
import { existsSync, readFileSync } from 'node:fs'
import { test } from 'node:test'
import assert from 'node:assert/strict'

const ROOT = new URL('../../', import.meta.url)
const read = (path: string): string => readFileSync(new URL(path, ROOT), 'utf8')

/** The documents whose promises are mapped: every claim-shaped sentence in them needs a marker. */
const USER_DOCS = ['README.md', 'docs/protocol.md', 'docs/cluster.md', 'docs/security.md', 'docs/operations.md', 'docs/configuration.md', 'docs/bench.md', 'docs/testing.md']
/** The document a row's Source column names ('README' is README.md). */
const sourceFile = (source: string): string => source === 'README' ? 'README.md' : source

/** Words that make a sentence a promise: it must carry a claim marker. */
const PROMISE_WORDS: readonly RegExp[] = [
  /\bnever\b/i,
  /\balways\b/i,
  /\bexactly once\b/i,
  /\bat most\b/i,
  /\bat least\b/i,
  /\bwithin\b/i,
  /\bsurvives?\b/i,
  /\bloses nothing\b/i,
  /\bis not lost\b/i,
  /\bno(thing)?\b.*\blost\b/i
]

const MARKER = /<!-- claim: ([a-z0-9-]+) -->/g

interface Row { id: string, source: string, line: string, tests: Array<{ file: string, name: string }>, chaos: string[], bench: string[], unasserted: boolean }

function rows (): Row[] {
  const out: Row[] = []
  for (const line of read('docs/claims.md').split('\n')) {
    const m = /^\| `([a-z0-9-]+)` \| ([^|]+) \|/.exec(line)
    if (m === null) continue
    const cells = line.split(' | ')
    const by = cells[cells.length - 1] ?? ''
    out.push({
      id: m[1] ?? '',
      source: (m[2] ?? '').trim(),
      line,
      tests: [...by.matchAll(/`(test\/[^`]+\.ts)` › "([^"]+)"/g)].map(t => ({ file: t[1] ?? '', name: t[2] ?? '' })),
      chaos: [...by.matchAll(/chaos `([a-z0-9-]+)`/g)].map(c => c[1] ?? ''),
      bench: [...by.matchAll(/bench `([a-z0-9-]+)`/g)].map(c => c[1] ?? ''),
      unasserted: /unasserted:/.test(by)
    })
  }
  return out
}

/** Claim markers in a document (one quoted in inline code is text, not a marker). */
function markersIn (path: string): string[] {
  return [...read(path).replace(/`[^`\n]*`/g, '').matchAll(MARKER)].map(m => m[1] ?? '')
}

/** A document's prose as sentences, each with the claim markers that follow or sit in it. */
function sentences (markdown: string): Array<{ text: string, markers: string[] }> {
  const paragraphs: string[] = []
  let current: string[] = []
  let code = false
  let generated = false
  const flush = (): void => {
    if (current.length > 0) paragraphs.push(current.join(' '))
    current = []
  }
  for (const line of markdown.split('\n')) {
    if (line.includes('config-table:begin')) generated = true
    if (line.includes('config-table:end')) { generated = false; continue }
    if (line.trimStart().startsWith('```')) { code = !code; flush(); continue }
    if (code || generated) continue
    if (line.trim() === '' || /^\s*(- |\d+\. |\||#)/.test(line)) flush()
    if (line.trim() !== '') current.push(line.trim())
  }
  flush()
  const out: Array<{ text: string, markers: string[] }> = []
  for (const paragraph of paragraphs) {
    // Dots inside inline code do not end a sentence.
    const masked = paragraph.replace(/`[^`]*`/g, m => m.replace(/[.!?]/g, '\u2024'))
    for (const piece of masked.split(/(?<=[.!?)|])\s+(?=[A-Z`([*<|])/)) {
      const leading = /^(\s*<!-- claim: [a-z0-9-]+ -->)+/.exec(piece)?.[0] ?? ''
      const previous = out[out.length - 1]
      if (leading !== '' && previous !== undefined) previous.markers.push(...[...leading.matchAll(MARKER)].map(m => m[1] ?? ''))
      const rest = piece.slice(leading.length)
      if (rest.trim() === '') continue
      out.push({ text: rest, markers: [...rest.replace(/`[^`]*`/g, '').matchAll(MARKER)].map(m => m[1] ?? '') })
    }
  }
  return out
}

function claimShaped (text: string): boolean {
  const prose = text.replace(/`[^`]*`/g, '').replace(/<!--.*?-->/g, '')
  return PROMISE_WORDS.some(w => w.test(prose))
}

async function chaosScenarios (): Promise<{ names: Set<string>, from: string }> {
  const index = new URL('src/chaos/scenarios/index.ts', ROOT)
  if (existsSync(index)) {
    const { SCENARIOS } = await import(index.href) as { SCENARIOS: ReadonlyArray<{ name: string }> }
    return { names: new Set(SCENARIOS.map(s => s.name)), from: 'src/chaos/scenarios' }
  }
  const list = read('docs/claims.md').split('## Chaos scenarios')[1] ?? ''
  return { names: new Set([...list.matchAll(/^- `([a-z0-9-]+)`/gm)].map(m => m[1] ?? '')), from: 'the scenario list in docs/claims.md' }
}

test('every claim marked in a user document has a row naming that document, and every row a marker there', () => {
  const all = rows()
  const problems: string[] = []
  for (const doc of USER_DOCS) {
    const marked = new Set(markersIn(doc).filter(id => id !== 'none'))
    for (const id of marked) {
      const row = all.find(r => r.id === id)
      if (row === undefined) problems.push(`${doc}: marker ${id} has no row in docs/claims.md`)
      else if (sourceFile(row.source) !== doc) problems.push(`${doc}: marker ${id}, but its row names ${row.source}`)
    }
    for (const row of all.filter(r => sourceFile(r.source) === doc)) {
      if (!marked.has(row.id)) problems.push(`${row.id}: its row names ${row.source}, which has no marker for it`)
    }
  }
  for (const row of all.filter(r => !USER_DOCS.includes(sourceFile(r.source)))) {
    if (!existsSync(new URL(sourceFile(row.source), ROOT))) problems.push(`${row.id}: no document ${row.source}`)
  }
  assert.deepEqual(problems, [])
  assert.equal(new Set(all.map(r => r.id)).size, all.length, 'each claim id has one row')
})

test('every row names tests that exist, chaos and bench scenarios that exist, or says why nothing asserts it yet', async (t) => {
  const chaos = await chaosScenarios()
  const problems: string[] = []
  for (const row of rows()) {
    if (row.tests.length + row.chaos.length + row.bench.length === 0 && !row.unasserted) problems.push(`${row.id}: asserted by nothing`)
    for (const { file, name } of row.tests) {
      if (!existsSync(new URL(file, ROOT))) {
        problems.push(`${row.id}: no file ${file}`)
        continue
      }
      const source = read(file).replace(/\\'/g, '\'')
      if (!source.includes(name)) problems.push(`${row.id}: no test named "${name}" in ${file}`)
    }
    for (const name of row.chaos) if (!chaos.names.has(name)) problems.push(`${row.id}: no chaos scenario ${name} in ${chaos.from}`)
    for (const name of row.bench) if (!existsSync(new URL(`src/bench/scenarios/${name}.ts`, ROOT))) problems.push(`${row.id}: no bench scenario ${name}`)
  }
  assert.deepEqual(problems, [])
  const unasserted = rows().filter(r => r.unasserted && r.tests.length + r.chaos.length === 0).map(r => r.id)
  t.diagnostic(`${rows().length} claims; asserted by nothing yet: ${unasserted.join(', ') || 'none'}`)
})

test('every claim-shaped sentence of a user document carries a claim marker', () => {
  const unmarked = USER_DOCS.flatMap(doc => sentences(read(doc))
    .filter(s => s.markers.length === 0 && claimShaped(s.text))
    .map(s => `${doc}: ${s.text.replace(/\u2024/g, '.').slice(0, 160)}`))
  assert.deepEqual(unmarked, [], `sentences with a promise word (${PROMISE_WORDS.map(w => w.source).join(' ')}) need <!-- claim: id --> (or <!-- claim: none -->) right after them`)
})

test('the sentence splitter attributes a marker to the sentence before it', () => {
  const text = 'First it never fails. <!-- claim: a --> Then `x.y` always works (mostly). <!-- claim: b -->\n\n```sh\nnever here\n```\n'
  assert.deepEqual(sentences(text).map(s => s.markers), [['a'], ['b']])
  assert.equal(sentences('It is at most one. And that is all.').filter(s => claimShaped(s.text)).length, 1)
})
