/**
 * Issue 14, recording modes, events: the real rig (camera ffmpeg → node-media-server →
 * recorder ffmpeg + the pre-roll buffer ffmpeg) with recorder.mode = events. A motion event
 * on the rig's feed (the path motion and audio publish through, which the recorder listens
 * to in production) opens a session on its own; it starts at least preRollS − 1 s before the
 * trigger (ffprobe durations of pre-*.mp4 + seg-*.mp4) and ends about postRollS after the last
 * event; session.json has the trigger and the events. Then recorder.start by hand still works
 * and is not ended by the post-roll. One rig for the file.
 */
import t from 'tap'
import { readdir } from 'node:fs/promises'
import { join } from 'node:path'
import { startTestRig, type TestRig } from '../../helpers/rig.js'
import { waitFor } from '../../helpers/wait.js'
import { listOwnedSessions } from '../../../actors/recorder/session.js'
import { BUFFER_DIR, BUFFER_LIST, parseSegmentList } from '../../../actors/recorder/preRollBuffer.js'
import { readFile } from 'node:fs/promises'
import { fmt, footageAccountedS, must, probeSegments, readSessionJson, recStatus, sleep, waitCameraStreaming, type SessionSummary } from './common.js'

const PRE_ROLL_S = 3
const POST_ROLL_S = 4

function emit(r: TestRig, kind: 'motion' | 'sound', id: string): string {
  const at = new Date().toISOString()
  // What the rig's publishEvent puts on the feed (actors/rig/index.ts).
  r.rig.feed.next({ type: 'event', kind, payload: { id, node: r.node, at }, at })
  return at
}

t.test('events mode: pre-roll from before the trigger, post-roll after the last event, triggers in session.json; manual start still works', async (t) => {
  const r = await startTestRig(t, {
    configure: (c) => {
      c.recorder.mode = 'events'
      c.recorder.preRollS = PRE_ROLL_S
      c.recorder.postRollS = POST_ROLL_S
      // Only this test's events: the synthetic camera and tone never cross these.
      c.motion.threshold = 1
      c.audio.thresholdDb = 0
    },
  })
  await waitCameraStreaming(r)
  const recordings = r.rig.dirs.recordings
  const bufferDir = join(recordings, BUFFER_DIR)
  // The buffer must hold the pre-roll before a trigger can find it.
  await waitFor(async () => {
    const segs = parseSegmentList(await readFile(join(bufferDir, BUFFER_LIST), 'utf8').catch(() => ''))
    return segs.length >= PRE_ROLL_S + 2
  }, 60000, 'pre-roll buffer filled', 200)
  t.equal((await recStatus(r)).state, 'idle', 'nothing recorded before an event')
  t.same(await listOwnedSessions(recordings), [], 'the buffer dir is not a session')

  const t0 = performance.now()
  const triggerAt = emit(r, 'motion', 'ev-1')
  await waitFor(async () => (await recStatus(r)).state === 'recording', 15000, 'the event opened a session', 100)
  const openedS = (performance.now() - t0) / 1000
  const status = await recStatus(r)
  t.ok(status.session, `a session opened on its own ${fmt(openedS)} s after the event`)
  await sleep(2000) // the event pattern under test: a second event 2 s into the session
  const lastAt = emit(r, 'sound', 'ev-2')
  const tLast = performance.now()
  await waitFor(async () => (await recStatus(r)).state === 'idle', (POST_ROLL_S + 10) * 1000 * 3, 'the session closed after the post-roll', 100)
  const closedAfterS = (performance.now() - tLast) / 1000

  const [owned] = await listOwnedSessions(recordings)
  t.ok(owned, 'one session on disk')
  const session = await readSessionJson(owned!.dir)
  t.equal(session.state, 'finalized')
  t.same(session.trigger, { kind: 'motion', at: triggerAt }, 'session.json trigger: kind and time of the first event')
  t.same(session.events, [{ kind: 'motion', at: triggerAt }, { kind: 'sound', at: lastAt }], 'session.json events: the trigger and the later event')
  const pre = session.preRollFiles ?? []
  t.ok(pre.length >= PRE_ROLL_S, `pre-roll files moved in: ${pre.map((f) => `${f.file}=${f.ms}ms`).join(' ')}`)

  const files = [...pre.map((f) => f.file), ...session.segments.map((s) => s.file)]
  const probed = await probeSegments(owned!.dir, files)
  for (const p of probed) t.ok(p.streams.includes('video') && p.duration > 0, `${p.file} probes (${fmt(p.duration)} s, ${p.streams.join('+')})`)
  const sumS = probed.reduce((n, p) => n + p.duration, 0)
  const preSumS = probed.filter((p) => p.file.startsWith('pre-')).reduce((n, p) => n + p.duration, 0)
  // Footage after the trigger: trigger → session start, start → stop command, the stop's tail.
  const startLagS = (Date.parse(session.startedAt) - Date.parse(triggerAt)) / 1000
  const afterTriggerS = startLagS + ((session.durationMs ?? 0) + (session.postRollMs ?? 0)) / 1000
  const beforeTriggerS = sumS - afterTriggerS
  t.ok(beforeTriggerS >= PRE_ROLL_S - 1, `footage starts ${fmt(beforeTriggerS)} s before the trigger (≥ preRollS − 1 = ${PRE_ROLL_S - 1}); pre files ${fmt(preSumS)} s, all ${fmt(sumS)} s, after the trigger ${fmt(afterTriggerS)} s`)
  t.ok(beforeTriggerS <= PRE_ROLL_S + 3, `and not much more (${fmt(beforeTriggerS)} s)`)
  const footageS = footageAccountedS(session)
  t.ok(Math.abs(sumS - footageS) <= 1, `segment durations (${fmt(sumS)} s) within 1 s of what session.json accounts for (${fmt(footageS)} s, pre-roll files included)`)
  const endS = (Date.parse(session.stoppedAt!) - Date.parse(lastAt)) / 1000
  t.ok(endS >= POST_ROLL_S && endS <= POST_ROLL_S + 3, `ended ${fmt(endS)} s after the last event (postRollS ${POST_ROLL_S}; idle seen after ${fmt(closedAfterS)} s)`)

  const bufferFiles = (await readdir(bufferDir)).filter((f) => f.startsWith('buf-'))
  t.ok(bufferFiles.length <= PRE_ROLL_S + 9, `the buffer is pruned to the pre-roll + 6 s slack (${bufferFiles.length} files)`)

  // recorder.start by hand in events mode: a session with trigger manual, listing the events, not closed by the post-roll.
  const manual = await must<SessionSummary>(r, 'recorder', 'start', { name: 'by hand' })
  emit(r, 'motion', 'ev-3')
  await sleep((POST_ROLL_S + 1.5) * 1000) // the assertion: still recording past the post-roll
  t.equal((await recStatus(r)).session?.id, manual.id, 'a session started by hand is still recording after postRollS')
  const stopped = await must<SessionSummary>(r, 'recorder', 'stop', {}, { timeoutMs: 30000 })
  const ms = await readSessionJson(stopped.dir)
  t.equal(ms.trigger?.kind, 'manual', 'trigger manual')
  t.same(ms.events?.map((e) => e.kind), ['motion'], 'the event during it is listed')
  t.notOk(ms.preRollFiles, 'a manual session has no buffered pre-roll')
})
