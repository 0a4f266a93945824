import t from 'tap'
import { clearedSessionCookie, cookieValue, sessionCookie } from '../../../../actors/web/security/cookie.js'
import { securityHeaders } from '../../../../actors/web/security/headers.js'
import { createLoginLimiter } from '../../../../actors/web/security/rateLimit.js'
import { roleSatisfies } from '../../../../actors/web/security/roles.js'
import { createSessionStore } from '../../../../actors/web/security/sessions.js'
import { webTlsMode } from '../../../../actors/web/security/tls.js'

t.test('sessions: random ids, expiry, logout, bounded', async (t) => {
  let now = 1000
  const store = createSessionStore({ ttlMs: 100, now: () => now, max: 3 })
  const a = store.create('ann', 'viewer')
  t.match(a.id, /^[A-Za-z0-9_-]{43}$/, '256 random bits')
  t.not(store.create('ann', 'viewer').id, a.id)
  t.same(store.get(a.id), a)
  now += 100
  t.equal(store.get(a.id), undefined, 'expired at expiresAt')
  const b = store.create('bob', 'operator')
  t.ok(store.end(b.id))
  t.equal(store.get(b.id), undefined, 'ended')
  t.notOk(store.end(b.id))
  for (let i = 0; i < 10; i++) store.create(`u${i}`, 'viewer')
  t.ok(store.size() <= 3, 'never more than max')
})

t.test('login limiter: per address, a window, then free again', async (t) => {
  let now = 0
  const l = createLoginLimiter({ maxFailures: 2, windowMs: 10_000, now: () => now })
  t.equal(l.retryAfterS('a'), null)
  l.failed('a')
  t.equal(l.retryAfterS('a'), null)
  l.failed('a')
  t.equal(l.retryAfterS('a'), 10)
  t.equal(l.retryAfterS('b'), null, 'another address')
  now = 9_500
  t.equal(l.retryAfterS('a'), 1, 'rounded up, never 0')
  now = 10_000
  t.equal(l.retryAfterS('a'), null, 'the window ran out')
  l.failed('c')
  l.succeeded('c')
  l.failed('c')
  t.equal(l.retryAfterS('c'), null, 'a success forgets the failures')
  const small = createLoginLimiter({ maxFailures: 1, windowMs: 10_000, now: () => now, maxAddresses: 2 })
  for (const a of ['x', 'y', 'z']) small.failed(a)
  t.equal(small.retryAfterS('z'), 10, 'the newest is kept when the table is full')
})

t.test('the cookie', async (t) => {
  const c = sessionCookie('abc', { maxAgeS: 60, secure: false, now: 0 })
  t.equal(c, 'vigil_session=abc; Path=/; HttpOnly; SameSite=Strict; Max-Age=60; Expires=Thu, 01 Jan 1970 00:01:00 GMT')
  t.match(sessionCookie('abc', { maxAgeS: 60, secure: true }), /; Secure$/)
  t.match(clearedSessionCookie({ secure: false }), /^vigil_session=; .*Max-Age=0/)
  t.equal(cookieValue('a=1; vigil_session=xyz; b=2', 'vigil_session'), 'xyz')
  t.equal(cookieValue('xvigil_session=1', 'vigil_session'), undefined)
  t.equal(cookieValue(undefined, 'vigil_session'), undefined)
})

t.test('headers', async (t) => {
  const h = securityHeaders({ tls: false })
  t.match(h['Content-Security-Policy'], /frame-ancestors 'none'/)
  t.match(h['Content-Security-Policy'], /connect-src 'self';/)
  t.equal(h['X-Frame-Options'], 'DENY')
  t.equal(h['Strict-Transport-Security'], undefined)
  t.match(securityHeaders({ tls: true })['Strict-Transport-Security'], /^max-age=\d+$/)
})

t.test('roles', async (t) => {
  t.ok(roleSatisfies('operator', 'viewer'))
  t.ok(roleSatisfies('viewer', 'viewer'))
  t.notOk(roleSatisfies('viewer', 'operator'))
})

t.test('web.tls: auto is on exactly for a non-loopback bind', async (t) => {
  t.same(webTlsMode('auto', '127.0.0.1', '/d'), { kind: 'off' })
  t.same(webTlsMode('auto', 'localhost', '/d'), { kind: 'off' })
  t.same(webTlsMode('auto', '0.0.0.0', '/d'), { kind: 'self-signed', dir: '/d/tls' })
  t.same(webTlsMode('auto', '192.168.1.5', '/d'), { kind: 'self-signed', dir: '/d/tls' })
  t.same(webTlsMode('off', '0.0.0.0', '/d'), { kind: 'off' }, 'behind a proxy, said explicitly')
  t.same(webTlsMode({ cert: '/c.pem', key: '/k.pem' }, '127.0.0.1', '/d'), { kind: 'files', cert: '/c.pem', key: '/k.pem' })
})
