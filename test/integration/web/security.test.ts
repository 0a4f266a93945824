import t, { type Test } from 'tap'
import { mkdir, writeFile } from 'node:fs/promises'
import { connect } from 'node:net'
import { join } from 'node:path'
import { hashPassword } from '../../../actors/web/security/passwords.js'
import { routeTable } from '../../../actors/web/security/index.js'
import { createSecurityState } from '../../../actors/web/security/state.js'
import { loginCookie, openWs, rawRequest, startWebRig, TEST_TOKEN, type RawResponse, type WebRig } from '../../helpers/webRig.js'

/**
 * The attack suite of DESIGN.md §9.1, web side: one test per rule, each written
 * to fail on the first stage's server (reads open, no Host check, headers only on
 * the page, /static/index.html a frameable copy).
 */

const SESSION = '20250102T030405Z-abcdef'
const SEGMENT = 'seg-00001.mp4'
const SNAP = 'snap-20250102T030405123Z-1.jpg'
const VIEWER = { name: 'grandma', password: 'correct horse battery staple', role: 'viewer' as const }
const OPERATOR = { name: 'parent', password: 'another long passphrase 42', role: 'operator' as const }

const json = (r: { body: string }) => JSON.parse(r.body) as Record<string, any>
const startBody = { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{}' }

async function seedFiles(rig: WebRig): Promise<void> {
  await mkdir(join(rig.dirs.recordings, SESSION), { recursive: true })
  await writeFile(join(rig.dirs.recordings, SESSION, SEGMENT), 'segment-bytes')
  await writeFile(join(rig.dirs.snapshots, SNAP), 'jpeg-bytes')
}

/** A concrete URL for a route pattern: wildcards and params filled with names that exist. */
function concrete(url: string): string {
  if (url === '/recordings/*') return `/recordings/${SESSION}/${SEGMENT}`
  if (url === '/snapshots/*') return `/snapshots/${SNAP}`
  return url.replace(':file', url.startsWith('/inspect') ? 'inspect.js' : 'app.js').replace('*', 'x')
}

function assertSecurityHeaders(t: Test, r: RawResponse, what: string, opts: { tls?: boolean } = {}): void {
  const csp = String(r.headers['content-security-policy'] ?? '')
  t.match(csp, /frame-ancestors 'none'/, `${what}: CSP frame-ancestors 'none'`)
  t.match(csp, /connect-src 'self'(;|$)/, `${what}: CSP connect-src 'self' only`)
  t.notMatch(csp, /\b(http|https|ws|wss):(\s|;|$)/, `${what}: no scheme-wide sources`)
  t.equal(r.headers['x-frame-options'], 'DENY', `${what}: X-Frame-Options`)
  t.equal(r.headers['x-content-type-options'], 'nosniff', `${what}: nosniff`)
  t.match(String(r.headers['referrer-policy']), /^(no-referrer|same-origin)$/, `${what}: Referrer-Policy`)
  if (opts.tls) t.match(String(r.headers['strict-transport-security']), /max-age=\d+/, `${what}: HSTS under TLS`)
  else t.equal(r.headers['strict-transport-security'], undefined, `${what}: no HSTS over plain HTTP`)
}

t.test('DNS rebinding: a Host not on the allow-list is refused with 421 before routing', async (t) => {
  // The worst case: loopback, no credentials, everything open to the machine's own browser.
  const rig = await startWebRig({ allowedHosts: ['rig.lan'] })
  t.teardown(() => rig.stop())
  await seedFiles(rig)
  const evil = { Host: `evil.example:${rig.port}`, Origin: `http://evil.example:${rig.port}` }
  for (const [method, path] of [
    ['GET', '/api/v1/state'],
    ['GET', '/api/v1/alerts'],
    ['GET', '/'],
    ['GET', `/recordings/${SESSION}/${SEGMENT}`],
    ['GET', `/snapshots/${SNAP}`],
    ['GET', '/metrics'],
    ['GET', '/health'],
    ['POST', '/api/v1/recorder/start'],
    ['GET', '/no/such/route'],
  ] as const) {
    const r = await rawRequest(rig.baseUrl, path, method === 'POST' ? { ...startBody, headers: { ...startBody.headers, ...evil } } : { headers: evil })
    t.equal(r.status, 421, `${method} ${path}: 421`)
    t.match(json(r), { ok: false, error: { code: 'MISDIRECTED' } }, `${method} ${path}: the JSON error`)
    t.notMatch(r.body, /segment-bytes|jpeg-bytes/, `${method} ${path}: nothing served`)
    assertSecurityHeaders(t, r, `421 ${path}`)
  }
  t.equal(rig.recorder.session, null, 'the rebound POST started nothing')
  const ws = await openWs(`ws://127.0.0.1:${rig.port}/api/v1/ws`, { headers: evil }).then(
    (p) => (p.close(), null),
    (err: { status?: number }) => err,
  )
  t.equal(ws?.status, 421, 'WebSocket upgrade with a foreign Host: 421')

  for (const host of [`127.0.0.1:${rig.port}`, `localhost:${rig.port}`, `[::1]:${rig.port}`, `rig.lan:${rig.port}`, `RIG.LAN:${rig.port}`]) {
    t.equal((await rawRequest(rig.baseUrl, '/api/v1/state', { headers: { Host: host } })).status, 200, `${host} is on the list`)
  }
  t.equal((await rawRequest(rig.baseUrl, '/api/v1/state', { headers: { Host: `rig.lan:${rig.port + 1}` } })).status, 421, 'the right name on another port is not')
  t.equal((await rawRequest(rig.baseUrl, '/api/v1/state', { headers: { Host: 'localhost' } })).status, 421, 'nor the name without the port')
})

t.test('auth on: every route but the public ones refuses a caller without credentials', async (t) => {
  // Wrong tokens on every route would trip the guessing limit (its own test below).
  const rig = await startWebRig({
    token: TEST_TOKEN,
    inspect: true,
    security: createSecurityState({ loginLimit: { maxFailures: 10_000 } }),
    // The live routes as the rig has them: a still that would show in a body that leaked it.
    live: { sourceUrl: () => 'http://127.0.0.1:9/live/cam.flv', still: () => ({ jpeg: Buffer.from('jpeg-bytes'), ageMs: 0 }) },
  })
  t.teardown(() => rig.stop())
  await seedFiles(rig)
  const table = routeTable(rig.app())
  const urls = new Set(table.map((r) => r.url))
  for (const must of ['/', '/api/v1/state', '/api/v1/alerts', '/api/v1/recordings', '/recordings/*', '/snapshots/*', '/metrics', '/health/ready', '/api/v1/ws', '/inspect', '/api/v1/inspect/state', '/inspect/static/:file', '/live/cam.flv', '/live/still.jpg']) {
    t.ok(urls.has(must), `${must} is in the route table`)
  }
  const publicRoutes = table.filter((r) => r.role === 'public').map((r) => `${r.method} ${r.url}`)
  t.same(
    [...new Set(publicRoutes)].sort(),
    ['GET /health', 'GET /login', 'GET /static/:file', 'GET /static/vendor/mpegts.js', 'GET /static/vendor/mpegts.js.map', 'HEAD /health', 'HEAD /login', 'HEAD /static/:file', 'HEAD /static/vendor/mpegts.js', 'HEAD /static/vendor/mpegts.js.map', 'POST /api/v1/login', 'POST /api/v1/logout'].sort(),
    'exactly these are public: a new route cannot slip out',
  )
  let checked = 0
  for (const route of table) {
    if (route.role === 'public') continue
    const path = concrete(route.url)
    // No body on a DELETE (Node's client sends it without a length: the parser refuses the request).
    const opts = route.method === 'GET' || route.method === 'HEAD' || route.method === 'DELETE' ? { method: route.method } : { ...startBody, method: route.method }
    for (const [label, headers] of [
      ['no credentials', {}],
      ['a forged session', { Cookie: 'vigil_session=AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA' }],
      ['a wrong token', { Authorization: 'Bearer not-the-token-at-all-xx' }],
    ] as const) {
      const r = await rawRequest(rig.baseUrl, path, { ...opts, headers: { ...('headers' in opts ? opts.headers : {}), ...headers } })
      if (route.method === 'GET' && (route.url === '/' || route.url === '/inspect' || route.url === '/recordings')) {
        t.equal(r.status, 303, `${route.method} ${path} (${label}): a page sends the browser to /login`)
        t.equal(r.headers['location'], '/login')
      } else {
        t.equal(r.status, 401, `${route.method} ${path} (${label}): 401`)
      }
      t.notMatch(r.body, /segment-bytes|jpeg-bytes|"children"|vigil_http/, `${route.method} ${path} (${label}): nothing served`)
    }
    checked += 1
  }
  t.ok(checked >= 20, `walked ${checked} guarded routes`)
  t.equal((await rawRequest(rig.baseUrl, '/no/such/route')).status, 401, 'an unknown URL tells a stranger nothing either')
  t.equal(rig.recorder.session, null, 'nothing started')
  const ws = await openWs(`ws://127.0.0.1:${rig.port}/api/v1/ws`).then(
    (p) => (p.close(), null),
    (err: { status?: number }) => err,
  )
  t.equal(ws?.status, 401, 'the WebSocket too')

  // The public ones answer without credentials.
  t.equal((await rawRequest(rig.baseUrl, '/health')).status, 200)
  t.equal((await rawRequest(rig.baseUrl, '/login')).status, 200)
  t.equal((await rawRequest(rig.baseUrl, '/static/app.js')).status, 200)
  t.equal((await rawRequest(rig.baseUrl, '/static/vendor/mpegts.js')).status, 200)
})

t.test('roles: a viewer watches and reads, only an operator records', async (t) => {
  const users = [
    { name: VIEWER.name, passwordHash: await hashPassword(VIEWER.password), role: VIEWER.role },
    { name: OPERATOR.name, passwordHash: await hashPassword(OPERATOR.password), role: OPERATOR.role },
  ]
  const rig = await startWebRig({ users })
  t.teardown(() => rig.stop())
  await seedFiles(rig)
  const viewer = await loginCookie(rig.baseUrl, { user: VIEWER.name, password: VIEWER.password })
  for (const path of ['/api/v1/state', '/api/v1/alerts', '/api/v1/recordings', `/recordings/${SESSION}/${SEGMENT}`, `/snapshots/${SNAP}`, '/metrics', '/']) {
    t.equal((await rawRequest(rig.baseUrl, path, { headers: { Cookie: viewer } })).status, 200, `viewer reads ${path}`)
  }
  const ws = await openWs(`ws://127.0.0.1:${rig.port}/api/v1/ws`, { headers: { Cookie: viewer } })
  t.equal((await ws.next((m) => m['type'] === 'sync_response'))['type'], 'sync_response', 'viewer watches over the WebSocket (cookie)')
  ws.close()
  for (const path of ['/api/v1/recorder/start', '/api/v1/recorder/stop']) {
    const r = await rawRequest(rig.baseUrl, path, { ...startBody, headers: { ...startBody.headers, Cookie: viewer } })
    t.equal(r.status, 403, `viewer: ${path} is 403`)
    t.match(json(r), { ok: false, error: { code: 'FORBIDDEN' } })
  }
  t.equal(rig.recorder.session, null, 'the viewer started nothing')
  const operator = await loginCookie(rig.baseUrl, { user: OPERATOR.name, password: OPERATOR.password })
  t.equal((await rawRequest(rig.baseUrl, '/api/v1/recorder/start', { ...startBody, headers: { ...startBody.headers, Cookie: operator } })).status, 200, 'operator starts')
  t.equal((await rawRequest(rig.baseUrl, '/api/v1/recorder/stop', { ...startBody, headers: { ...startBody.headers, Cookie: operator } })).status, 200, 'operator stops')

  const wrong = await rawRequest(rig.baseUrl, '/api/v1/login', { ...startBody, body: JSON.stringify({ user: VIEWER.name, password: 'nope' }) })
  t.equal(wrong.status, 401)
  t.equal(wrong.headers['set-cookie'], undefined, 'no cookie for a wrong password')
  const unknown = await rawRequest(rig.baseUrl, '/api/v1/login', { ...startBody, body: JSON.stringify({ user: 'nobody', password: 'nope' }) })
  t.same(json(unknown), json(wrong), 'an unknown name reads exactly like a wrong password')
})

t.test('the session cookie: HttpOnly, SameSite=Strict, Path=/, expires, not Secure over plain HTTP', async (t) => {
  const rig = await startWebRig({ token: TEST_TOKEN })
  t.teardown(() => rig.stop())
  const r = await rawRequest(rig.baseUrl, '/api/v1/login', { ...startBody, body: JSON.stringify({ token: TEST_TOKEN }) })
  t.equal(r.status, 200)
  t.match(json(r), { ok: true, role: 'operator' })
  t.notMatch(r.body, TEST_TOKEN)
  const cookie = String([r.headers['set-cookie']].flat()[0])
  t.match(cookie, /^vigil_session=[A-Za-z0-9_-]{43};/)
  const flags = cookie.split(';').map((s) => s.trim().toLowerCase())
  t.ok(flags.includes('httponly'), 'HttpOnly')
  t.ok(flags.includes('samesite=strict'), 'SameSite=Strict')
  t.ok(flags.includes('path=/'), 'Path=/')
  t.ok(flags.some((f) => /^max-age=\d+$/.test(f) && Number(f.split('=')[1]) > 0), 'Max-Age')
  t.ok(flags.some((f) => f.startsWith('expires=')), 'Expires')
  t.notOk(flags.includes('secure'), 'not Secure over plain HTTP (the browser would drop it)')
  t.equal(r.headers['cache-control'], 'no-store')
})

t.test('logout ends the session on the server: the old cookie is refused', async (t) => {
  let now = Date.now()
  const security = createSecurityState({ sessionTtlMs: 60_000, now: () => now })
  const rig = await startWebRig({ token: TEST_TOKEN, security })
  t.teardown(() => rig.stop())
  const cookie = await loginCookie(rig.baseUrl, { token: TEST_TOKEN })
  t.equal((await rawRequest(rig.baseUrl, '/api/v1/state', { headers: { Cookie: cookie } })).status, 200, 'logged in')
  const out = await rawRequest(rig.baseUrl, '/api/v1/logout', { method: 'POST', headers: { Cookie: cookie } })
  t.equal(out.status, 200)
  t.match(String([out.headers['set-cookie']].flat()[0]), /^vigil_session=;.*Max-Age=0/, 'the cookie is cleared in the browser')
  const after = await rawRequest(rig.baseUrl, '/api/v1/state', { headers: { Cookie: cookie } })
  t.equal(after.status, 401, 'a copy of the old cookie is dead')

  const again = await loginCookie(rig.baseUrl, { token: TEST_TOKEN })
  t.equal((await rawRequest(rig.baseUrl, '/api/v1/state', { headers: { Cookie: again } })).status, 200)
  now += 61_000
  t.equal((await rawRequest(rig.baseUrl, '/api/v1/state', { headers: { Cookie: again } })).status, 401, 'an expired session is refused')
})

t.test('failed logins are rate limited per client address (429 + Retry-After)', async (t) => {
  const users = [{ name: OPERATOR.name, passwordHash: await hashPassword(OPERATOR.password), role: OPERATOR.role }]
  const security = createSecurityState({ loginLimit: { maxFailures: 3, windowMs: 60_000 } })
  const rig = await startWebRig({ users, token: TEST_TOKEN, security })
  t.teardown(() => rig.stop())
  const attempt = (password: string, localAddress = '127.0.0.1') =>
    rawRequest(rig.baseUrl, '/api/v1/login', { ...startBody, localAddress, body: JSON.stringify({ user: OPERATOR.name, password }) })
  for (let i = 0; i < 3; i++) t.equal((await attempt(`guess-${i}`)).status, 401, `guess ${i + 1}: 401`)
  const limited = await attempt('guess-4')
  t.equal(limited.status, 429, 'the next guess: 429')
  t.match(json(limited), { ok: false, error: { code: 'TOO_MANY_REQUESTS' } })
  const wait = Number(limited.headers['retry-after'])
  t.ok(Number.isInteger(wait) && wait > 0 && wait <= 60, `Retry-After ${limited.headers['retry-after']}`)
  t.equal((await attempt(OPERATOR.password)).status, 429, 'even the right password waits: guessing costs time')
  const bearer = await rawRequest(rig.baseUrl, '/api/v1/state', { headers: { Authorization: 'Bearer guessing-the-token-now' } })
  t.equal(bearer.status, 429, 'guessing the token instead is refused too')
  t.equal((await attempt(OPERATOR.password, '127.0.0.2')).status, 200, 'another address is not punished')
})

t.test('security headers on every response: pages, files, JSON, and every error', async (t) => {
  const rig = await startWebRig({ token: TEST_TOKEN, inspect: true })
  t.teardown(() => rig.stop())
  await seedFiles(rig)
  const auth = { Authorization: `Bearer ${TEST_TOKEN}` }
  const cases: Array<[string, string, Parameters<typeof rawRequest>[2], number]> = [
    ['page', '/', { headers: auth }, 200],
    ['login page', '/login', {}, 200],
    ['inspector', '/inspect', { headers: auth }, 200],
    ['inspector asset', '/inspect/static/inspect.js', { headers: auth }, 200],
    ['static file', '/static/app.js', {}, 200],
    ['vendor file', '/static/vendor/mpegts.js', {}, 200],
    ['JSON', '/api/v1/state', { headers: auth }, 200],
    ['liveness', '/health', {}, 200],
    ['metrics', '/metrics', { headers: auth }, 200],
    ['download', `/recordings/${SESSION}/${SEGMENT}`, { headers: auth }, 200],
    ['404', '/no/such/route', { headers: auth }, 404],
    ['404 static', '/static/nope.js', {}, 404],
    ['401', '/api/v1/state', {}, 401],
    ['421', '/health', { headers: { Host: 'evil.example' } }, 421],
    ['400 body', '/api/v1/recorder/start', { method: 'POST', headers: { ...auth, 'content-type': 'application/json' }, body: '{broken' }, 400],
    ['400 name', '/snapshots/..%2fsecret.txt', { headers: auth }, 400],
    ['400 router', '/api/v1/%zz', { headers: auth }, 400],
    ['403', '/api/v1/recorder/stop', { method: 'POST', headers: { ...auth, Origin: 'http://evil.example', 'content-type': 'application/json' }, body: '{}' }, 403],
  ]
  for (const [what, path, opts, status] of cases) {
    const r = await rawRequest(rig.baseUrl, path, opts)
    t.equal(r.status, status, `${what}: ${status}`)
    assertSecurityHeaders(t, r, what)
  }
})

t.test('a request the HTTP parser refuses is answered with the headers too', async (t) => {
  const rig = await startWebRig()
  t.teardown(() => rig.stop())
  const raw = await new Promise<string>((resolve, reject) => {
    const socket = connect(rig.port, '127.0.0.1', () => socket.write(`GET / HTTP/1.1\r\nHost: 127.0.0.1:${rig.port}\r\nNo colon here\r\n\r\n`))
    let text = ''
    socket.on('data', (c: Buffer) => (text += c.toString('utf8')))
    socket.on('close', () => resolve(text))
    socket.on('error', reject)
  })
  t.match(raw, /^HTTP\/1\.1 400 /)
  t.match(raw, /\r\nContent-Security-Policy: [^\r]*frame-ancestors 'none'/)
  t.match(raw, /\r\nX-Frame-Options: DENY\r\n/)
  t.match(raw, /\r\nX-Content-Type-Options: nosniff\r\n/)
})

t.test('no frameable copy of a page under /static/', async (t) => {
  const rig = await startWebRig()
  t.teardown(() => rig.stop())
  for (const path of ['/static/index.html', '/static/login.html', '/static/inspect/index.html', '/static/', '/static/./index.html', '/static/vendor/../index.html']) {
    const r = await rawRequest(rig.baseUrl, path)
    t.not(r.status, 200, `${path} is not served`)
    t.notMatch(r.body, /<html/i, `${path}: no page`)
    assertSecurityHeaders(t, r, path)
  }
})
