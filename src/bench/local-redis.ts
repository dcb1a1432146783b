/**
 * A real Redis Cluster (or one server), started from the `redis-server` binary on free
 * loopback ports (no Docker): 3 masters + 3 replicas by default, persistence off. Used by
 * the tests and by `slotmq bench compare`.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process'
import { mkdtempSync, rmSync } from 'node:fs'
import { createServer } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { Redis } from 'ioredis'

export interface ClusterNode { host: string, port: number }
export interface RedisCluster {
  nodes: ClusterNode[]
  /** Process ids of the redis-server processes (for CPU accounting). */
  pids: number[]
  stop: () => Promise<void>
}

export const INSTALL_HINT = 'redis-server not found: install it (Debian/Ubuntu: sudo apt-get install -y redis-server; macOS: brew install redis)'

export function redisServerAvailable (): boolean {
  return ['redis-server', 'redis-cli'].every(bin => spawnSync(bin, ['--version']).status === 0)
}

export function clusterNodesFromEnv (env: Record<string, string | undefined> = process.env): ClusterNode[] | undefined {
  const value = env.REDIS_CLUSTER_NODES
  if (value === undefined || value === '') return undefined
  return value.split(',').map(seed => {
    const i = seed.lastIndexOf(':')
    return { host: seed.slice(0, i), port: Number(seed.slice(i + 1)) }
  })
}

export async function startRedisCluster (opts: { masters?: number, replicasPerMaster?: number } = {}): Promise<RedisCluster> {
  if (!redisServerAvailable()) throw new Error(INSTALL_HINT)
  const count = (opts.masters ?? 3) * (1 + (opts.replicasPerMaster ?? 1))
  const dir = mkdtempSync(join(tmpdir(), 'slotmq-cluster-'))
  const children: ChildProcess[] = []
  const stop = async (): Promise<void> => {
    await Promise.all(children.map(async child => await stopChild(child)))
    rmSync(dir, { recursive: true, force: true })
  }
  const onExit = (): void => { for (const c of children) c.kill('SIGKILL') }
  process.once('exit', onExit)
  try {
    const ports: number[] = []
    const cluster = (port: number): string[] => [
      '--cluster-enabled', 'yes', '--cluster-config-file', `nodes-${port}.conf`, '--cluster-node-timeout', '3000', '--dir', dir, '--daemonize', 'no'
    ]
    await Promise.all(Array.from({ length: count }, async () => {
      const started = await startServer(cluster, ports)
      children.push(started.child)
      ports.push(started.port)
    }))
    const create = spawnSync('redis-cli', ['--cluster', 'create', ...ports.map(p => `127.0.0.1:${p}`),
      '--cluster-replicas', String(opts.replicasPerMaster ?? 1), '--cluster-yes'], { encoding: 'utf8', timeout: 30_000 })
    if (create.status !== 0) throw new Error(`redis-cli --cluster create failed: ${create.stdout}${create.stderr}`)
    await waitFor(async () => await clusterReady(ports, opts.masters ?? 3), 'the cluster to be ready', 30_000)
    return { nodes: ports.map(port => ({ host: '127.0.0.1', port })), pids: pidsOf(children), stop: async () => { process.off('exit', onExit); await stop() } }
  } catch (err) {
    process.off('exit', onExit)
    await stop()
    throw err
  }
}

async function stopChild (child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return
  const exited = new Promise<void>(resolve => child.once('exit', () => resolve()))
  child.kill('SIGTERM')
  const timer = setTimeout(() => child.kill('SIGKILL'), 3000)
  await exited
  clearTimeout(timer)
}

/** Free ports whose cluster bus port (port + 10000) is free too. */
async function freePorts (count: number, taken: readonly number[] = []): Promise<number[]> {
  const ports: number[] = []
  while (ports.length < count) {
    const port = await freePort(0)
    if (port < 55000 && !ports.includes(port) && !taken.includes(port) && await canBind(port + 10000)) ports.push(port)
  }
  return ports
}

export async function freePort (port: number): Promise<number> {
  const server = createServer()
  await new Promise<void>((resolve, reject) => { server.once('error', reject); server.listen(port, '127.0.0.1', resolve) })
  const bound = (server.address() as { port: number }).port
  await new Promise(resolve => server.close(resolve))
  return bound
}

async function canBind (port: number): Promise<boolean> {
  try {
    await freePort(port)
    return true
  } catch {
    return false
  }
}

/** Runs `fn` with a short-lived connection to one Redis process (local unless `host` says otherwise). */
export async function withRedis<T> (port: number, fn: (r: Redis) => Promise<T>, host = '127.0.0.1'): Promise<T> {
  const r = new Redis({ port, host, lazyConnect: true, maxRetriesPerRequest: 0, retryStrategy: () => null })
  r.on('error', () => {})
  try {
    await r.connect()
    return await fn(r)
  } finally {
    r.disconnect()
  }
}

async function ping (port: number): Promise<boolean> {
  try {
    return await withRedis(port, async r => await r.ping() === 'PONG')
  } catch {
    return false
  }
}

async function clusterReady (ports: number[], masters: number): Promise<boolean> {
  for (const port of ports) {
    const ok = await withRedis(port, async r => {
      const info = await r.cluster('INFO') as string
      if (!info.includes('cluster_state:ok') || !info.includes('cluster_slots_ok:16384')) return false
      const nodes = (await r.cluster('NODES') as string).trim().split('\n')
      const connectedMasters = nodes.filter(l => l.includes('master') && l.includes('connected')).length
      const connectedReplicas = nodes.filter(l => l.includes('slave') && l.includes('connected')).length
      return connectedMasters === masters && connectedReplicas === ports.length - masters
    })
    if (!ok) return false
  }
  return true
}

async function waitFor (check: () => Promise<boolean>, what: string, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`)
    await new Promise(resolve => setTimeout(resolve, 100))
  }
}

/**
 * Starts one redis-server on a free loopback port and waits until it answers. A port
 * found free can be taken by another process before redis-server binds it (an outgoing
 * connection's ephemeral port): that server exits at once, and another port is tried.
 */
async function startServer (extraArgs: (port: number) => string[], taken: readonly number[] = []): Promise<{ port: number, child: ChildProcess }> {
  for (let attempt = 1; ; attempt++) {
    const port = (await freePorts(1, taken))[0] as number
    const child = spawn('redis-server', [
      '--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no', '--protected-mode', 'no', ...extraArgs(port)
    ], { stdio: 'ignore' })
    try {
      await waitFor(async () => {
        if (child.exitCode !== null || child.signalCode !== null) throw new Error(`redis-server on port ${port} exited (${child.exitCode ?? child.signalCode ?? ''})`)
        return await ping(port)
      }, `redis ${port} to start`)
      return { port, child }
    } catch (err) {
      await stopChild(child)
      if (attempt >= 3) throw err
    }
  }
}

/** One plain (non-cluster) redis-server on a free loopback port, persistence off. */
export async function startRedisServer (extraArgs: string[] = []): Promise<RedisCluster> {
  if (!redisServerAvailable()) throw new Error(INSTALL_HINT)
  const { port, child } = await startServer(() => extraArgs)
  const onExit = (): void => { child.kill('SIGKILL') }
  process.once('exit', onExit)
  const stop = async (): Promise<void> => { process.off('exit', onExit); await stopChild(child) }
  return { nodes: [{ host: '127.0.0.1', port }], pids: pidsOf([child]), stop }
}

function pidsOf (children: readonly ChildProcess[]): number[] {
  return children.flatMap(c => c.pid === undefined ? [] : [c.pid])
}
