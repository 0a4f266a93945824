import t from 'tap'
import { createManualDisk } from '../../../infra/disk.js'
import { cached, createReadiness } from '../../../actors/web/health.js'
import type { SupervisorView } from '../../../actors/web/state.js'
import type { ChildStatusView } from '../../../actors/supervisor/index.js'

const child = (id: string, status: ChildStatusView['status'], state: string = status): ChildStatusView => ({
  id,
  state,
  status,
  restarts: 0,
  pids: [],
  since: new Date(0).toISOString(),
  lastExit: null,
  nextRetryAt: null,
})

function fakeSupervisor(phase: string, children: ChildStatusView[]): SupervisorView & { set(p: string, c: ChildStatusView[]): void } {
  return {
    state: () => phase,
    children: () => children,
    childActor: () => undefined,
    uptimeS: () => 1,
    set(p, c) {
      phase = p
      children = c
    },
  }
}

t.test('cached: one computation per ttl, shared while in flight', async (t) => {
  let now = 0
  let calls = 0
  const get = cached(
    async () => {
      calls += 1
      return calls
    },
    10000,
    () => now,
  )
  const [a, b] = await Promise.all([get(), get()])
  t.equal(a.value, 1)
  t.equal(b.value, 1)
  now = 9999
  t.equal((await get()).value, 1)
  now = 10000
  t.equal((await get()).value, 2)
  t.equal(calls, 2)
})

t.test('readiness: each condition, and the cache of the expensive ones', async (t) => {
  let now = 0
  const sup = fakeSupervisor('running', [child('camera', 'running', 'streaming'), child('web', 'running', 'listening')])
  const disk = createManualDisk(5 * 1024 ** 3)
  const nats = { connected: true }
  let mediaCalls = 0
  const ready = createReadiness({
    supervisor: () => sup,
    natsConnected: () => nats.connected,
    mediaReachable: async () => {
      mediaCalls += 1
      return false
    },
    disk,
    diskPath: '/data/recordings',
    stopBelowBytes: 1024 ** 3,
    monotonic: () => now,
    ttlMs: 10000,
  })

  let r = await ready()
  t.ok(r.ready, 'media down does not gate readiness')
  t.same(r.reasons, [])
  t.equal(r.media.reachable, false)
  t.equal(r.disk.freeBytes, 5 * 1024 ** 3)

  nats.connected = false
  r = await ready()
  t.notOk(r.ready)
  t.same(r.reasons, ['NATS is not connected'], 'NATS is checked on every call (no I/O)')
  nats.connected = true

  sup.set('running', [child('camera', 'failed'), child('web', 'running')])
  r = await ready()
  t.same(r.reasons, ['camera is failed'])
  sup.set('running', [child('camera', 'restarting'), child('web', 'running')])
  t.same((await ready()).reasons, ['camera is restarting'])
  sup.set('starting', [child('camera', 'starting'), child('web', 'running')])
  t.same((await ready()).reasons, ['supervisor is starting'])
  sup.set('running', [child('camera', 'running'), child('web', 'running')])

  disk.set(512 * 1024 ** 2)
  t.ok((await ready()).ready, 'the disk reading is cached for 10 s')
  t.equal(disk.probes, 1)
  t.equal(mediaCalls, 1)
  now = 10001
  r = await ready()
  t.notOk(r.ready)
  t.match(r.reasons[0], /below the recorder's stop threshold/)
  t.equal(disk.probes, 2)
  t.equal(mediaCalls, 2)

  disk.fail(Object.assign(new Error('EIO: i/o error'), { code: 'EIO' }))
  now = 20002
  r = await ready()
  t.notOk(r.ready)
  t.match(r.disk, { freeBytes: null, ok: false, error: 'EIO' })
})
