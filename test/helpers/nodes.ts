/**
 * Starts broker nodes in this process, each on free ports (port 0), silent unless
 * LOG_LEVEL is set (LOG_LEVEL=debug npm test). Every node has the admin token
 * TEST_ADMIN_TOKEN unless the flags give another one, or `'admin-token': ''` for none.
 */
import { createBroker, type Broker } from '../../src/broker.js'
import { loadConfig } from '../../src/config.js'
import { createLogger } from '../../src/logger.js'

export const TEST_ADMIN_TOKEN = 'test-admin-token-of-startNodes'
/** Headers for admin requests (/admin/…, /sessions/…) to nodes of startNodes. */
export const adminHeaders = { authorization: `Bearer ${TEST_ADMIN_TOKEN}` }

export interface Topology {
  /** mqtt://127.0.0.1:port of every node, in order. */
  urls: string[]
  /** ws://127.0.0.1:port/mqtt of every node. */
  wsUrls: string[]
  nodes: Broker[]
  close: () => Promise<void>
}

export async function startNodes (count: number, flags: Record<string, string> = {}): Promise<Topology> {
  const nodes: Broker[] = []
  try {
    for (let i = 0; i < count; i++) {
      const merged: Record<string, string> = {
        host: '127.0.0.1',
        'mqtt-port': '0',
        'ws-port': '0',
        'http-port': '0',
        'log-level': process.env.LOG_LEVEL ?? 'silent',
        'admin-token': TEST_ADMIN_TOKEN,
        ...flags
      }
      const config = loadConfig({ flags: Object.fromEntries(Object.entries(merged).filter(([, v]) => v !== '')) })
      nodes.push(await createBroker(config, { log: createLogger({ level: config.log.level, nodeId: config.nodeId }) }))
    }
  } catch (err) {
    await Promise.all(nodes.map(async n => await n.close()))
    throw err
  }
  return {
    nodes,
    urls: nodes.map(n => `mqtt://127.0.0.1:${n.mqtt.port}`),
    wsUrls: nodes.map(n => `ws://127.0.0.1:${n.ws?.port ?? 0}/mqtt`),
    close: async () => { await Promise.all(nodes.map(async n => await n.close())) }
  }
}
