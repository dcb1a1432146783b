/**
 * deploy/kubernetes/: builds each kustomization the way `kubectl apply -k` reads it (its
 * resources, its labels) and validates every object offline against the Kubernetes and
 * Prometheus Operator schemas (kubernetes-models, which validates with the OpenAPI schemas
 * of each kind). Then the wiring: probes, preStop drain, PodDisruptionBudget and Services
 * select the pods, Secret keys exist, the PrometheusRule holds the shipped alert rules.
 */
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { readFileSync } from 'node:fs'
import { parseAllDocuments, parse } from 'yaml'

const K8S = new URL('../../deploy/kubernetes/', import.meta.url)

type Obj = Record<string, any>

/** The objects of one kustomization: its resources, with its `labels` pairs added. */
function build (dir: string): Obj[] {
  const base = new URL(dir, K8S)
  const k = parse(readFileSync(new URL('kustomization.yaml', base), 'utf8')) as { kind: string, resources: string[], labels?: Array<{ pairs: Record<string, string> }> }
  assert.equal(k.kind, 'Kustomization')
  const extra = Object.assign({}, ...(k.labels ?? []).map(l => l.pairs)) as Record<string, string>
  return k.resources.flatMap(file => parseAllDocuments(readFileSync(new URL(file, base), 'utf8')).map(d => {
    assert.deepEqual(d.errors, [], `${dir}${file}: YAML errors`)
    const obj = d.toJS() as Obj
    obj.metadata.labels = { ...obj.metadata.labels, ...extra }
    return obj
  }))
}

/** The kubernetes-models class of an object's apiVersion and kind. */
async function model (obj: Obj): Promise<new (data: Obj) => { validate: () => void }> {
  const [group, version] = String(obj.apiVersion).includes('/') ? String(obj.apiVersion).split('/') : ['', String(obj.apiVersion)]
  const path = group === 'monitoring.coreos.com'
    ? `@kubernetes-models/prometheus-operator/${group}/${version ?? ''}/${String(obj.kind)}`
    : `kubernetes-models/${group === '' ? '' : `${group}/`}${version ?? ''}/${String(obj.kind)}`
  const mod = await import(path) as Record<string, new (data: Obj) => { validate: () => void }>
  const Model = mod[String(obj.kind)]
  assert.ok(Model !== undefined, `no model for ${path}`)
  return Model
}

const core = build('')
const monitoring = build('monitoring/')
const find = (objs: Obj[], kind: string, name?: string): Obj => {
  const found = objs.find(o => o.kind === kind && (name === undefined || o.metadata.name === name))
  assert.ok(found !== undefined, `${kind} ${name ?? ''} is in the manifests`)
  return found
}
const matches = (selector: Record<string, string>, labels: Record<string, string>): boolean =>
  Object.entries(selector).every(([k, v]) => labels[k] === v)

test('every object of deploy/kubernetes and deploy/kubernetes/monitoring is valid against its Kubernetes schema', async () => {
  const objects = [...core, ...monitoring]
  assert.deepEqual(objects.map(o => o.kind).sort(), ['Deployment', 'PodDisruptionBudget', 'PrometheusRule', 'Secret', 'Service', 'Service', 'Service', 'ServiceAccount', 'ServiceMonitor'])
  for (const obj of objects) {
    const Model = await model(obj)
    assert.doesNotThrow(() => new Model(obj).validate(), `${String(obj.kind)} ${String(obj.metadata.name)}`)
  }
})

test('the schema validation refuses a broken object (the validator is not a no-op)', async () => {
  const deployment = structuredClone(find(core, 'Deployment'))
  deployment.spec.replicas = 'three'
  const Model = await model(deployment)
  assert.throws(() => new Model(deployment).validate())
})

