// What grafana/xk6-mqtt reads from each options object, and what it does with the rest.
//
// The extension declares one Go struct per options object (mqtt/client_base.go,
// client_connect.go, client_publish.go, client_subscribe.go, client_unsubscribe.go,
// client_end.go). sobek fills a struct through k6's field-name mapper, which turns Go
// field names into snake_case (ClientId -> client_id, ConnectTimeout -> connect_timeout):
// a property with any other name is never read, silently. Some fields are read and still
// have no effect (a client_id that is not a string; clean_session: false, because
// connectOptions.toPaho only ever calls SetCleanSession(true) and Paho's default is true).
//
// The stand-in records each such case in `problems` (once per message); the test runner
// prints them and k6-scripts.test.ts requires none: a script that passes an option the real
// extension would ignore does not do what it says.
export const problems = []

export function report (message) {
  if (!problems.includes(message)) problems.push(message)
}

/** The property names each struct has, as the field-name mapper spells them. */
const FIELDS = {
  'new Client()': ['client_id', 'username', 'password', 'credentials_provider', 'will', 'tags'],
  'new Client() will': ['topic', 'payload', 'qos', 'retain'],
  'connect()': ['keepalive', 'connect_timeout', 'clean_session', 'servers', 'tags'],
  'publish()': ['qos', 'retain', 'tags'],
  'subscribe()': ['qos', 'tags'],
  'unsubscribe()': ['tags'],
  'end()': ['tags']
}

/**
 * The options object `value` passed to `where`, with a problem reported for every property
 * the extension does not read. undefined and null mean no options (a nil struct pointer);
 * anything else that is not an object cannot be exported to the struct and throws.
 */
export function readOptions (where, value) {
  if (value === undefined || value === null) return {}
  if (typeof value !== 'object' || Array.isArray(value)) {
    throw new TypeError(`${where}: options must be an object, got ${JSON.stringify(value)}`)
  }
  const known = FIELDS[where]
  for (const key of Object.keys(value)) {
    if (!known.includes(key)) report(`${where}: option ${key} is not read by xk6-mqtt (ignored)${didYouMean(key, known)}`)
  }
  return value
}

/** new Client(options): client_id, username and password are used only when they are strings. */
export function readClientOptions (value) {
  const o = readOptions('new Client()', value)
  for (const key of ['client_id', 'username', 'password']) {
    if (o[key] !== undefined && typeof o[key] !== 'string') report(`new Client(): ${key} ${JSON.stringify(o[key])} is not a string (ignored)`)
  }
  if (o.credentials_provider !== undefined && typeof o.credentials_provider !== 'function') {
    throw new TypeError('new Client(): credentials_provider must be a function')
  }
  if (o.will !== undefined && o.will !== null) readOptions('new Client() will', o.will)
  return o
}

/**
 * connect(url, options): keepalive (seconds) only when a number, connect_timeout (ms) only
 * when a number >= 0, clean_session only when true (it is the default anyway), servers
 * added after the URL. Defaults are Paho's: keepalive 30 s, connect timeout 30 s.
 */
export function readConnectOptions (value) {
  const o = readOptions('connect()', value)
  if (o.keepalive !== undefined && typeof o.keepalive !== 'number') report(`connect(): keepalive ${JSON.stringify(o.keepalive)} is not a number (ignored)`)
  if (o.connect_timeout !== undefined && !(typeof o.connect_timeout === 'number' && o.connect_timeout >= 0)) {
    report(`connect(): connect_timeout ${JSON.stringify(o.connect_timeout)} is not a number >= 0 (ignored)`)
  }
  if (o.clean_session !== undefined && !o.clean_session) {
    report('connect(): clean_session false has no effect: xk6-mqtt always connects with clean session 1, so a persistent session cannot be expressed')
  }
  if (o.servers !== undefined && !(Array.isArray(o.servers) && o.servers.every(s => typeof s === 'string'))) {
    throw new TypeError('connect(): servers must be an array of strings')
  }
  return {
    keepaliveSec: typeof o.keepalive === 'number' ? Math.trunc(o.keepalive) : 30,
    connectTimeoutMs: typeof o.connect_timeout === 'number' && o.connect_timeout >= 0 ? Math.trunc(o.connect_timeout) : 30_000,
    servers: o.servers ?? []
  }
}

/** QoS as the extension converts it (a JS number to a Go byte). */
export function qosOf (options) {
  const qos = Number(options.qos ?? 0)
  if (![0, 1, 2].includes(qos)) throw new TypeError(`qos ${JSON.stringify(options.qos)} is not 0, 1 or 2`)
  return qos
}

function didYouMean (key, known) {
  const norm = (s) => s.replace(/[_-]/g, '').toLowerCase()
  const match = known.find(k => norm(k) === norm(key)) ?? known.find(k => norm(k).startsWith(norm(key)))
  return match === undefined ? '' : `; did you mean ${match}?`
}
