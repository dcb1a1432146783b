declare module 'mqemitter/abstractTest.js' {
  export default function abstractTests (opts: { test: unknown, builder: (opts?: Record<string, unknown>) => unknown }): void
}
declare module 'aedes-persistence/abstract.js' {
  export default function abstractPersistence (opts: { test: unknown, testAsync?: boolean, persistence: () => Promise<unknown>, waitForReady?: boolean }): void
}
