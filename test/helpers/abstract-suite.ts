/**
 * A `test` for the abstract suites that other projects ship (mqemitter's abstractTest.js,
 * aedes-persistence's abstract.js): they are written for tap-like contexts and call
 * t.plan, t.assert.*, t.diagnostic and tap's t.fail, which node:test's context lacks.
 * A failed check is recorded instead of thrown (a check inside an emitter callback would
 * throw into the emitter, which may swallow it or leave the test waiting) and the test
 * then fails with every recorded message. Each test is bounded by `timeoutMs`.
 */
import { test, type TestContext } from 'node:test'
import { AssertionError } from 'node:assert'
import { within } from './until.js'

/** What the abstract suites use of their test context. */
export interface SuiteContext {
  plan: (count: number) => void
  diagnostic: (message: string) => void
  assert: TestContext['assert']
  fail: (message?: string) => void
}

export function suiteTest (label = '', timeoutMs = 30_000): (name: string, fn: (t: SuiteContext) => unknown) => void {
  return (name, fn) => {
    test(`${label}${name}`, async (t) => {
      const failures: Error[] = []
      const record = (err: unknown): void => { failures.push(err instanceof Error ? err : new Error(String(err))) }
      // t.assert is read at each check, not before: node:test binds it to the plan in
      // force when it is first read, and the suites call t.plan first.
      const assert = new Proxy({} as TestContext['assert'], {
        get (_target, prop) {
          const method = Reflect.get(t.assert, prop) as unknown
          if (typeof method !== 'function') return method
          return (...args: unknown[]) => {
            try {
              return (method as (...a: unknown[]) => unknown).apply(t.assert, args)
            } catch (err) {
              record(err)
            }
          }
        }
      })
      const context: SuiteContext = {
        plan: (count) => t.plan(count),
        diagnostic: (message) => t.diagnostic(message),
        assert,
        fail: (message) => record(new AssertionError({ message: message ?? 'failed', operator: 'fail' }))
      }
      let error: unknown
      try {
        await within(`"${name}" to finish`, Promise.resolve(fn(context)), timeoutMs, () => failures.map(f => f.message))
      } catch (err) {
        error = err
      }
      if (failures.length > 0) {
        const messages = failures.map(f => f.message)
        if (error !== undefined) messages.push(`and then: ${(error as Error).message}`)
        throw new AssertionError({ message: messages.join('\n'), operator: 'fail' })
      }
      if (error !== undefined) throw error
    })
  }
}
