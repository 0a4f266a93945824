/**
 * Issue 3, "Shown by" #7: retention with unrelated entries beside owned sessions.
 * recorder.retention.maxSessions = 2; four owned, finished sessions (valid session.json
 * written with the recorder's own writeSession, a real segment each) plus `notes_2024/`,
 * a session-looking dir without session.json, one whose session.json names another id,
 * and a plain file. Restarting the recorder runs retention: the two oldest owned
 * sessions go, everything else stays.
 */
import t from 'tap'
import { mkdir, readdir, readFile, stat, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { startTestRig } from '../../helpers/rig.js'
import { waitFor } from '../../helpers/wait.js'
import { ffprobe } from '../../helpers/ffprobe.js'
import { SESSION_SCHEMA_VERSION, writeSession, type SessionFile } from '../../../actors/recorder/session.js'
import { makeSegment, must, recStatus, sleep, stopRecording, waitBytes, waitCameraStreaming, type SessionSummary } from './common.js'

t.test('retention (maxSessions 2) deletes only owned sessions, oldest first; unrelated entries untouched', async (t) => {
  const r = await startTestRig(t, {
    node: 'retention',
    configure: (c) => {
      c.recorder.retention.maxSessions = 2
      // The subject is maxSessions; the sessions are dated 2024, so the default age limit
      // (30 days, on since issue 15) would delete all four.
      c.recorder.retention.maxAgeDays = 0
    },
  })
  await r.ready(['media', 'camera', 'recorder'])
  const rec = r.rig.dirs.recordings
  const ffmpegPath = (await import('../../../infra/binaries.js')).resolveFfmpeg
  const ffmpeg = (await ffmpegPath(process.env))!.path

  // Four owned sessions, oldest first by id (= by start time).
  const owned = ['20240101T080000Z-aaaaaa', '20240201T080000Z-bbbbbb', '20240301T080000Z-cccccc', '20240401T080000Z-dddddd']
  for (const [i, id] of owned.entries()) {
    const dir = join(rec, id)
    await mkdir(dir)
    await makeSegment(ffmpeg, join(dir, 'seg-00001.mp4'))
    const bytes = (await stat(join(dir, 'seg-00001.mp4'))).size
    const startedAt = `2024-0${i + 1}-01T08:00:00.000Z`
    const session: SessionFile = {
      schemaVersion: SESSION_SCHEMA_VERSION,
      node: r.node,
      name: `owned-${i + 1}`,
      id,
      startedAt,
      startedMono: 1000,
      state: 'finalized',
      stopReason: 'stopped by request',
      stoppedAt: `2024-0${i + 1}-01T08:00:01.000Z`,
      durationMs: 1000,
      segments: [{ file: 'seg-00001.mp4', bytes, startedAt }],
      gaps: [],
    }
    await writeSession(dir, session)
  }
  // Not ours, whatever they look like; the look-alikes are older than every owned session.
  await mkdir(join(rec, 'notes_2024'))
  await writeFile(join(rec, 'notes_2024', 'todo.txt'), 'buy a bigger disk\n')
  const lookalike = '20230101T000000Z-eeeeee' // a session id, no session.json
  await mkdir(join(rec, lookalike))
  await makeSegment(ffmpeg, join(rec, lookalike, 'seg-00001.mp4'))
  const wrongId = '20230201T000000Z-ffffff' // session.json naming another session
  await mkdir(join(rec, wrongId))
  await writeFile(join(rec, wrongId, 'session.json'), await readFile(join(rec, owned[0]!, 'session.json')))
  await writeFile(join(rec, 'README.txt'), 'operator notes\n')
  const before = (await readdir(rec)).sort()
  t.comment(`before: ${before.join(', ')}`)

  await must(r, 'supervisor', 'restart', { child: 'recorder' })
  // Retention runs in `preparing`, before the recorder reports ready (idle).
  await waitFor(async () => (await recStatus(r).catch(() => null))?.state === 'idle', 30000, 'recorder idle', 100)
  await waitFor(async () => !(await readdir(rec)).includes(owned[1]!), 10000, 'retention applied')

  const after = (await readdir(rec)).sort()
  t.comment(`after: ${after.join(', ')}`)
  t.notOk(after.includes(owned[0]!), `oldest owned ${owned[0]} deleted`)
  t.notOk(after.includes(owned[1]!), `second oldest owned ${owned[1]} deleted`)
  t.ok(after.includes(owned[2]!) && after.includes(owned[3]!), 'the two newest owned sessions kept')
  t.same(
    after,
    [...before.filter((n) => n !== owned[0] && n !== owned[1])].sort(),
    'nothing else was touched',
  )
  t.equal(await readFile(join(rec, 'notes_2024', 'todo.txt'), 'utf8'), 'buy a bigger disk\n', 'notes_2024 and its file untouched')
  t.same((await readdir(join(rec, lookalike))).sort(), ['seg-00001.mp4'], 'session-looking dir without session.json untouched')
  t.same((await readdir(join(rec, wrongId))).sort(), ['session.json'], 'dir whose session.json names another id untouched')
  t.equal(await readFile(join(rec, 'README.txt'), 'utf8'), 'operator notes\n', 'plain file untouched')
  for (const id of owned.slice(2)) {
    const p = await ffprobe(join(rec, id, 'seg-00001.mp4'))
    t.ok(p.streams.includes('video'), `${id} kept whole (its segment probes)`)
  }

  // Retention also runs when a session is finalized: a real new recording makes three owned
  // sessions, so the oldest remaining one goes and the new one stays.
  await r.ready(['media', 'camera', 'recorder'])
  await waitCameraStreaming(r)
  await sleep(2000)
  const fresh = await must<SessionSummary>(r, 'recorder', 'start', { name: 'fresh' })
  await waitBytes(r, 0, 20000)
  await sleep(1500)
  const done = await stopRecording(r)
  t.equal(done.deleted, false, 'the new recording was kept')
  const final = (await readdir(rec)).sort()
  t.comment(`after a new recording: ${final.join(', ')}`)
  t.ok(final.includes(fresh.id), 'new session kept')
  t.notOk(final.includes(owned[2]!), `${owned[2]} (now the oldest owned) deleted`)
  t.ok(final.includes(owned[3]!), `${owned[3]} kept`)
  t.same(
    final.filter((n) => !owned.includes(n) && n !== fresh.id),
    ['README.txt', lookalike, wrongId, 'notes_2024'].sort(),
    'unrelated entries still untouched',
  )
})
