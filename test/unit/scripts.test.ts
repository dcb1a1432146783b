import { test } from 'node:test'
import assert from 'node:assert/strict'
import { readdirSync, readFileSync } from 'node:fs'
import { LUA_DIR, readScript, SCRIPTS, type ScriptName } from '../../src/redis/scripts.js'

const names = Object.keys(SCRIPTS) as ScriptName[]

function header (source: string): { keys: number[], argv: number[], variadicFrom: number | undefined } {
  const block = /--\[\[([\s\S]*?)\]\]/.exec(source)?.[1] ?? ''
  const keys = [...block.matchAll(/^\s*KEYS\[(\d+)\]/gm)].map(m => Number(m[1]))
  const argv = [...block.matchAll(/^\s*ARGV\[(\d+)(\.\.n)?\]/gm)].map(m => Number(m[1]))
  const variadic = /^\s*ARGV\[(\d+)\.\.n\]/m.exec(block)
  return { keys, argv, variadicFrom: variadic === null ? undefined : Number(variadic[1]) }
}

test('every Lua file in lua/ is in the script registry, and every entry has a file', () => {
  const files = readdirSync(LUA_DIR).filter(f => f.endsWith('.lua')).sort()
  assert.deepEqual(files, names.map(n => SCRIPTS[n].file).sort())
})

for (const name of names) {
  test(`${SCRIPTS[name].file}: header KEYS and ARGV match the registry entry ${name}`, () => {
    const source = readFileSync(new URL(SCRIPTS[name].file, LUA_DIR), 'utf8')
    assert.match(source.split('\n')[0] ?? '', /^#!lua( flags=no-writes)?$/)
    const h = header(source)
    const spec = SCRIPTS[name]
    assert.deepEqual(h.keys, spec.keys.map((_, i) => i + 1), 'KEYS lines')
    assert.deepEqual(h.argv, spec.argv.map((_, i) => i + 1), 'ARGV lines')
    assert.equal(h.variadicFrom !== undefined, 'variadic' in spec && spec.variadic === true, 'variadic ARGV')
    assert.match(source, /Returns /, 'documents its reply')
    assert.doesNotMatch(source.replace(/--\[\[[\s\S]*?\]\]/, ''), /\.\.\s*':'/, 'builds no key names in Lua')
  })
}

test('the #!lua line is stripped for Redis 6, kept for Redis 7', () => {
  assert.ok(readScript('nodeSweep', 7).startsWith('#!lua'))
  assert.ok(!readScript('nodeSweep', 6).startsWith('#!'))
})
