import t from 'tap'
import { authPolicy, authRequired, bearerOf, checkAuth, sameOrigin, tokenMatches, wsProtocolToken } from '../../../actors/web/auth.js'

const TOKEN = 'abcdefghijklmnop-0123'

t.test('auth is required exactly when the bind is not loopback (or forced)', async (t) => {
  for (const host of ['127.0.0.1', '127.0.0.2', '127.255.0.9', 'localhost', '::1']) t.notOk(authRequired(host), host)
  for (const host of ['0.0.0.0', '::', '192.168.1.20', '10.0.0.1', 'camera.local', '::ffff:127.0.0.1']) t.ok(authRequired(host), host)
  t.ok(authRequired('127.0.0.1', { force: true }))
})

t.test('a public bind without a token is refused, with the way out', async (t) => {
  const p = authPolicy('0.0.0.0', undefined)
  t.ok('refused' in p)
  if ('refused' in p) t.match(p.refused, /VIGIL_WEB_TOKEN/)
  t.same(authPolicy('0.0.0.0', TOKEN), { required: true, token: TOKEN })
  t.same(authPolicy('127.0.0.1', undefined), { required: false })
  t.same(authPolicy('127.0.0.1', TOKEN), { required: false }, 'loopback: the token is not asked for')
  t.ok('refused' in authPolicy('127.0.0.1', '', { force: true }))
})

t.test('bearer parsing', async (t) => {
  t.equal(bearerOf(`Bearer ${TOKEN}`), TOKEN)
  t.equal(bearerOf(`bearer  ${TOKEN} `), TOKEN)
  t.equal(bearerOf(`Basic ${TOKEN}`), undefined)
  t.equal(bearerOf('Bearer'), undefined)
  t.equal(bearerOf(`Bearer a b`), undefined)
  t.equal(bearerOf(undefined), undefined)
})

t.test('token comparison', async (t) => {
  t.ok(tokenMatches(TOKEN, TOKEN))
  t.notOk(tokenMatches(TOKEN.slice(0, -1), TOKEN), 'a prefix is not the token')
  t.notOk(tokenMatches(`${TOKEN}x`, TOKEN))
  t.notOk(tokenMatches('', TOKEN))
})

t.test('checkAuth', async (t) => {
  const open = { required: false }
  const closed = { required: true, token: TOKEN }
  t.same(checkAuth(open, {}), { ok: true })
  t.match(checkAuth(closed, {}), { ok: false, reason: /Authorization: Bearer/ })
  t.match(checkAuth(closed, { authorization: 'Bearer wrong-token-value-123' }), { ok: false, reason: 'wrong token' })
  t.same(checkAuth(closed, { authorization: `Bearer ${TOKEN}` }), { ok: true })
  t.same(checkAuth(closed, { 'sec-websocket-protocol': `vigil, vigil.bearer.${TOKEN}` }), { ok: true }, 'browsers send it as a subprotocol')
  t.equal(wsProtocolToken('vigil'), undefined)
})

t.test('same origin', async (t) => {
  t.ok(sameOrigin(undefined, '127.0.0.1:8080'), 'no Origin: not a browser, nothing to check')
  t.ok(sameOrigin('http://127.0.0.1:8080', '127.0.0.1:8080'))
  t.ok(sameOrigin('http://LOCALHOST:8080', 'localhost:8080'))
  t.notOk(sameOrigin('http://evil.example', '127.0.0.1:8080'))
  t.notOk(sameOrigin('http://127.0.0.1:9999', '127.0.0.1:8080'))
  t.notOk(sameOrigin('null', '127.0.0.1:8080'), 'a sandboxed or file: page')
  t.notOk(sameOrigin('http://127.0.0.1:8080', undefined))
})
