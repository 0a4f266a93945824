import t from 'tap'
import { openWs, rawRequest, startWebRig, TEST_TOKEN, webActorOutcome } from '../../helpers/webRig.js'
import { waitFor } from '../../helpers/wait.js'

/**
 * The token path of a public bind. A test cannot bind a non-loopback address
 * portably (the whole 127/8 is loopback on Linux), so the server is built with
 * `forceAuth`: the same policy object a public bind produces.
 */

const json = (r: { body: string }) => JSON.parse(r.body) as Record<string, any>
const start = (rig: { baseUrl: string }, headers: Record<string, string> = {}) =>
  rawRequest(rig.baseUrl, '/api/v1/recorder/start', { method: 'POST', headers: { 'content-type': 'application/json', ...headers }, body: '{}' })
const stop = (rig: { baseUrl: string }, headers: Record<string, string> = {}) =>
  rawRequest(rig.baseUrl, '/api/v1/recorder/stop', { method: 'POST', headers: { 'content-type': 'application/json', ...headers }, body: '{}' })

t.test('auth required: every read, every mutation and the WebSocket need credentials (here the bearer token)', async (t) => {
  const rig = await startWebRig({ token: TEST_TOKEN, forceAuth: true })
  t.teardown(() => rig.stop())
  const wsUrl = `ws://127.0.0.1:${rig.port}/api/v1/ws`

  let r = await start(rig)
  t.equal(r.status, 401)
  t.match(json(r), { ok: false, error: { code: 'UNAUTHORIZED' } })
  t.equal(r.headers['www-authenticate'], 'Bearer realm="vigil"')
  t.ok(r.headers['x-trace-id'])
  r = await start(rig, { Authorization: 'Bearer not-the-token-at-all' })
  t.equal(r.status, 401)
  t.match(json(r), { error: { code: 'UNAUTHORIZED', message: 'wrong token' } })
  r = await start(rig, { Authorization: `Basic ${Buffer.from(`u:${TEST_TOKEN}`).toString('base64')}` })
  t.equal(r.status, 401, 'only the Bearer scheme')
  r = await rawRequest(rig.baseUrl, '/api/v1/recorder/start', { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{broken' })
  t.equal(r.status, 401, 'refused before the body is read: no hints about the API to a stranger')
  t.equal(rig.recorder.session, null, 'nothing ran')

  r = await start(rig, { Authorization: `Bearer ${TEST_TOKEN}` })
  t.equal(r.status, 200, r.body)
  t.equal((await stop(rig)).status, 401)
  t.equal((await stop(rig, { Authorization: `Bearer ${TEST_TOKEN}` })).status, 200)

  // Reads too (DESIGN.md §9.1 replaced "mutations only"): security.test.ts walks every route.
  for (const path of ['/health/ready', '/api/v1/state', '/api/v1/alerts', '/api/v1/recordings', '/metrics']) {
    const g = await rawRequest(rig.baseUrl, path)
    t.equal(g.status, 401, `${path}: no read without credentials`)
    t.notMatch(g.body, TEST_TOKEN, `${path}: the token never appears`)
    const ok = await rawRequest(rig.baseUrl, path, { headers: { Authorization: `Bearer ${TEST_TOKEN}` } })
    t.equal(ok.status, 200, `${path}: read with the token`)
    t.notMatch(ok.body, TEST_TOKEN, `${path}: the token never appears`)
    t.notMatch(ok.body, /fingerprint/i, `${path}: no fingerprint`)
  }
  t.equal((await rawRequest(rig.baseUrl, '/health')).status, 200, 'liveness stays public')
  const health = json(await rawRequest(rig.baseUrl, '/health'))
  t.same(Object.keys(health).sort(), ['status', 'uptimeS'])

  const refused = await openWs(wsUrl).then(
    () => null,
    (err: { status?: number; body?: string }) => err,
  )
  t.equal(refused?.status, 401, 'WebSocket without the token is refused before the upgrade')
  t.match(refused?.body ?? '', /"code":"UNAUTHORIZED"/)
  const wrong = await openWs(wsUrl, { protocols: ['vigil', 'vigil.bearer.wrong-token-1234567'] }).then(
    () => null,
    (err: { status?: number }) => err,
  )
  t.equal(wrong?.status, 401)

  const viaHeader = await openWs(wsUrl, { headers: { Authorization: `Bearer ${TEST_TOKEN}` } })
  t.equal((await viaHeader.next((m) => m['type'] === 'sync_response'))['type'], 'sync_response')
  viaHeader.close()
  const viaProtocol = await openWs(wsUrl, { protocols: ['vigil', `vigil.bearer.${TEST_TOKEN}`] })
  const sync = await viaProtocol.next((m) => m['type'] === 'sync_response')
  t.notMatch(JSON.stringify(sync), TEST_TOKEN, 'the sync does not carry the token')
  t.equal((viaProtocol.socket as unknown as { protocol: string }).protocol, 'vigil', 'the server answers the plain protocol, never the token')
  viaProtocol.close()
})

t.test('loopback: no token needed, but a cross-site browser request is refused', async (t) => {
  const rig = await startWebRig()
  t.teardown(() => rig.stop())
  let r = await start(rig)
  t.equal(r.status, 200, 'no auth on loopback')
  r = await stop(rig, { Origin: 'http://evil.example' })
  t.equal(r.status, 403)
  t.match(json(r), { ok: false, error: { code: 'FORBIDDEN' } })
  t.not(rig.recorder.session, null, 'the cross-site stop did nothing')
  r = await stop(rig, { Origin: `http://127.0.0.1:${rig.port}` })
  t.equal(r.status, 200, 'the page itself (same origin) may')

  const cross = await openWs(`ws://127.0.0.1:${rig.port}/api/v1/ws`, { headers: { Origin: 'http://evil.example' } }).then(
    () => null,
    (err: { status?: number }) => err,
  )
  t.equal(cross?.status, 403, 'a foreign page cannot read the rig over the WebSocket')
})

t.test('a public bind without a token refuses to start, with the reason', async (t) => {
  const { state, output, raised } = await webActorOutcome({ host: '0.0.0.0', port: 0 })
  t.equal(state, 'failed')
  t.equal(output?.normal, false)
  t.match(output?.reason, /not loopback and no web\.token is set \(nor web\.users\).*VIGIL_WEB_TOKEN.*vigil passwd/)
  t.match(raised, [{ source: 'web', code: 'web.down' }])
})
