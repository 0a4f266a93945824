import t from 'tap'
import { createHmac } from 'node:crypto'
import { mkdtemp, readdir, readFile, rm, stat, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { signBody, verifySignature } from '../../../actors/notify/signature.js'
import { aboutItself, messageOf, render, wants } from '../../../actors/notify/message.js'
import { NotifyOutbox } from '../../../actors/notify/outbox.js'
import { ConfigError, loadConfig } from '../../../infra/config/load.js'
import { silentLogger } from '../../../infra/logger.js'

t.test('HMAC signature: sha256=<hex HMAC-SHA256 of the exact body>, checked in constant time', async (t) => {
  const secret = 'a-webhook-secret-of-32-characters'
  const body = '{"node":"n","kind":"alert.critical","id":"x"}'
  const header = signBody(secret, body)
  t.equal(header, `sha256=${createHmac('sha256', secret).update(body).digest('hex')}`, 'the documented construction')
  t.match(header, /^sha256=[0-9a-f]{64}$/)
  t.ok(verifySignature(secret, body, header))
  t.ok(verifySignature(secret, Buffer.from(body), header), 'over the raw bytes as received')
  t.notOk(verifySignature(secret, `${body} `, header), 'one byte more: refused')
  t.notOk(verifySignature('another-secret-of-enough-length', body, header), 'another secret: refused')
  t.notOk(verifySignature(secret, body, undefined), 'no header: refused')
  t.notOk(verifySignature(secret, body, 'sha256=00'), 'a short header: refused, no throw')
})

t.test('messages: alert and event bodies carry node, kind, at, id and their fields; ntfy has Title, Priority, Tags', async (t) => {
  const alert = { id: 'a1', node: 'n', source: 'camera', severity: 'critical' as const, code: 'camera.stalled', message: 'no frame for 2 s', at: '2026-01-01T00:00:00.000Z', count: 3, details: { ms: 2000 } }
  const m = messageOf({ type: 'alert', alert }, 'n')!
  t.same(m, { node: 'n', kind: 'alert.critical', at: alert.at, id: 'a1', source: 'camera', severity: 'critical', code: 'camera.stalled', message: 'no frame for 2 s', count: 3, details: { ms: 2000 } })
  const json = render(m, 'json')
  t.same(JSON.parse(json.body), m)
  t.equal(json.headers['Content-Type'], 'application/json')
  t.equal(json.headers['X-Vigil-Id'], 'a1')
  const ntfy = render(m, 'ntfy')
  t.equal(ntfy.body, 'no frame for 2 s', 'plain text')
  t.same([ntfy.headers['Title'], ntfy.headers['Priority'], ntfy.headers['Tags']], ['n: camera.stalled (x3)', '5', 'rotating_light'])
  const ev = messageOf({ type: 'event', kind: 'sound', payload: { id: 'e1', at: '2026-01-01T00:00:01.000Z', db: -12.34, durationMs: 600, node: 'spoof' }, at: 'x' }, 'n')!
  t.same(ev, { node: 'n', kind: 'event.sound', at: '2026-01-01T00:00:01.000Z', id: 'e1', db: -12.34, durationMs: 600 }, 'node and kind are the rig\'s')
  t.match(render(ev, 'ntfy').body, /Sound at -12\.3 dBFS/)
  t.equal(render(ev, 'ntfy').headers['Title'], 'n: sound')
  t.equal(messageOf({ type: 'state', actor: 'camera', state: 'streaming', at: 'x', details: {} }, 'n'), null, 'states are not webhook material')
  const route = { label: 'webhook-1', events: new Set(['alert.*', 'event.motion']), format: 'json' as const }
  t.ok(wants(route, 'alert.info'))
  t.ok(wants(route, 'event.motion'))
  t.notOk(wants(route, 'event.sound'))
  const failed = messageOf({ type: 'alert', alert: { ...alert, source: 'notify', code: 'notify.failed', details: { receiver: 'webhook-1' } } }, 'n')!
  t.ok(aboutItself(route, failed), 'notify.failed about webhook-1 is not sent to webhook-1')
  t.notOk(aboutItself({ ...route, label: 'webhook-2' }, failed), '… but to the others')
  t.equal(render({ ...m, code: 'x\u00e9\ny' }, 'ntfy').headers['Title'], 'n: x??y (x3)', 'a header stays one Latin-1 line')
})

t.test('config: notify.webhooks validated (http/https, known events), VIGIL_NOTIFY_WEBHOOK adds a critical receiver, secrets never shown', async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'vigil-notify-cfg-'))
  t.teardown(() => rm(dir, { recursive: true, force: true }))
  const file = join(dir, 'c.json')
  const write = (notify: unknown) => writeFile(file, JSON.stringify({ node: 'n', notify }))
  await write({ webhooks: [{ url: 'https://hooks.example/a', events: ['alert.critical', 'event.sound'], secret: 'x'.repeat(20) }] })
  const ok = loadConfig({ file, env: { VIGIL_NOTIFY_WEBHOOK: 'http://127.0.0.1:9/h' }, cwd: dir })
  t.same(ok.notify.webhooks.map((w) => [w.url, w.events, w.format]), [
    ['https://hooks.example/a', ['alert.critical', 'event.sound'], 'json'],
    ['http://127.0.0.1:9/h', ['alert.critical'], 'json'],
  ])
  t.same(ok.notify.retry, { initialMs: 1000, factor: 2, maxMs: 60000, windowMs: 1800000 }, 'documented defaults')
  t.equal(ok.notify.timeoutMs, 5000)
  t.equal(ok.notify.maxPending, 10000)
  await write({
    webhooks: [
      { url: 'ftp://user:hunter2hunter2@x/y', events: ['alert.critical'] },
      { url: 'not a url', events: ['event.motoin'], secret: 'short' },
    ],
    retry: { maxMs: 120000 },
  })
  let lines: string[] = []
  try {
    loadConfig({ file, env: {}, cwd: dir })
    t.fail('must throw')
  } catch (err) {
    t.ok(err instanceof ConfigError)
    lines = (err as ConfigError).problems
  }
  const text = lines.join('\n')
  t.match(text, /notify\.webhooks\.1\.secret: /, 'a short secret reported')
  t.match(text, /notify\.retry\.maxMs: /, 'retries more than 60 s apart refused')
  t.notMatch(text, /hunter2|short/, `no secret in: ${text}`)
  await write({ webhooks: [{ url: 'ftp://user:hunter2hunter2@x/y', events: ['alert.critical'] }, { url: 'not a url', events: ['event.motoin'] }] })
  try {
    loadConfig({ file, env: {}, cwd: dir })
    t.fail('must throw')
  } catch (err) {
    const text2 = (err as ConfigError).problems.join('\n')
    t.match(text2, /notify\.webhooks\.0\.url: only http:\/\/ and https:\/\//)
    t.match(text2, /notify\.webhooks\.1\.url: not a URL/)
    t.match(text2, /notify\.webhooks\.1\.events\.0: unknown event "event\.motoin"/)
    t.notMatch(text2, /hunter2/)
  }
})

