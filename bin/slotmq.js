#!/usr/bin/env node
// The slotmq command. In a clone (src/ beside bin/, tsx installed) it runs the sources
// through tsx, so what runs is always what is checked out and `npm install` needs no
// build step; the published package and the Docker image have no src/ and run dist/.
import { existsSync } from 'node:fs'

const fail = (err) => {
  process.stderr.write(`slotmq: unexpected failure: ${err?.stack ?? err}\n`)
  process.exitCode = 1
}

async function load () {
  if (existsSync(new URL('../src/main.ts', import.meta.url))) {
    const tsx = await import('tsx/esm/api').catch(() => undefined)
    if (tsx !== undefined) {
      tsx.register()
      return await import('../src/main.ts')
    }
  }
  if (!existsSync(new URL('../dist/main.js', import.meta.url))) {
    throw new Error('no build in dist/ and no tsx to run the sources: run `npm install` (or `npm run build`) in the clone')
  }
  return await import('../dist/main.js')
}

load().then(
  ({ main }) => main(process.argv.slice(2), process.env).then(
    // exit explicitly: a clean shutdown must not wait on anything a library left scheduled
    (code) => process.exit(code),
    fail
  ),
  fail
)
