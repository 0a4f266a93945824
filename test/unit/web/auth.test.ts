import t from 'tap'
import { authPolicy, authRequired, bearerOf, tokenMatches, wsProtocolToken } from '../../../actors/web/auth.js'

const TOKEN = 'abcdefghijklmnop-0123'

t.test('auth is required exactly when the bind is not loopback (or forced)', async (t) => {
  for (const host of ['127.0.0.1', '127.0.0.2', '127.255.0.9', 'localhost', '::1']) t.notOk(authRequired(host), host)
  for (const host of ['0.0.0.0', '::', '192.168.1.20', '10.0.0.1', 'camera.local', '::ffff:127.0.0.1']) t.ok(authRequired(host), host)
  t.ok(authRequired('127.0.0.1', { force: true }))
})

t.test('auth is on with a token or users, and a public bind without either is refused, with the way out', async (t) => {
  const p = authPolicy('0.0.0.0', {})
  t.ok('refused' in p)
  if ('refused' in p) t.match(p.refused, /VIGIL_WEB_TOKEN.*web\.users.*vigil passwd/)
  t.same(authPolicy('0.0.0.0', { token: TOKEN }), { required: true, token: TOKEN, users: [] })
  const users = [{ name: 'ann', passwordHash: 'scrypt$x', role: 'viewer' as const }]
  t.same(authPolicy('0.0.0.0', { users }), { required: true, users }, 'users alone are enough')
  t.same(authPolicy('127.0.0.1', {}), { required: false, users: [] }, 'loopback with nothing configured: open to the machine')
  t.same(authPolicy('127.0.0.1', { token: TOKEN }), { required: true, token: TOKEN, users: [] }, 'loopback with a token: the token is asked for (no more "mutations only")')
  t.same(authPolicy('localhost', { users }), { required: true, users })
  t.ok('refused' in authPolicy('127.0.0.1', { token: '' }, { force: true }))
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

t.test('the WebSocket token subprotocol', async (t) => {
  t.equal(wsProtocolToken(`vigil, vigil.bearer.${TOKEN}`), TOKEN)
  t.equal(wsProtocolToken('vigil'), undefined)
  t.equal(wsProtocolToken(undefined), undefined)
})
