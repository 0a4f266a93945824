import t, { type Test } from 'tap'
import { mkdir, symlink, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { pino } from 'pino'
import { rawRequest as anonymousRequest, startWebRig, TEST_TOKEN, CAMERA_PASSWORD, type WebRig } from '../../helpers/webRig.js'

// The rig has a token, so every route but /health needs it (DESIGN.md §9.1): these tests
// read and write as the operator; security.test.ts covers the refusals.
const rawRequest: typeof anonymousRequest = (base, path, opts = {}) =>
  anonymousRequest(base, path, { ...opts, headers: { Authorization: `Bearer ${TEST_TOKEN}`, ...opts.headers } })

const SESSION_A = '20250102T030405Z-abcdef'
const SESSION_B = '20250103T030405Z-ghijkl'

function capturingLogger() {
  const lines: Array<Record<string, unknown>> = []
  const log = pino({ level: 'debug' }, { write: (line: string) => void lines.push(JSON.parse(line) as Record<string, unknown>) })
  return { log, lines }
}

const json = (r: { body: string }) => JSON.parse(r.body) as Record<string, any>
const post = (rig: WebRig, path: string, body?: unknown, headers: Record<string, string> = {}) =>
  rawRequest(rig.baseUrl, path, {
    method: 'POST',
    headers: body === undefined ? headers : { 'content-type': 'application/json', ...headers },
    ...(body === undefined ? {} : { body: typeof body === 'string' ? body : JSON.stringify(body) }),
  })

function assertJsonError(t: Test, r: { status: number; headers: Record<string, unknown>; body: string }, status: number, code: string) {
  t.equal(r.status, status, `status ${status}`)
  t.match(String(r.headers['content-type']), /^application\/json/)
  const b = json(r)
  t.equal(b['ok'], false)
  t.equal(b['error']?.code, code, `code ${code}`)
  t.type(b['error']?.message, 'string')
}

t.test('web routes', async (t) => {
  const { log, lines } = capturingLogger()
  const rig = await startWebRig({ log, token: TEST_TOKEN, readyCacheMs: 0 })
  t.teardown(() => rig.stop())

  t.test('GET /health: liveness only, fast, nothing secret', async (t) => {
    const r = await rawRequest(rig.baseUrl, '/health')
    t.equal(r.status, 200)
    const b = json(r)
    t.same(Object.keys(b).sort(), ['status', 'uptimeS'])
    t.equal(b['status'], 'ok')
    t.type(b['uptimeS'], 'number')
    t.notMatch(r.body, TEST_TOKEN)
    t.match(String(r.headers['x-trace-id']), /^[0-9a-f]{32}$/, 'a trace id is made')
    t.ok(Number(r.headers['x-response-time-ms']) >= 0, 'X-Response-Time-Ms')
  })

  t.test('trace ids: a safe X-Trace-ID is echoed and reaches the command and every log line', async (t) => {
    const r = await rawRequest(rig.baseUrl, '/api/v1/state', { headers: { 'X-Trace-ID': 'op-trace.0001' } })
    t.equal(r.headers['x-trace-id'], 'op-trace.0001')
    for (const unsafe of ['x'.repeat(200), 'has space', 'semi;colon', '"quoted"']) {
      const u = await rawRequest(rig.baseUrl, '/health', { headers: { 'X-Trace-ID': unsafe } })
      t.match(String(u.headers['x-trace-id']), /^[0-9a-f]{32}$/, `unsafe ${JSON.stringify(unsafe.slice(0, 10))} replaced`)
    }
    const before = rig.commands.length
    const s = await post(rig, '/api/v1/recorder/stop', {}, { 'X-Trace-ID': 'trace-stop-1' })
    t.equal(s.headers['x-trace-id'], 'trace-stop-1')
    t.equal(rig.commands[before]?.traceId, 'trace-stop-1', 'the command carries the request trace id')
    t.equal(rig.commands[before]?.source, 'http')
    const mine = lines.filter((l) => l['traceId'] === 'trace-stop-1')
    t.ok(mine.some((l) => l['msg'] === 'command'), 'the router logged the command with the trace id')
    t.ok(mine.some((l) => l['msg'] === 'request' && l['status'] === 409), 'the request line carries it')
    t.ok(
      lines.filter((l) => l['msg'] === 'request').every((l) => typeof l['traceId'] === 'string'),
      'every request log line has a traceId',
    )
  })

  t.test('a request over 200 ms is logged as slow', async (t) => {
    // 260, not 250: a Node timer may fire a millisecond early against performance.now().
    rig.recorder.delayMs = 260
    t.teardown(() => {
      rig.recorder.delayMs = 0
    })
    const r = await post(rig, '/api/v1/recorder/stop', {}, { 'X-Trace-ID': 'slow-1' })
    t.ok(Number(r.headers['x-response-time-ms']) >= 250)
    const slow = lines.find((l) => l['traceId'] === 'slow-1' && l['msg'] === 'slow request')
    t.ok(slow, 'slow request line')
    t.equal(slow?.['level'], 40, 'at warn')
  })

  t.test('GET /health/ready', async (t) => {
    let r = await rawRequest(rig.baseUrl, '/health/ready')
    t.equal(r.status, 200, r.body)
    let b = json(r)
    t.equal(b['ready'], true)
    t.same(
      b['children'].map((c: { id: string }) => c.id),
      ['camera', 'web'],
    )
    t.equal(b['nats'].connected, true)
    t.equal(b['media'].reachable, true)
    t.type(b['disk'].freeBytes, 'number')
    t.notMatch(r.body, TEST_TOKEN)
    t.notMatch(r.body, CAMERA_PASSWORD)

    rig.nats.connected = false
    r = await rawRequest(rig.baseUrl, '/health/ready')
    t.equal(r.status, 503)
    b = json(r)
    t.equal(b['ready'], false)
    t.same(b['reasons'], ['NATS is not connected'])
    rig.nats.connected = true

    rig.disk.set(10 * 1024 ** 2)
    r = await rawRequest(rig.baseUrl, '/health/ready')
    t.equal(r.status, 503)
    t.match(json(r)['reasons'][0], /disk free/)
    rig.disk.set(50 * 1024 ** 3)

    rig.media.reachable = false
    r = await rawRequest(rig.baseUrl, '/health/ready')
    t.equal(r.status, 200, 'media down is reported, not a reason to be unready')
    t.equal(json(r)['media'].reachable, false)
    rig.media.reachable = true
  })

  t.test('GET /api/v1/state: the full sync, redacted', async (t) => {
    rig.raised.length = 0
    for (let i = 0; i < 25; i++) rig.alerts.add({ severity: 'info', source: 'test', code: `test.n${i}`, message: `alert ${i}` })
    const r = await rawRequest(rig.baseUrl, '/api/v1/state')
    t.equal(r.status, 200)
    const s = json(r)
    t.equal(s['node'], 'webtest')
    t.equal(s['supervisor'], 'running')
    t.equal(s['ports'].flv, 18000)
    t.same(
      s['children'].map((c: { id: string; state: string }) => [c.id, c.state]),
      [
        ['camera', 'streaming'],
        ['web', 'listening'],
      ],
    )
    t.equal(s['actors'].camera.state, 'streaming')
    t.equal(s['actors'].camera.context.frames, 42)
    t.equal(s['actors'].camera.context.password, '[redacted]')
    t.equal(s['actors'].camera.context.credentials, '[redacted]')
    t.equal(s['actors'].camera.context.source, 'rtsp://[redacted]@192.0.2.10/stream1')
    t.equal(s['actors'].web.state, 'listening')
    t.equal(s['alerts'].length, 20, 'the last 20 alerts')
    t.equal(s['alerts'][0].code, 'test.n24', 'newest first')
    t.ok(Date.parse(s['at']) > 0)
    t.notMatch(r.body, CAMERA_PASSWORD)
    t.notMatch(r.body, TEST_TOKEN)
  })

  t.test('GET /api/v1/alerts', async (t) => {
    let r = await rawRequest(rig.baseUrl, '/api/v1/alerts')
    t.equal(r.status, 200)
    const b = json(r)
    t.ok(b['alerts'].length >= 25)
    t.ok(b['counts'].info >= 25)
    t.same(Object.keys(b['counts']).sort(), ['critical', 'info', 'warning'])
    r = await rawRequest(rig.baseUrl, '/api/v1/alerts?limit=2')
    t.equal(json(r)['alerts'].length, 2)
    assertJsonError(t, await rawRequest(rig.baseUrl, '/api/v1/alerts?limit=0'), 400, 'BAD_REQUEST')
    assertJsonError(t, await rawRequest(rig.baseUrl, '/api/v1/alerts?limit=abc'), 400, 'BAD_REQUEST')
    assertJsonError(t, await rawRequest(rig.baseUrl, '/api/v1/alerts?bogus=1'), 400, 'BAD_REQUEST')
  })

  t.test('recorder start/stop through the command router, every code', async (t) => {
    rig.recorder.session = null
    let r = await post(rig, '/api/v1/recorder/start', { name: 'nap' }, { 'X-Idempotency-Key': 'key-1' })
    t.equal(r.status, 200, r.body)
    const first = json(r)['result']
    t.equal(first.name, 'nap')

    r = await post(rig, '/api/v1/recorder/start', { name: 'nap' }, { 'X-Idempotency-Key': 'key-1' })
    t.equal(r.status, 200, 'same key: same session')
    t.equal(json(r)['result'].id, first.id)

    r = await post(rig, '/api/v1/recorder/start', {}, { 'X-Idempotency-Key': 'key-2' })
    assertJsonError(t, r, 409, 'ALREADY_RECORDING')
    r = await post(rig, '/api/v1/recorder/start')
    assertJsonError(t, r, 409, 'ALREADY_RECORDING')

    r = await post(rig, '/api/v1/recorder/stop')
    t.equal(r.status, 200)
    t.equal(json(r)['result'].id, first.id, 'stop answers the finished session')
    assertJsonError(t, await post(rig, '/api/v1/recorder/stop', {}), 409, 'NOT_RECORDING')

    rig.recorder.freeBytes = 123456789
    r = await post(rig, '/api/v1/recorder/start', {})
    assertJsonError(t, r, 507, 'DISK_FULL')
    t.equal(json(r)['error'].details.freeBytes, 123456789, 'the free space travels to the page')
    rig.recorder.freeBytes = 50 * 1024 ** 3

    assertJsonError(t, await post(rig, '/api/v1/recorder/start', { name: 5 }), 400, 'BAD_REQUEST')
    assertJsonError(t, await post(rig, '/api/v1/recorder/start', { nmae: 'typo' }), 400, 'BAD_REQUEST')
    assertJsonError(t, await post(rig, '/api/v1/recorder/start', { name: 'x'.repeat(129) }), 400, 'BAD_REQUEST')
    assertJsonError(t, await post(rig, '/api/v1/recorder/start', '{not json'), 400, 'BAD_REQUEST')
    assertJsonError(t, await post(rig, '/api/v1/recorder/start', '[]'), 400, 'BAD_REQUEST')
    assertJsonError(t, await post(rig, '/api/v1/recorder/start', {}, { 'X-Idempotency-Key': 'k'.repeat(129) }), 400, 'BAD_REQUEST')
    assertJsonError(t, await post(rig, '/api/v1/recorder/start', 'name=x', { 'content-type': 'application/x-www-form-urlencoded' }), 400, 'BAD_REQUEST')
    assertJsonError(t, await post(rig, '/api/v1/recorder/start', { name: 'x'.repeat(70000) }), 400, 'BAD_REQUEST')
    assertJsonError(t, await post(rig, '/api/v1/recorder/stop', { extra: 1 }), 400, 'BAD_REQUEST')

    for (const code of ['UNAVAILABLE', 'TIMEOUT', 'INTERNAL'] as const) {
      rig.recorder.failWith = code
      assertJsonError(t, await post(rig, '/api/v1/recorder/start', {}), code === 'UNAVAILABLE' ? 503 : code === 'TIMEOUT' ? 504 : 500, code)
    }
    rig.recorder.failWith = 'throw'
    r = await post(rig, '/api/v1/recorder/stop', {})
    assertJsonError(t, r, 500, 'INTERNAL')
    rig.recorder.failWith = undefined

    rig.router.setAccepting(false)
    assertJsonError(t, await post(rig, '/api/v1/recorder/start', {}), 503, 'SHUTTING_DOWN')
    rig.router.setAccepting(true)
    t.equal(rig.recorder.session, null, 'nothing started along the way')
  })

  t.test('unknown routes and methods: 404 JSON with the trace headers', async (t) => {
    const r = await rawRequest(rig.baseUrl, '/nope', { headers: { 'X-Trace-ID': 'nf-1' } })
    assertJsonError(t, r, 404, 'NOT_FOUND')
    t.equal(r.headers['x-trace-id'], 'nf-1')
    t.ok(r.headers['x-response-time-ms'] !== undefined)
    assertJsonError(t, await rawRequest(rig.baseUrl, '/api/v1/state', { method: 'DELETE' }), 404, 'NOT_FOUND')
    assertJsonError(t, await rawRequest(rig.baseUrl, '/api/v1/recorder/start'), 404, 'NOT_FOUND')
    const bad = await rawRequest(rig.baseUrl, '/api/v1/%zz')
    assertJsonError(t, bad, 400, 'BAD_REQUEST')
    t.match(String(bad.headers['x-trace-id']), /^[0-9a-f]{32}$/)
    t.ok(bad.headers['x-response-time-ms'] !== undefined)
    assertJsonError(t, await rawRequest(rig.baseUrl, '/api/v1/ws'), 400, 'BAD_REQUEST')
  })

  t.test('recordings: listing and downloads', async (t) => {
    const a = join(rig.dirs.recordings, SESSION_A)
    const b = join(rig.dirs.recordings, SESSION_B)
    await mkdir(a)
    await mkdir(b)
    const session = (id: string, name: string) => ({
      schemaVersion: 1,
      node: 'webtest',
      name,
      id,
      startedAt: '2025-01-02T03:04:05.000Z',
      startedMono: 1,
      state: 'finalized',
      stopReason: 'requested',
      stoppedAt: '2025-01-02T03:05:05.000Z',
      durationMs: 60000,
      segments: [],
      gaps: [],
    })
    await writeFile(join(a, 'session.json'), JSON.stringify(session(SESSION_A, 'nap')))
    await writeFile(join(a, 'seg-00001.mp4'), Buffer.from('0123456789'))
    await writeFile(join(a, 'seg-00002.mp4'), Buffer.from('abcdefghij'))
    await writeFile(join(a, 'notes.txt'), 'not ours')
    await writeFile(join(b, 'session.json'), '{half written')
    await mkdir(join(rig.dirs.recordings, 'notes_2024'))
    await symlink(rig.dataDir, join(rig.dirs.recordings, '20250104T000000Z-zzzzzz'))

    const r = await rawRequest(rig.baseUrl, '/api/v1/recordings')
    t.equal(r.status, 200)
    const sessions = json(r)['sessions'] as Array<Record<string, any>>
    t.same(
      sessions.map((s) => s['id']),
      [SESSION_B, SESSION_A],
      'owned real dirs only, newest first (no symlinked dir, no notes_2024)',
    )
    const sa = sessions[1]!
    t.match(sa, { valid: true, name: 'nap', state: 'finalized', durationMs: 60000, segments: 2, bytes: 20 })
    t.same(
      sa['files'].map((f: { name: string }) => f.name),
      ['seg-00001.mp4', 'seg-00002.mp4', 'session.json'],
    )
    t.equal(sa['files'][0].url, `/recordings/${SESSION_A}/seg-00001.mp4`)
    t.match(sessions[0], { id: SESSION_B, valid: false, segments: 0 })
    t.equal(json(await rawRequest(rig.baseUrl, '/api/v1/recordings?limit=1'))['sessions'].length, 1)

    let d = await rawRequest(rig.baseUrl, `/recordings/${SESSION_A}/seg-00001.mp4`)
    t.equal(d.status, 200)
    t.equal(d.body, '0123456789')
    t.equal(d.headers['content-type'], 'video/mp4')
    t.equal(d.headers['accept-ranges'], 'bytes')
    t.ok(d.headers['x-trace-id'])
    t.ok(d.headers['x-response-time-ms'])

    d = await rawRequest(rig.baseUrl, `/recordings/${SESSION_A}/seg-00002.mp4`, { headers: { Range: 'bytes=2-4' } })
    t.equal(d.status, 206)
    t.equal(d.body, 'cde')
    t.equal(d.headers['content-range'], 'bytes 2-4/10')
    d = await rawRequest(rig.baseUrl, `/recordings/${SESSION_A}/seg-00002.mp4`, { headers: { Range: 'bytes=-3' } })
    t.equal(d.body, 'hij')
    d = await rawRequest(rig.baseUrl, `/recordings/${SESSION_A}/seg-00002.mp4`, { headers: { Range: 'bytes=50-' } })
    t.equal(d.status, 416)
    t.equal(d.headers['content-range'], 'bytes */10')

    d = await rawRequest(rig.baseUrl, `/recordings/${SESSION_A}/seg-00001.mp4`, { method: 'HEAD' })
    t.equal(d.status, 200)
    t.equal(d.headers['content-length'], '10')
    t.equal(d.body, '')

    d = await rawRequest(rig.baseUrl, `/recordings/${SESSION_A}/session.json`)
    t.equal(d.status, 200)
    t.match(String(d.headers['content-type']), /^application\/json/)
    t.equal(JSON.parse(d.body).name, 'nap')

    assertJsonError(t, await rawRequest(rig.baseUrl, `/recordings/${SESSION_A}/seg-00009.mp4`), 404, 'NOT_FOUND')
    assertJsonError(t, await rawRequest(rig.baseUrl, `/recordings/20250109T000000Z-nonexi/seg-00001.mp4`), 404, 'NOT_FOUND')
    assertJsonError(t, await rawRequest(rig.baseUrl, `/recordings/${SESSION_A}/notes.txt`), 400, 'BAD_REQUEST')
  })

  t.test('snapshots: download', async (t) => {
    const name = 'snap-20250102T030405123Z-1.jpg'
    await writeFile(join(rig.dirs.snapshots, name), Buffer.from([0xff, 0xd8, 0xff, 0xd9]))
    const d = await rawRequest(rig.baseUrl, `/snapshots/${name}`)
    t.equal(d.status, 200)
    t.equal(d.headers['content-type'], 'image/jpeg')
    t.equal(d.headers['content-length'], '4')
    assertJsonError(t, await rawRequest(rig.baseUrl, '/snapshots/snap-20250102T030405123Z-2.jpg'), 404, 'NOT_FOUND')
  })

  t.test('GET /metrics', async (t) => {
    const r = await rawRequest(rig.baseUrl, '/metrics')
    t.equal(r.status, 200)
    t.match(String(r.headers['content-type']), /^text\/plain; version=0\.0\.4/)
    for (const name of [
      'vigil_actor_state',
      'vigil_child_restarts_total',
      'vigil_child_up',
      'vigil_recording_bytes',
      'vigil_recording_segments',
      'vigil_alerts_total',
      'vigil_command_duration_seconds',
      'vigil_frames_dropped_total',
      'vigil_http_request_duration_seconds',
    ]) {
      t.match(r.body, new RegExp(`# TYPE ${name} `), name)
    }
    t.match(r.body, /vigil_actor_state\{[^}]*actor="camera"[^}]*state="streaming"[^}]*\} 1/)
    t.match(r.body, /vigil_command_duration_seconds_count\{[^}]*actor="recorder"[^}]*verb="start"[^}]*code="ALREADY_RECORDING"/)
    t.notMatch(r.body, TEST_TOKEN)
    const unparsable = r.body
      .split('\n')
      .filter((line) => line !== '' && !line.startsWith('#'))
      .filter((line) => !/^[a-zA-Z_:][a-zA-Z0-9_:]*(\{.*\})? (-?[0-9.e+-]+|NaN|\+Inf|-Inf)$/.test(line))
    t.same(unparsable, [], 'every sample line parses')
  })

  t.test('the live view and its assets', async (t) => {
    const page = await rawRequest(rig.baseUrl, '/')
    t.equal(page.status, 200)
    t.match(String(page.headers['content-type']), /^text\/html/)
    t.match(String(page.headers['content-security-policy']), /default-src 'self'/)
    for (const id of ['live-video', 'record-start', 'record-stop', 'record-status', 'record-error', 'actor-states', 'alerts', 'ws-status']) {
      t.match(page.body, `data-testid="${id}"`, id)
    }
    t.notMatch(page.body, /https?:\/\/(?!127)/, 'no CDN')
    const app = await rawRequest(rig.baseUrl, '/static/app.js')
    t.equal(app.status, 200)
    t.match(String(app.headers['content-type']), /javascript/)
    const css = await rawRequest(rig.baseUrl, '/static/style.css')
    t.equal(css.status, 200)
    const mpegts = await rawRequest(rig.baseUrl, '/static/vendor/mpegts.js')
    t.equal(mpegts.status, 200)
    t.match(mpegts.body, /mpegts/)
    assertJsonError(t, await rawRequest(rig.baseUrl, '/static/nope.js'), 404, 'NOT_FOUND')
    const up = await rawRequest(rig.baseUrl, '/static/../package.json')
    t.not(up.status, 200)
    t.notMatch(up.body, /"name": "vigil"/)
  })
})
