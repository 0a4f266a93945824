/**
 * Issue 3, "Shown by" #5: 100 start/stop cycles over NATS as fast as the replies
 * come. Only ok or the documented codes come back; afterwards no recorder ffmpeg is
 * left, every kept session dir is a valid finalized session whose segments probe,
 * and no zero-length session dir remains.
 */
import t, { type Test } from 'tap'
import { readdir, stat } from 'node:fs/promises'
import { join } from 'node:path'
import { startTestRig, type TestRig } from '../helpers/rig.js'
import { waitFor } from '../helpers/wait.js'
import { processesMentioning } from '../helpers/procs.js'
import { ffprobe } from '../helpers/ffprobe.js'
import { parseSessionFile } from '../../actors/recorder/session.js'
import { isSessionId } from '../../actors/recorder/sessionId.js'
import { fmt, must, readSessionJson, sleep, waitCameraStreaming, type SessionSummary } from '../integration/pipeline/common.js'

// The whole file took 76.5 s in CI on this machine (two shared cores), 131 s run by itself while
// CI ran: the suite's 300 s (package.json) would be under 3x that. A hang guard only, so 420 s.
t.setTimeout(420_000)

async function cyclingRig(t: Test, node: string) {
  const r = await startTestRig(t, {
    node,
    configure: (c) => {
      c.recorder.segmentS = 2
    },
  })
  await r.ready(['media', 'camera', 'recorder'])
  await waitCameraStreaming(r)
  await sleep(2000)
  t.same(await processesMentioning(r.rig.dirs.recordings), [], 'nothing writes into the recordings dir before the cycles')
  return { r, cameraPids: (await r.child('camera')).pids }
}

type Reply = Awaited<ReturnType<TestRig['cmd']>>

/** Counts replies by verb:code and collects any code that is not documented for that verb. */
function tally() {
  const allowed: Record<string, string[]> = { start: ['ok', 'ALREADY_RECORDING'], stop: ['ok', 'NOT_RECORDING'] }
  const counts: Record<string, number> = {}
  const unexpected: string[] = []
  const started: string[] = []
  const stopped: SessionSummary[] = []
  return {
    counts,
    unexpected,
    started,
    stopped,
    add(label: string, verb: 'start' | 'stop', reply: Reply) {
      const code = reply.ok ? 'ok' : reply.error.code
      counts[`${verb}:${code}`] = (counts[`${verb}:${code}`] ?? 0) + 1
      if (!allowed[verb]!.includes(code)) unexpected.push(`${label} ${verb}: ${code} ${reply.ok ? '' : reply.error.message}`)
      if (reply.ok && verb === 'start') started.push((reply.result as SessionSummary).id)
      if (reply.ok && verb === 'stop') stopped.push(reply.result as SessionSummary)
    },
  }
}

/** The state the cycles must leave: no orphan, idle, and on disk only consistent, non-empty, finalized sessions. */
async function checkAfter(t: Test, r: TestRig, stoppedSummaries: SessionSummary[], cameraPids: number[]) {
  const recordingsDir = r.rig.dirs.recordings
  // No orphan: a stop replies after its ffmpeg exited; nothing may be writing now.
  const left = await processesMentioning(recordingsDir)
  t.same(left, [], `no process with the recordings dir on its command line${left.length ? `: ${left.map((p) => `${p.pid} ${p.cmd}`).join(' | ')}` : ''}`)
  t.same((await r.child('recorder')).pids, [], 'recorder child owns no process')
  t.same((await r.child('camera')).pids, cameraPids, `only the camera's ffmpeg (${cameraPids.join(',')}) is still running`)
  const rec = await must<{ state: string; session: unknown }>(r, 'recorder', 'status')
  t.same(rec, { state: 'idle', session: null }, 'recorder idle')
  t.equal((await r.child('recorder')).restarts, 0, 'the recorder never crashed')

  const dirs = (await readdir(recordingsDir)).sort()
  const deleted = stoppedSummaries.filter((s) => s.deleted).map((s) => s.id)
  const kept = stoppedSummaries.filter((s) => !s.deleted).map((s) => s.id)
  t.same(dirs, [...kept].sort(), `on disk exactly the sessions reported kept (${kept.length} kept, ${deleted.length} zero-length deleted)`)
  let segmentsProbed = 0
  for (const id of dirs) {
    const dir = join(recordingsDir, id)
    t.ok(isSessionId(id), `${id} is a session id`)
    const raw = await readSessionJson(dir)
    t.ok(parseSessionFile(raw, id), `${id}: valid session.json`)
    t.equal(raw.state, 'finalized', `${id}: finalized`)
    const bytes = raw.segments.reduce((n, s) => n + s.bytes, 0)
    t.ok(raw.segments.length >= 1 && bytes > 0, `${id}: ${raw.segments.length} segment(s), ${bytes} bytes`)
    const files = (await readdir(dir)).filter((f) => f.endsWith('.mp4')).sort()
    t.same(files, raw.segments.map((s) => s.file), `${id}: segment files on disk = session.json's list`)
    for (const s of raw.segments) {
      t.equal((await stat(join(dir, s.file))).size, s.bytes, `${id}/${s.file}: size as recorded`)
      const p = await ffprobe(join(dir, s.file))
      t.ok(p.streams.includes('video'), `${id}/${s.file} probes (${p.streams.join(',')}, ${fmt(p.duration)} s)`)
      segmentsProbed++
    }
  }
  for (const id of deleted) t.notOk(dirs.includes(id), `zero-length ${id} is gone`)
  t.comment(`${dirs.length} kept sessions (${segmentsProbed} segments probed), ${deleted.length} zero-length sessions deleted`)

  // And the recorder still records normally afterwards.
  const after = await must<SessionSummary>(r, 'recorder', 'start', { name: 'after-cycles' })
  await waitFor(async () => ((await must<{ session: { bytes: number } | null }>(r, 'recorder', 'status')).session?.bytes ?? 0) > 0, 20000, 'bytes after the cycles', 200)
  const done = await must<SessionSummary>(r, 'recorder', 'stop', {}, { timeoutMs: 30000 })
  t.equal(done.id, after.id)
  t.equal(done.deleted, false, 'a normal recording after the cycles is kept')
}

