/**
 * The published package: `npm pack` gives a tarball with the built code and what it
 * reads at run time (no sources, no tests), and that tarball installed into an empty
 * project runs `npx slotmq start` as a standalone node that serves MQTT.
 * The pack runs in a copy of the working tree: its prepack script cleans and rebuilds
 * dist/ there, not in this checkout. The install may use the npm cache
 * (--prefer-offline) and the npm registry for what the cache lacks.
 */
import { after, before, describe, test } from 'node:test'
import assert from 'node:assert/strict'
import { spawn, type ChildProcess } from 'node:child_process'
import { once } from 'node:events'
import { builtinModules } from 'node:module'
import { cpSync, mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { closeAll, collect, connect } from '../helpers/mqtt.js'

const ROOT = new URL('../../', import.meta.url).pathname
/** What `npm pack` needs from the checkout: the manifest, the build inputs and the shipped files. */
const COPIED = ['package.json', 'package-lock.json', 'tsconfig.json', 'tsconfig.build.json', 'README.md', 'LICENSE', 'bin', 'src', 'types', 'lua', 'config']
const VERSION = (JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { version: string }).version

/** Loaded only when present: bin/slotmq.js runs the sources through tsx in a clone, never in the package. */
const OPTIONAL_LOADS = new Set(['bin/slotmq.js loads tsx'])
/** Lifecycle scripts npm runs when a package is installed as a dependency (npm 11 warns about each). */
const INSTALL_SCRIPTS = ['preinstall', 'install', 'postinstall', 'prepare']

/**
 * The packages a shipped file loads: static and dynamic imports, and what a function made
 * by createRequire loads or resolves (src/aedes/write-hook.ts loads mqtt-packet that way).
 * Relative paths and node: builtins are left out; 'a/b.js' is package a, '@s/a/b' is @s/a.
 */
function importedPackages (source: string): string[] {
  const requires = [...source.matchAll(/\b(?:const|let|var)\s+(\w+)\s*=\s*createRequire\(/g)].map(m => m[1] ?? '')
  const specifiers = [
    ...source.matchAll(/^\s*(?:import|export)\b[^'";]*?\bfrom\s*['"]([^'"]+)['"]/gm),
    ...source.matchAll(/^\s*import\s*['"]([^'"]+)['"]/gm),
    ...source.matchAll(/\bimport\(\s*['"]([^'"]+)['"]\s*\)/g),
    ...requires.flatMap(name => [...source.matchAll(new RegExp(`\\b${name}(?:\\.resolve)?\\(\\s*['"]([^'"]+)['"]\\s*\\)`, 'g'))])
  ].map(m => m[1] ?? '')
  const packages = specifiers
    .filter(s => /^(@[a-z0-9][\w.-]*\/)?[a-z0-9][\w.-]*(\/.*)?$/.test(s) && !builtinModules.includes(s.split('/')[0] ?? ''))
    .map(s => s.split('/').slice(0, s.startsWith('@') ? 2 : 1).join('/'))
  return [...new Set(packages)]
}

interface Run { code: number | null, stdout: string, stderr: string }

/** Runs a command to completion, killed after `timeoutMs`; no SLOTMQ_* setting of ours leaks in. */
async function run (command: string, args: string[], cwd: string, timeoutMs: number): Promise<Run> {
  const child = spawn(command, args, { cwd, env: cleanEnv(), stdio: 'pipe' })
  let stdout = ''
  let stderr = ''
  child.stdout.on('data', (b: Buffer) => { stdout += b.toString() })
  child.stderr.on('data', (b: Buffer) => { stderr += b.toString() })
  const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs)
  const [code] = await once(child, 'exit') as [number | null]
  clearTimeout(timer)
  return { code, stdout, stderr }
}

function cleanEnv (): NodeJS.ProcessEnv {
  return Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith('SLOTMQ_')))
}

/** Resolves with the node's pid and MQTT port from its start-up log lines (JSON on stdout). */
async function started (child: ChildProcess, timeoutMs: number): Promise<{ pid: number, port: number }> {
  return await new Promise((resolve, reject) => {
    let buffered = ''
    let stderr = ''
    const timer = setTimeout(() => reject(new Error(`no 'mqtt listener started' within ${timeoutMs} ms: ${buffered}${stderr}`)), timeoutMs)
    child.stderr?.on('data', (b: Buffer) => { stderr += b.toString() })
    child.stdout?.on('data', (chunk: Buffer) => {
      buffered += chunk.toString()
      for (const line of buffered.split('\n')) {
        if (!line.includes('"mqtt listener started"')) continue
        const entry = JSON.parse(line) as { pid: number, address: { port: number } }
        clearTimeout(timer)
        resolve({ pid: entry.pid, port: entry.address.port })
      }
    })
    child.once('exit', (code) => { clearTimeout(timer); reject(new Error(`exited (${String(code)}) before listening: ${buffered}${stderr}`)) })
  })
}

