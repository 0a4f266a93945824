import t from 'tap'
import { createActor, createMachine } from 'xstate'
import { REDACTED, isSecretKey, redact, redactString } from '../../../actors/web/redact.js'

t.test('secret keys are dropped, ordinary ones kept', async (t) => {
  for (const k of ['token', 'password', 'secret', 'key', 'credentials', 'apiKey', 'api_key', 'authToken', 'webToken', 'privateKey', 'Authorization', 'PASSWORD']) {
    t.ok(isSecretKey(k), k)
  }
  for (const k of ['idempotencyKey', 'keyframes', 'tokens', 'name', 'monkey', 'state']) t.notOk(isSecretKey(k), k)
})

t.test('URL credentials are removed from any string', async (t) => {
  t.equal(redactString('rtsp://admin:pw@10.0.0.2:554/s'), `rtsp://${REDACTED}@10.0.0.2:554/s`)
  t.equal(redactString('ffmpeg: rtsp://u:p@cam/x: 401 Unauthorized'), `ffmpeg: rtsp://${REDACTED}@cam/x: 401 Unauthorized`)
  t.equal(redactString('nats://a:b@h:4222, nats://c:d@g:4222'), `nats://${REDACTED}@h:4222, nats://${REDACTED}@g:4222`)
  t.equal(redactString('rtsp://cam/x'), 'rtsp://cam/x')
  t.equal(redactString('the token is abc123xyz', ['abc123xyz']), `the token is ${REDACTED}`)
})

t.test('a context becomes safe JSON', async (t) => {
  const ref = createActor(createMachine({ id: 'child' })).start()
  const cyclic: Record<string, unknown> = { name: 'loop' }
  cyclic['self'] = cyclic
  const ctx = {
    source: 'rtsp://admin:hunter2@cam/stream',
    nested: { password: 'hunter2', deeper: { token: 'x', keep: 1 } },
    frame: Buffer.alloc(1_000_000),
    child: ref,
    fn: () => 1,
    big: 12n,
    nan: Number.NaN,
    when: new Date(0),
    err: new Error('failed rtsp://u:p@h/'),
    list: Array.from({ length: 150 }, (_, i) => i),
    map: new Map([['a', 1]]),
    cyclic,
    shared: [cyclic, cyclic],
  }
  const out = redact(ctx) as Record<string, any>
  const text = JSON.stringify(out)
  t.notMatch(text, /hunter2/)
  t.equal(out['nested'].password, REDACTED)
  t.equal(out['nested'].deeper.token, REDACTED)
  t.equal(out['nested'].deeper.keep, 1)
  t.equal(out['frame'], '<1000000 bytes>')
  t.same(out['child'], { actorRef: ref.id })
  t.notOk('fn' in out)
  t.equal(out['big'], '12')
  t.equal(out['nan'], 'NaN')
  t.equal(out['when'], '1970-01-01T00:00:00.000Z')
  t.same(out['err'], { error: `failed rtsp://${REDACTED}@h/` })
  t.equal(out['list'].length, 101)
  t.same(out['map'], { a: 1 })
  t.equal(out['cyclic'].self, '[circular]')
  t.equal(out['shared'][1].name, 'loop', 'a shared (non-cyclic) reference is kept')
  ref.stop()
})