test('the Deployment: readiness on /ready, liveness on /health, a preStop drain, Secret keys that exist', () => {
  const deployment = find(core, 'Deployment')
  const pod = deployment.spec.template
  const [container] = pod.spec.containers as Obj[]
  assert.ok(container !== undefined)
  const ports = new Map((container.ports as Obj[]).map(p => [p.name, p.containerPort]))
  assert.equal(container.readinessProbe.httpGet.path, '/ready')
  assert.equal(container.livenessProbe.httpGet.path, '/health')
  assert.equal(ports.get(container.readinessProbe.httpGet.port), 8888)
  const preStop = (container.lifecycle.preStop.exec.command as string[]).join(' ')
  assert.match(preStop, /\/admin\/drain/)
  assert.match(preStop, /SLOTMQ_ADMIN_TOKEN/)
  assert.ok(deployment.spec.selector.matchLabels !== undefined && matches(deployment.spec.selector.matchLabels, pod.metadata.labels))
  const secret = find(core, 'Secret', 'slotmq')
  const env = new Map((container.env as Obj[]).map(e => [e.name, e]))
  for (const name of ['SLOTMQ_REDIS', 'SLOTMQ_ADMIN_TOKEN']) {
    const ref = env.get(name)?.valueFrom?.secretKeyRef
    assert.equal(ref?.name, 'slotmq', name)
    assert.ok(ref.key in secret.stringData, `${name}: key ${String(ref.key)} is in the Secret`)
  }
  assert.equal(env.get('SLOTMQ_HTTP_PORT')?.value, String(ports.get('http')))
  assert.equal(env.get('SLOTMQ_MQTT_PORT')?.value, String(ports.get('mqtt')))
  assert.equal(env.get('SLOTMQ_WS_PORT')?.value, String(ports.get('ws')))
  // The auth file as a folder mount: the kubelet's symlink swap reaches it (no subPath).
  const mount = (container.volumeMounts as Obj[]).find(m => String(env.get('SLOTMQ_AUTH_FILE')?.value).startsWith(String(m.mountPath) + '/'))
  assert.ok(mount !== undefined && mount.subPath === undefined, 'the auth file is in a mounted folder, without subPath')
  const volume = (pod.spec.volumes as Obj[]).find(v => v.name === mount.name)
  assert.equal(volume?.secret?.secretName, 'slotmq')
  assert.ok((volume.secret.items as Obj[]).every(i => i.key in secret.stringData))
})

test('the PodDisruptionBudget and every Service select the slotmq pods; the ServiceMonitor selects the metrics Service', () => {
  const podLabels = find(core, 'Deployment').spec.template.metadata.labels as Record<string, string>
  const pdb = find(core, 'PodDisruptionBudget')
  assert.ok(matches(pdb.spec.selector.matchLabels, podLabels))
  assert.equal(pdb.spec.maxUnavailable, 1)
  const containerPorts = new Set((find(core, 'Deployment').spec.template.spec.containers[0].ports as Obj[]).map(p => p.name))
  for (const name of ['slotmq-mqtt', 'slotmq-ws', 'slotmq-metrics']) {
    const service = find(core, 'Service', name)
    assert.ok(matches(service.spec.selector, podLabels), name)
    for (const p of service.spec.ports as Obj[]) assert.ok(containerPorts.has(p.targetPort), `${name}: targetPort ${String(p.targetPort)}`)
  }
  const monitor = find(monitoring, 'ServiceMonitor')
  const metrics = find(core, 'Service', 'slotmq-metrics')
  assert.ok(matches(monitor.spec.selector.matchLabels, metrics.metadata.labels))
  assert.ok((metrics.spec.ports as Obj[]).some(p => p.name === monitor.spec.endpoints[0].port))
})

test('the PrometheusRule holds exactly the rules of deploy/prometheus/slotmq-alerts.yml', () => {
  const shipped = parse(readFileSync(new URL('../prometheus/slotmq-alerts.yml', K8S), 'utf8')) as Obj
  assert.deepEqual(find(monitoring, 'PrometheusRule').spec, shipped)
})
