import t from 'tap'
import { register as globalRegistry } from 'prom-client'
import { createWebMetrics } from '../../../actors/web/metrics.js'
import type { SupervisorView } from '../../../actors/web/state.js'
import type { CommandRecord } from '../../../infra/nats/commands.js'

const supervisor: SupervisorView = {
  state: () => 'running',
  uptimeS: () => 12,
  childActor: () => undefined,
  children: () => [
    { id: 'camera', state: 'streaming', status: 'running', restarts: 2, pids: [], since: '', lastExit: null, nextRetryAt: null },
    { id: 'audio', state: 'restarting', status: 'restarting', restarts: 5, pids: [], since: '', lastExit: null, nextRetryAt: null },
  ],
}

const record = (over: Partial<CommandRecord>): CommandRecord => ({
  at: '',
  node: 'n',
  traceId: 't',
  actor: 'recorder',
  verb: 'start',
  source: 'http',
  ok: true,
  code: 'OK',
  ms: 12,
  ...over,
})

/** `name{a="1",b="2"}` with the labels sorted: prom-client does not promise an order. */
function canonical(name: string, labels: string | undefined): string {
  if (!labels) return name
  const pairs = labels.match(/[a-zA-Z_][a-zA-Z0-9_]*="(?:[^"\\]|\\.)*"/g) ?? []
  return `${name}{${[...pairs].sort().join(',')}}`
}

/** Parses the text exposition into `name{labels} value` samples (a syntax check: every line must parse). */
function samples(text: string): Map<string, number> {
  const out = new Map<string, number>()
  for (const line of text.split('\n')) {
    if (line === '' || line.startsWith('#')) continue
    const m = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{([^}]*)\})? (-?[0-9.e+-]+|NaN|\+Inf|-Inf)$/.exec(line)
    if (!m) throw new Error(`not a sample line: ${line}`)
    out.set(canonical(m[1]!, m[2]), Number(m[3]))
  }
  return out
}

const key = (name: string, labels: Record<string, string>) =>
  canonical(name, Object.entries(labels).map(([k, v]) => `${k}="${v}"`).join(','))

t.test('render: live values, labels, and a text that parses', async (t) => {
  const m = createWebMetrics({ node: 'rig1', defaultMetrics: false })
  m.observeCommand(record({}))
  m.observeCommand(record({ verb: 'stop', code: 'NOT_RECORDING', ok: false, ms: 1 }))
  m.frameDropped('camera', 'stall')
  m.frameDropped('camera', 'stall', 4)
  const text = await m.render({
    supervisor: () => supervisor,
    alertCounts: () => ({ info: 1, warning: 2, critical: 3 }),
    recorderStatus: () => ({ state: 'recording', session: { bytes: 4096, segments: 3 } }),
  })
  const s = samples(text)
  t.equal(s.get(key('vigil_actor_state', { actor: 'supervisor', state: 'running', node: 'rig1' })), 1)
  t.equal(s.get(key('vigil_actor_state', { actor: 'camera', state: 'streaming', node: 'rig1' })), 1)
  t.equal(s.get(key('vigil_child_up', { actor: 'audio', node: 'rig1' })), 0)
  t.equal(s.get(key('vigil_child_restarts_total', { actor: 'audio', node: 'rig1' })), 5)
  t.equal(s.get(key('vigil_recording_bytes', { node: 'rig1' })), 4096)
  t.equal(s.get(key('vigil_recording_segments', { node: 'rig1' })), 3)
  t.equal(s.get(key('vigil_recording_active', { node: 'rig1' })), 1)
  t.equal(s.get(key('vigil_alerts_total', { severity: 'critical', node: 'rig1' })), 3)
  t.equal(s.get(key('vigil_frames_dropped_total', { actor: 'camera', reason: 'stall', node: 'rig1' })), 5)
  t.equal(s.get(key('vigil_command_duration_seconds_count', { actor: 'recorder', verb: 'start', code: 'OK', source: 'http', node: 'rig1' })), 1)
  t.equal(s.get(key('vigil_command_duration_seconds_bucket', { le: '0.025', actor: 'recorder', verb: 'start', code: 'OK', source: 'http', node: 'rig1' })), 1)
  t.equal(s.get(key('vigil_command_duration_seconds_count', { actor: 'recorder', verb: 'stop', code: 'NOT_RECORDING', source: 'http', node: 'rig1' })), 1)

  const again = samples(await m.render({ supervisor: () => supervisor, alertCounts: () => ({ info: 1, warning: 2, critical: 3 }) }))
  t.equal(again.get(key('vigil_child_restarts_total', { actor: 'audio', node: 'rig1' })), 5, 'a second scrape does not double the counts')
  t.equal(again.get(key('vigil_recording_active', { node: 'rig1' })), 0, 'no recorder getter: nothing recording')
  t.equal(globalRegistry.getMetricsAsArray().filter((x) => x.name.startsWith('vigil_')).length, 0, 'nothing in the global registry')
})

t.test('hostile command names do not grow the series without bound', async (t) => {
  const m = createWebMetrics({ defaultMetrics: false })
  for (let i = 0; i < 500; i++) m.observeCommand(record({ actor: `a${i}`, verb: 'x' }))
  m.observeCommand(record({ actor: 'evil"}\n', verb: 'x' }))
  const text = await m.render({ supervisor: () => supervisor, alertCounts: () => ({ info: 0, warning: 0, critical: 0 }) })
  const counts = [...samples(text).keys()].filter((k) => k.startsWith('vigil_command_duration_seconds_count'))
  t.ok(counts.length <= 201, `${counts.length} series`)
  t.ok(counts.some((k) => k.includes('actor="other"')))
})

t.test('default process metrics are available under the vigil_ prefix', async (t) => {
  const m = createWebMetrics()
  const text = await m.render({ supervisor: () => supervisor, alertCounts: () => ({ info: 0, warning: 0, critical: 0 }) })
  t.match(text, /vigil_process_resident_memory_bytes/)
})