describe('the npm package', { timeout: 240_000 }, () => {
  const dir = mkdtempSync(join(tmpdir(), 'slotmq-pack-'))
  const repo = join(dir, 'repo')
  const app = join(dir, 'app')
  let tarball = ''
  let files: string[] = []

  before(async () => {
    for (const entry of COPIED) cpSync(join(ROOT, entry), join(repo, entry), { recursive: true })
    symlinkSync(join(ROOT, 'node_modules'), join(repo, 'node_modules'))
    const pack = await run('npm', ['pack', '--json', '--pack-destination', dir], repo, 150_000)
    assert.equal(pack.code, 0, `npm pack failed: ${pack.stderr}`)
    const [info] = JSON.parse(pack.stdout) as Array<{ filename: string, files: Array<{ path: string }> }>
    assert.ok(info !== undefined, pack.stdout)
    tarball = join(dir, info.filename)
    files = info.files.map(f => f.path)
  })
  after(() => rmSync(dir, { recursive: true, force: true }))

  test('npm pack ships the build, the Lua scripts, the config, README and LICENSE, and no sources', () => {
    for (const path of ['package.json', 'README.md', 'LICENSE', 'bin/slotmq.js', 'dist/main.js', 'dist/redis/scripts.js', 'config/default.json']) {
      assert.ok(files.includes(path), `${path} is in the package: ${files.join(' ')}`)
    }
    const lua = readFileSync(join(ROOT, 'src/redis/scripts.ts'), 'utf8').match(/[\w-]+\.lua/g) ?? []
    assert.ok(lua.length > 0, 'src/redis/scripts.ts names its Lua files')
    for (const file of new Set(lua)) assert.ok(files.includes(`lua/${file}`), `lua/${file} is in the package`)
    const unexpected = files.filter(f => /^(src|test|k6|bench|types|docs)\//.test(f) || f.endsWith('.ts') || f.endsWith('.map'))
    assert.deepEqual(unexpected, [], 'sources, tests and source maps stay out')
  })

  test('every package the shipped code loads is a declared dependency, not a dev or transitive one', () => {
    const manifest = JSON.parse(readFileSync(join(repo, 'package.json'), 'utf8')) as { dependencies?: Record<string, string> }
    const declared = new Set(Object.keys(manifest.dependencies ?? {}))
    const undeclared: string[] = []
    const shipped = files.filter(f => f.endsWith('.js'))
    assert.ok(shipped.length > 10, `the package ships the build: ${files.join(' ')}`)
    for (const file of shipped) {
      for (const name of importedPackages(readFileSync(join(repo, file), 'utf8'))) {
        if (!declared.has(name) && !OPTIONAL_LOADS.has(`${file} loads ${name}`)) undeclared.push(`${file} loads ${name}`)
      }
    }
    assert.deepEqual(undeclared, [], `declared dependencies: ${[...declared].join(' ')}`)
  })

  test('the import scan sees imports, dynamic imports and require.resolve of a package', () => {
    const source = [
      "import a from 'aedes'",
      "import {\n  x,\n  y\n} from '@s/pkg/sub.js'",
      "export { z } from 'zod'",
      "import './local.js'",
      "import 'node:fs'",
      "const m = await import('tsx/esm/api')",
      'const ours = createRequire(import.meta.url)',
      "const p = ours.resolve('mqtt-packet'); ours('qlobber')",
      "const text = `read from 'somewhere'`; resolve('drained')"
    ].join('\n')
    assert.deepEqual(importedPackages(source).sort(), ['@s/pkg', 'aedes', 'mqtt-packet', 'qlobber', 'tsx', 'zod'])
  })

  test('the packed manifest has no script npm runs on install (npm 11 warns about them)', () => {
    const manifest = JSON.parse(readFileSync(join(repo, 'package.json'), 'utf8')) as { scripts?: Record<string, string> }
    assert.deepEqual(INSTALL_SCRIPTS.filter(s => manifest.scripts?.[s] !== undefined), [])
  })

  test('installed into an empty project, npx slotmq start serves MQTT', async (t) => {
    mkdirSync(app) // new and empty
    writeFileSync(join(app, 'package.json'), '{ "name": "slotmq-package-test", "private": true }\n')
    const install = await run('npm', ['install', '--prefer-offline', '--no-audit', '--no-fund', tarball], app, 150_000)
    assert.equal(install.code, 0, `npm install failed: ${install.stderr}`)
    assert.doesNotMatch(install.stderr, /slotmq@[^\n]*(prepare|install)/, 'npm warns about no script of slotmq')

    const version = await run('npx', ['--no-install', 'slotmq', '--version'], app, 30_000)
    assert.equal(version.stdout.trim(), `slotmq ${VERSION}`, version.stderr)

    const node = spawn('npx', ['--no-install', 'slotmq', 'start', '--host', '127.0.0.1', '--mqtt-port', '0', '--ws-port', '0', '--http-port', '0'], { cwd: app, env: cleanEnv(), stdio: 'pipe', detached: true })
    const exited = once(node, 'exit')
    t.after(() => {
      // Whatever is left of the process group this test started (npx, its shell, the node).
      if (node.pid === undefined) return
      try {
        process.kill(-node.pid, 'SIGKILL')
      } catch {
        // already gone
      }
    })
    const { pid, port } = await started(node, 30_000)

    const client = await connect(`mqtt://127.0.0.1:${port}`, { clientId: 'package-test' })
    t.after(closeAll)
    const inbox = collect(client)
    await client.subscribeAsync('package/test', { qos: 1 })
    await client.publishAsync('package/test', 'from the installed package', { qos: 1 })
    const [message] = await inbox.waitFor(1)
    assert.deepEqual([message?.topic, message?.payload], ['package/test', 'from the installed package'])

    // Stopped by the node's own pid: a graceful shutdown, then npx exits with it.
    process.kill(pid, 'SIGTERM')
    await Promise.race([exited, new Promise((_resolve, reject) => setTimeout(() => reject(new Error('the node did not exit within 20 s of SIGTERM')), 20_000).unref())])
    assert.throws(() => process.kill(pid, 0), { code: 'ESRCH' }, 'the node process is gone')
  })
})
