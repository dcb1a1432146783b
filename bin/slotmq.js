#!/usr/bin/env node
// The slotmq command. Runs the compiled build (npm install builds it through `prepare`).
import { main } from '../dist/main.js'

main(process.argv.slice(2), process.env).then(
  // exit explicitly: a clean shutdown must not wait on anything a library left scheduled
  (code) => process.exit(code),
  (err) => {
    process.stderr.write(`slotmq: unexpected failure: ${err?.stack ?? err}\n`)
    process.exitCode = 1
  }
)
