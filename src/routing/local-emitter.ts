/**
 * The emitter of a standalone node: the cluster emitter with local-only hooks, so that
 * shared subscription groups (and everything else the emitter does) take the same code
 * path with and without Redis.
 */
import type { Logger } from '../logger.js'
import { ClusterEmitter } from './emitter.js'
import { SharedDispatch } from './shared-dispatch.js'
import type { SharedStrategy } from './shared.js'

export interface LocalEmitter {
  emitter: ClusterEmitter
  shared: SharedDispatch
}

export function createLocalEmitter (strategy: SharedStrategy, log: Logger): LocalEmitter {
  const emitter = new ClusterEmitter({
    listenerAdded: (_filter, done) => done(),
    listenerRemoved: () => {},
    forward: (message, done) => {
      // `shared` is set below, before aedes can publish anything.
      if (shared.active) shared.route(message)
      done()
    },
    closed: async () => {}
  }, { concurrency: 100, matchEmptyLevels: true }, strategy)
  const shared = new SharedDispatch({ emitter, strategy, memberId: () => 'local', log: log.child({ module: 'routing' }) })
  return { emitter, shared }
}
