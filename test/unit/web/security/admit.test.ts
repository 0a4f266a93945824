import t from 'tap'
import { admit, type AdmitContext, type RequestFacts } from '../../../../actors/web/security/admit.js'
import { allowedHosts } from '../../../../actors/web/security/hostAllowList.js'
import type { Session } from '../../../../actors/web/security/sessions.js'

const TOKEN = 'the-token-0123456789'
const sessions: Record<string, Session> = {
  v: { id: 'v', user: 'ann', role: 'viewer', expiresAt: Infinity },
  o: { id: 'o', user: 'bob', role: 'operator', expiresAt: Infinity },
}
const ctx = (over: Partial<AdmitContext> = {}): AdmitContext => ({
  allowedHosts: allowedHosts({ port: 8080, bindHost: '127.0.0.1' }),
  authOn: true,
  tokenMatches: (g) => g === TOKEN,
  session: (id) => sessions[id],
  retryAfterS: () => null,
  ...over,
})
const req = (over: Partial<RequestFacts> = {}): RequestFacts => ({
  method: 'GET',
  host: '127.0.0.1:8080',
  origin: undefined,
  upgrade: false,
  authorization: undefined,
  cookie: undefined,
  wsProtocol: undefined,
  role: 'viewer',
  ...over,
})

t.test('order: Host first (even before a public route or valid credentials)', async (t) => {
  t.match(admit(req({ host: 'evil.example:8080', role: 'public', authorization: `Bearer ${TOKEN}` }), ctx()), { ok: false, code: 'MISDIRECTED' })
  t.match(admit(req({ host: 'evil.example:8080' }), ctx({ authOn: false })), { ok: false, code: 'MISDIRECTED' })
})

t.test('Origin: checked on mutations and upgrades, not on plain reads', async (t) => {
  const evil = { origin: 'http://evil.example' }
  t.match(admit(req({ ...evil, method: 'POST', role: 'public' }), ctx()), { ok: false, code: 'FORBIDDEN' }, 'even login')
  t.match(admit(req({ ...evil, upgrade: true, cookie: 'vigil_session=o' }), ctx()), { ok: false, code: 'FORBIDDEN' })
  t.match(admit(req({ ...evil, method: 'POST', role: 'operator' }), ctx({ authOn: false })), { ok: false, code: 'FORBIDDEN' }, 'auth off too')
  t.match(admit(req({ ...evil, cookie: 'vigil_session=v' }), ctx()), { ok: true }, 'a GET (an <img>, a link) is not a change')
})

t.test('authentication and roles', async (t) => {
  t.same(admit(req({ role: 'public' }), ctx()), { ok: true, principal: null })
  t.match(admit(req(), ctx({ authOn: false })), { ok: true, principal: { role: 'operator', via: 'none' } })
  t.match(admit(req(), ctx()), { ok: false, code: 'UNAUTHORIZED' })
  t.match(admit(req({ role: undefined }), ctx()), { ok: false, code: 'UNAUTHORIZED' }, 'an unmatched URL needs a viewer')
  t.match(admit(req({ cookie: 'a=b; vigil_session=nope' }), ctx()), { ok: false, code: 'UNAUTHORIZED' })
  t.match(admit(req({ authorization: 'Bearer wrong' }), ctx()), { ok: false, code: 'UNAUTHORIZED', wrongCredential: true })
  t.match(admit(req({ authorization: `Bearer ${TOKEN}`, role: 'operator' }), ctx()), { ok: true, principal: { role: 'operator', via: 'token' } })
  t.match(admit(req({ wsProtocol: `vigil, vigil.bearer.${TOKEN}` }), ctx()), { ok: false, code: 'UNAUTHORIZED' }, 'the subprotocol counts only on an upgrade')
  t.match(admit(req({ upgrade: true, wsProtocol: `vigil, vigil.bearer.${TOKEN}` }), ctx()), { ok: true })
  t.match(admit(req({ cookie: 'vigil_session=v' }), ctx()), { ok: true, principal: { user: 'ann', role: 'viewer', via: 'session' } })
  t.match(admit(req({ cookie: 'vigil_session=v', method: 'POST', role: 'operator' }), ctx()), { ok: false, code: 'FORBIDDEN' }, 'a viewer may not')
  t.match(admit(req({ cookie: 'vigil_session=o', method: 'POST', role: 'operator' }), ctx()), { ok: true })
  t.match(admit(req({ authorization: `Bearer ${TOKEN}` }), ctx({ retryAfterS: () => 30 })), { ok: false, code: 'TOO_MANY_REQUESTS', retryAfterS: 30 }, 'a locked-out address may not try the token')
  t.match(admit(req({ cookie: 'vigil_session=v' }), ctx({ retryAfterS: () => 30 })), { ok: true }, 'a session is not a guess')
})
