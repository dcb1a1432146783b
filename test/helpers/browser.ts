/**
 * A real headless Chromium (Debian's chromium-headless-shell or chromium package) driven
 * over the DevTools protocol on a pipe (--remote-debugging-pipe: no port, no extra
 * package). Every request is bounded, and the browser is SIGKILLed after `lifetimeMs`
 * whatever happens.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process'
import { once } from 'node:events'
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import type { Readable, Writable } from 'node:stream'
import { until, within } from './until.js'

/** The binaries tried, in order (the environment variable CHROMIUM names another). */
const CANDIDATES = ['chromium-headless-shell', 'chromium']

/** The path of a Chromium binary, or undefined when none is installed. */
export function findChromium (): string | undefined {
  const named = process.env.CHROMIUM
  if (named !== undefined && named !== '') return existsSync(named) ? named : undefined
  for (const name of CANDIDATES) {
    const found = spawnSync('sh', ['-c', `command -v ${name}`], { encoding: 'utf8' })
    if (found.status === 0 && found.stdout.trim() !== '') return found.stdout.trim()
  }
  return undefined
}

export interface Page {
  /** Loads `url` with a viewport of `width` x `height` CSS pixels and waits until it has loaded. */
  load: (url: string, width: number, height: number) => Promise<void>
  /** Evaluates a JavaScript expression in the page; returns its value (JSON-serialisable). */
  evaluate: <T>(expression: string) => Promise<T>
  /** Writes a PNG of the whole page to `path`. */
  screenshot: (path: string) => Promise<void>
  close: () => Promise<void>
}

interface Reply { id?: number, result?: Record<string, unknown>, error?: { message: string }, sessionId?: string }

export async function openBrowser (binary: string, timeoutMs = 20_000, lifetimeMs = 120_000): Promise<Page> {
  const profile = mkdtempSync(join(tmpdir(), 'slotmq-chromium-'))
  const child: ChildProcess = spawn(binary, [
    '--headless', '--no-sandbox', '--disable-gpu', '--hide-scrollbars', '--no-first-run', '--mute-audio',
    '--remote-debugging-pipe', `--user-data-dir=${profile}`, 'about:blank'
  ], { stdio: ['ignore', 'ignore', 'pipe', 'pipe', 'pipe'] })
  const killer = setTimeout(() => child.kill('SIGKILL'), lifetimeMs)
  killer.unref()
  let stderr = ''
  child.stderr?.on('data', (b: Buffer) => { stderr = (stderr + b.toString()).slice(-4000) })
  let exited = false
  child.once('exit', () => { exited = true; clearTimeout(killer) })
  child.once('error', err => { exited = true; stderr += `\n${String(err)}` })
  const input = child.stdio[3] as Writable
  const output = child.stdio[4] as Readable
  input.on('error', () => {})

  const pending = new Map<number, (reply: Reply) => void>()
  let buffered = ''
  output.on('data', (b: Buffer) => {
    buffered += b.toString()
    let end: number
    while ((end = buffered.indexOf('\0')) >= 0) {
      const reply = JSON.parse(buffered.slice(0, end)) as Reply
      buffered = buffered.slice(end + 1)
      if (reply.id !== undefined) pending.get(reply.id)?.(reply)
    }
  })
  let nextId = 1
  const send = async (method: string, params: Record<string, unknown> = {}, sessionId?: string): Promise<Record<string, unknown>> => {
    const id = nextId++
    const reply = await within(`Chromium to answer ${method}`, new Promise<Reply>(resolve => {
      pending.set(id, resolve)
      input.write(JSON.stringify({ id, method, params, ...(sessionId === undefined ? {} : { sessionId }) }) + '\0')
    }), timeoutMs, () => exited ? `Chromium exited; its stderr ends: ${stderr}` : 'no reply yet')
    pending.delete(id)
    if (reply.error !== undefined) throw new Error(`${method}: ${reply.error.message}`)
    return reply.result ?? {}
  }

  const close = async (): Promise<void> => {
    if (!exited) {
      const gone = once(child, 'exit')
      await send('Browser.close').catch(() => child.kill('SIGKILL'))
      await within('Chromium to exit after Browser.close', gone, timeoutMs).catch(async () => {
        child.kill('SIGKILL')
        await gone
      })
    }
    rmSync(profile, { recursive: true, force: true })
  }

  try {
    const { targetId } = await send('Target.createTarget', { url: 'about:blank' }) as { targetId: string }
    const { sessionId } = await send('Target.attachToTarget', { targetId, flatten: true }) as { sessionId: string }
    const evaluate = async <T>(expression: string): Promise<T> => {
      const r = await send('Runtime.evaluate', { expression, returnByValue: true, awaitPromise: true }, sessionId) as { result: { value?: unknown }, exceptionDetails?: { text: string, exception?: { description?: string } } }
      if (r.exceptionDetails !== undefined) throw new Error(`in the page: ${r.exceptionDetails.exception?.description ?? r.exceptionDetails.text}`)
      return r.result.value as T
    }
    return {
      load: async (url, width, height) => {
        await send('Emulation.setDeviceMetricsOverride', { width, height, deviceScaleFactor: 1, mobile: false }, sessionId)
        await send('Page.navigate', { url }, sessionId)
        await until(`${url} to load`, async () => await evaluate<boolean>(`location.href === ${JSON.stringify(url)} && document.readyState === 'complete'`),
          timeoutMs, { intervalMs: 50, observed: async () => await evaluate<string>('location.href + " " + document.readyState') })
      },
      evaluate,
      screenshot: async (path) => {
        const { data } = await send('Page.captureScreenshot', { format: 'png', captureBeyondViewport: true }, sessionId) as { data: string }
        writeFileSync(path, Buffer.from(data, 'base64'))
      },
      close
    }
  } catch (err) {
    await close().catch(() => {})
    throw new Error(`cannot drive ${binary} over --remote-debugging-pipe: ${String(err)}; its stderr ends: ${stderr}`, { cause: err })
  }
}