t.test('100 start/stop cycles, each reply awaited, as fast as they come', async (t) => {
  const { r, cameraPids } = await cyclingRig(t, 'cycles')
  const k = tally()
  const t0 = performance.now()
  const maxMs = { start: 0, stop: 0 }
  for (let i = 0; i < 100; i++) {
    for (const verb of ['start', 'stop'] as const) {
      const at = performance.now()
      const reply = await r.cmd<SessionSummary>('recorder', verb, verb === 'start' ? { name: `cycle-${i}` } : {}, {
        ...(verb === 'start' ? { idempotencyKey: `cycle-${i}` } : {}),
        timeoutMs: 30000,
      })
      maxMs[verb] = Math.max(maxMs[verb], performance.now() - at)
      k.add(`cycle ${i}`, verb, reply)
    }
  }
  t.same(k.unexpected, [], 'no reply other than ok / ALREADY_RECORDING / NOT_RECORDING')
  t.comment(`200 commands in ${fmt((performance.now() - t0) / 1000)} s; replies ${JSON.stringify(k.counts)}; slowest start ${fmt(maxMs.start, 0)} ms, stop ${fmt(maxMs.stop, 0)} ms`)
  t.equal(new Set(k.started).size, k.counts['start:ok'], 'every ok start opened its own session (distinct keys)')
  await checkAfter(t, r, k.stopped, cameraPids)
})

t.test('100 cycles sent without waiting (pipelined): answered strictly in order', async (t) => {
  const { r, cameraPids } = await cyclingRig(t, 'cyclespipe')
  const k = tally()
  const sent: Array<{ i: number; verb: 'start' | 'stop'; reply: Promise<Reply> }> = []
  for (let i = 0; i < 100; i++) {
    sent.push({ i, verb: 'start', reply: r.cmd('recorder', 'start', {}, { timeoutMs: 60000 }) })
    sent.push({ i, verb: 'stop', reply: r.cmd('recorder', 'stop', {}, { timeoutMs: 60000 }) })
  }
  const replies = await Promise.all(sent.map((s) => s.reply))
  replies.forEach((reply, n) => k.add(`cycle ${sent[n]!.i}`, sent[n]!.verb, reply))
  t.same(k.unexpected, [], 'no reply other than the documented ones')
  t.comment(`replies ${JSON.stringify(k.counts)}`)
  // In order: start n and stop n are about the same session.
  let paired = 0
  for (let n = 0; n < replies.length; n += 2) {
    const a = replies[n]!
    const b = replies[n + 1]!
    if (a.ok && b.ok && (a.result as SessionSummary).id === (b.result as SessionSummary).id) paired++
  }
  t.equal(paired, 100, 'each stop answered with the session its preceding start opened')
  await checkAfter(t, r, k.stopped, cameraPids)
})

t.test('40 cycles with holds (0 to 1.2 s), extra starts and stops: documented codes, kept sessions consistent', async (t) => {
  const { r, cameraPids } = await cyclingRig(t, 'cycleshold')
  const k = tally()
  const holds = [0, 150, 600, 1200]
  for (let i = 0; i < 40; i++) {
    k.add(`cycle ${i}`, 'start', await r.cmd('recorder', 'start', { name: `hold-${i}` }, { idempotencyKey: `hold-${i}`, timeoutMs: 30000 }))
    // A second start with another key while recording: ALREADY_RECORDING (or ok if the first was refused).
    if (i % 3 === 0) k.add(`cycle ${i} (again)`, 'start', await r.cmd('recorder', 'start', {}, { idempotencyKey: `other-${i}`, timeoutMs: 30000 }))
    await sleep(holds[i % holds.length]!)
    k.add(`cycle ${i}`, 'stop', await r.cmd('recorder', 'stop', {}, { timeoutMs: 30000 }))
    // A second stop while idle: NOT_RECORDING.
    if (i % 4 === 1) k.add(`cycle ${i} (again)`, 'stop', await r.cmd('recorder', 'stop', {}, { timeoutMs: 30000 }))
  }
  t.same(k.unexpected, [], 'no reply other than the documented ones')
  t.comment(`replies ${JSON.stringify(k.counts)}`)
  t.ok((k.counts['start:ALREADY_RECORDING'] ?? 0) > 0, 'ALREADY_RECORDING seen')
  t.ok((k.counts['stop:NOT_RECORDING'] ?? 0) > 0, 'NOT_RECORDING seen')
  t.ok(k.stopped.some((s) => !s.deleted), 'some sessions had media and were kept')
  await checkAfter(t, r, k.stopped, cameraPids)
})
