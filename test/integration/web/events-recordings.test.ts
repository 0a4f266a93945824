import t from 'tap'
import { mkdir, readdir, stat, symlink, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { hashPassword } from '../../../actors/web/security/passwords.js'
import { loginCookie, rawRequest, startWebRig, type WebRig } from '../../helpers/webRig.js'

/**
 * DESIGN.md §9.2's API: GET /api/v1/events (the rig's last 200 events, newest first,
 * a bad limit is BAD_REQUEST) and DELETE /api/v1/recordings/<id> (an operator's; owned
 * sessions only, never the one being recorded, never a path outside the recordings dir).
 */

const VIEWER = { name: 'grandma', password: 'correct horse battery staple' }
const OPERATOR = { name: 'parent', password: 'another long passphrase 42' }
const json = (r: { body: string }) => JSON.parse(r.body) as Record<string, any>

async function makeSession(rig: WebRig, id: string, over: Record<string, unknown> = {}): Promise<string> {
  const dir = join(rig.dirs.recordings, id)
  await mkdir(dir, { recursive: true })
  await writeFile(join(dir, 'seg-00001.mp4'), Buffer.alloc(2048))
  const session = {
    schemaVersion: 1,
    node: 'webtest',
    name: 'nap',
    id,
    startedAt: '2026-01-01T00:00:00.000Z',
    startedMono: 1,
    state: 'finalized',
    stopReason: 'requested',
    stoppedAt: '2026-01-01T00:00:10.000Z',
    durationMs: 10000,
    segments: [{ file: 'seg-00001.mp4', bytes: 2048 }],
    gaps: [{ at: '2026-01-01T00:00:05.000Z', reason: 'camera reconnecting', ms: 700 }],
    ...over,
  }
  await writeFile(join(dir, 'session.json'), JSON.stringify(session))
  return dir
}

const exists = (p: string) => stat(p).then(() => true, () => false)

t.test('events and recordings over HTTP', async (t) => {
  const rig = await startWebRig({
    users: [
      { name: VIEWER.name, passwordHash: await hashPassword(VIEWER.password), role: 'viewer' },
      { name: OPERATOR.name, passwordHash: await hashPassword(OPERATOR.password), role: 'operator' },
    ],
  })
  t.teardown(() => rig.stop())
  const viewer = await loginCookie(rig.baseUrl, { user: VIEWER.name, password: VIEWER.password })
  const operator = await loginCookie(rig.baseUrl, { user: OPERATOR.name, password: OPERATOR.password })
  const get = (path: string, cookie = viewer) => rawRequest(rig.baseUrl, path, { headers: { cookie } })
  const del = (id: string, cookie = operator) => rawRequest(rig.baseUrl, `/api/v1/recordings/${id}`, { method: 'DELETE', headers: { cookie } })

  t.test('GET /api/v1/events: newest first, bounded at 200, limit checked', async (t) => {
    t.same(json(await get('/api/v1/events')), { events: [] }, 'empty at first')
    t.equal((await rawRequest(rig.baseUrl, '/api/v1/events')).status, 401, 'auth like every read')
    for (let i = 0; i < 230; i += 1) {
      rig.feed.next({ type: 'event', kind: i % 2 ? 'sound' : 'motion', payload: { id: `ev-${i}`, at: new Date(Date.UTC(2026, 0, 1, 0, 0, i)).toISOString(), score: 0.05 }, at: new Date().toISOString() })
    }
    const dflt = json(await get('/api/v1/events'))['events'] as Array<{ id: string; kind: string; at: string }>
    t.equal(dflt.length, 50, 'default limit 50')
    t.equal(dflt[0]!.id, 'ev-229', 'newest first')
    t.match(dflt[0], { id: 'ev-229', kind: 'sound', at: '2026-01-01T00:03:49.000Z' })
    const all = json(await get('/api/v1/events?limit=200'))['events'] as Array<{ id: string }>
    t.equal(all.length, 200, 'the last 200 are kept')
    t.equal(all[199]!.id, 'ev-30')
    for (const bad of ['0', '201', '-1', 'abc', '1.5']) {
      const r = await get(`/api/v1/events?limit=${bad}`)
      t.equal(r.status, 400, `limit=${bad} → 400`)
      t.equal(json(r)['error']?.code, 'BAD_REQUEST')
    }
    t.equal((await get('/api/v1/events?since=1')).status, 400, 'an unknown parameter is refused, not ignored')
  })

  t.test('GET /recordings is the page; the listing says owner, trigger and gaps', async (t) => {
    const page = await get('/recordings')
    t.equal(page.status, 200)
    t.match(page.body, /data-testid="sessions"/)
    t.match(page.headers['content-security-policy'], /frame-ancestors 'none'/)
    const anon = await rawRequest(rig.baseUrl, '/recordings', { headers: { accept: 'text/html' } })
    t.equal(anon.status, 303, 'a stranger is sent to /login')
    t.equal(anon.headers['location'], '/login')
    await makeSession(rig, '20260101T000000Z-aaaaaa')
    await makeSession(rig, '20260101T000100Z-bbbbbb', { node: 'other-rig', trigger: { kind: 'motion', at: '2026-01-01T00:01:00.000Z' } })
    const list = json(await get('/api/v1/recordings'))['sessions'] as Array<Record<string, any>>
    const mine = list.find((s) => s['id'] === '20260101T000000Z-aaaaaa')!
    const theirs = list.find((s) => s['id'] === '20260101T000100Z-bbbbbb')!
    t.match(mine, { owned: true, node: 'webtest', trigger: null, name: 'nap', state: 'finalized', durationMs: 10000, bytes: 2048, segments: 1 })
    t.same(mine['gaps'], [{ at: '2026-01-01T00:00:05.000Z', reason: 'camera reconnecting', ms: 700 }])
    t.match(theirs, { owned: false, node: 'other-rig', trigger: { kind: 'motion', at: '2026-01-01T00:01:00.000Z' } })

    // An event session: its pre-roll files are listed first (the page plays in listing order) and served.
    const evDir = await makeSession(rig, '20260101T000200Z-cccccc', { trigger: { kind: 'sound', at: '2026-01-01T00:02:05.000Z' }, preRollFiles: [{ file: 'pre-00001.mp4', bytes: 1024, ms: 1000 }] })
    await writeFile(join(evDir, 'pre-00001.mp4'), Buffer.alloc(1024))
    const ev = (json(await get('/api/v1/recordings'))['sessions'] as Array<Record<string, any>>).find((s) => s['id'] === '20260101T000200Z-cccccc')!
    t.same((ev['files'] as Array<{ name: string }>).map((f) => f.name), ['pre-00001.mp4', 'seg-00001.mp4', 'session.json'], 'pre-roll before the segments')
    t.match(ev, { segments: 2, bytes: 3072 })
    const pre = await get('/recordings/20260101T000200Z-cccccc/pre-00001.mp4')
    t.equal(pre.status, 200, 'the pre-roll file is served')
    t.equal(pre.body.length, 1024)
  })

  t.test('DELETE /api/v1/recordings/<id>: who, which, and nothing outside', async (t) => {
    const id = '20260102T000000Z-cccccc'
    const dir = await makeSession(rig, id)
    const v = await del(id, viewer)
    t.equal(v.status, 403, 'a viewer may not')
    t.equal(json(v)['error']?.code, 'FORBIDDEN')
    t.ok(await exists(dir), 'nothing deleted for the viewer')
    t.equal((await rawRequest(rig.baseUrl, `/api/v1/recordings/${id}`, { method: 'DELETE' })).status, 401, 'nor a stranger')

    const ok = await del(id)
    t.equal(ok.status, 204, 'the operator deletes it')
    t.equal(ok.body, '')
    t.notOk(await exists(dir), 'the dir is gone')
    const again = await del(id)
    t.equal(again.status, 404)
    t.equal(json(again)['error']?.code, 'NOT_FOUND')
    t.ok(rig.commands.some((c) => c.actor === 'recorder' && c.verb === 'delete' && c.code === 'OK'), 'through the command router (commands log)')

    // The one being recorded (the recorder says so), or one still marked recording: 409.
    const activeId = '20260102T000100Z-dddddd'
    const activeDir = await makeSession(rig, activeId, { state: 'recording', stoppedAt: null, durationMs: null })
    const r1 = await del(activeId)
    t.equal(r1.status, 409)
    t.equal(json(r1)['error']?.code, 'ALREADY_RECORDING')
    const liveId = '20260102T000200Z-eeeeee'
    const liveDir = await makeSession(rig, liveId)
    rig.recorder.session = { id: liveId, name: 'live', startedAt: new Date().toISOString(), bytes: 1, segments: 1 }
    const r2 = await del(liveId)
    t.equal(r2.status, 409, 'never the session being recorded')
    rig.recorder.session = null
    t.ok((await exists(activeDir)) && (await exists(liveDir)), 'both kept')

    // Another rig's session in a shared dir, a dir without session.json, a symlink named like a session.
    const foreign = await makeSession(rig, '20260102T000300Z-ffffff', { node: 'other-rig' })
    t.equal((await del('20260102T000300Z-ffffff')).status, 404, "another rig's session is not ours to delete")
    const bare = join(rig.dirs.recordings, '20260102T000400Z-gggggg')
    await mkdir(bare)
    t.equal((await del('20260102T000400Z-gggggg')).status, 404, 'a dir without a valid session.json is not a session')
    const outside = join(rig.dataDir, 'precious')
    await mkdir(outside)
    await writeFile(join(outside, 'session.json'), JSON.stringify({ node: 'webtest' }))
    await symlink(outside, join(rig.dirs.recordings, '20260102T000500Z-hhhhhh'))
    t.equal((await del('20260102T000500Z-hhhhhh')).status, 404, 'a symlink is never followed')
    t.ok((await exists(foreign)) && (await exists(bare)) && (await exists(join(outside, 'session.json'))), 'all kept')

    for (const bad of ['..', '..%2F..%2Fprecious', '%2e%2e', 'not-a-session', '20260102T000000Z-CCCCC1', `${id}%2F..`, 'x'.repeat(65)]) {
      const r = await del(bad)
      t.ok(r.status === 400 || r.status === 404, `${bad.slice(0, 24)} → ${r.status}`)
      if (r.status === 400) t.equal(json(r)['error']?.code, 'BAD_REQUEST')
    }
    t.same((await readdir(rig.dataDir)).sort(), ['precious', 'recordings', 'snapshots'], 'nothing outside the recordings dir was touched')
    t.ok(await exists(rig.secretFile))
  })
})