t.test('outbox: private files, temp+rename, survives a reload in order, bounded (oldest dropped)', async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'vigil-outbox-'))
  t.teardown(() => rm(dir, { recursive: true, force: true }))
  const overflows: string[] = []
  const make = (max = 3) =>
    new NotifyOutbox({ dir: join(dir, 'outbox'), receivers: ['aa', 'bb'], maxPending: max, now: () => 1000, log: silentLogger(), onOverflow: (d) => void overflows.push(d.receiver) })
  const ob = make()
  const d = (id: string) => ({ id, kind: 'alert.critical', body: `{"id":"${id}"}`, headers: { 'Content-Type': 'application/json' } })
  ob.add('aa', d('1'), false)
  ob.add('bb', d('2'), true)
  ob.add('aa', d('3'), false)
  await ob.settled()
  const files = (await readdir(join(dir, 'outbox'))).sort()
  t.equal(files.length, 3)
  t.ok(files.every((f) => !f.startsWith('.tmp-')), 'no temp file left')
  t.equal((await stat(join(dir, 'outbox', files[0]!))).mode & 0o777, 0o600, 'files 0600')
  t.equal((await stat(join(dir, 'outbox'))).mode & 0o777, 0o700, 'dir 0700')
  t.same(JSON.parse(await readFile(join(dir, 'outbox', files[0]!), 'utf8')).id, '1')
  // A crash mid-write, an entry for a receiver since removed: neither comes back.
  await writeFile(join(dir, 'outbox', '.tmp-000000000009-1-aa.json'), '{')
  await writeFile(join(dir, 'outbox', '000000000008-1-zz.json'), '{}')
  const again = make()
  const snap = again.snapshot()
  t.same(snap.pending['aa']!.map((e) => e.name), [files[0], files[2]])
  t.same(snap.pending['bb']!.map((e) => e.quiet), [true], 'quiet kept in the name')
  t.equal((await again.read(files[2]!))!.id, '3', 'read back from disk')
  t.equal((await readdir(join(dir, 'outbox'))).length, 3, 'temp and orphan removed')
  const fourth = again.add('aa', d('4'), false)
  t.ok(fourth.name > files[2]!, 'new names sort after the loaded ones')
  t.same(overflows, ['aa'], 'bounded: the oldest (of aa) dropped, told')
  t.equal(again.size, 3)
  t.same(again.since(files[2]!).map((e) => e.entry.name), [fourth.name])
  await again.remove(fourth.name)
  await again.settled()
  t.notOk((await readdir(join(dir, 'outbox'))).includes(fourth.name), 'removed from disk')
})

t.test('outbox overflow: notify.outbox_full at most once a minute, with the count dropped since the last', async (t) => {
  const { overflowAlerter } = await import('../../../actors/notify/index.js')
  let now = 0
  const raised: Array<Record<string, unknown>> = []
  const drop = overflowAlerter({ alert: (a) => void raised.push(a.details ?? {}), now: () => now, maxPending: 10 })
  for (let i = 0; i < 500; i++) drop({ receiver: 'aa', kind: 'event.motion' })
  t.equal(raised.length, 1, '500 drops in a burst: one alert')
  now = 59_999
  drop({ receiver: 'aa', kind: 'event.motion' })
  t.equal(raised.length, 1)
  now = 60_000
  drop({ receiver: 'aa', kind: 'event.sound' })
  t.equal(raised.length, 2)
  t.same(raised.map((d) => d['dropped']), [1, 501], 'the second tells every drop since the first')
})
