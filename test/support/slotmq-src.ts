// Runs the slotmq command from source (what bin/slotmq.js does from dist/), for CLI tests.
import { main } from '../../src/main.js'

main(process.argv.slice(2), process.env).then((code) => process.exit(code), (err) => {
  process.stderr.write(`slotmq: unexpected failure: ${String(err)}\n`)
  process.exit(1)
})
