/**
 * Issue 15, "Shown by": the recording comes first (DESIGN.md §9.3), on one real rig.
 * 1. /proc shows the priorities of infra/priority.ts: the camera's and the recorder's ffmpeg
 *    at nice 0, oom_score_adj 0; the audio meter's ffmpeg and the media server at nice 10,
 *    I/O class idle, oom_score_adj 500.
 * 2. A governor CRITICAL on CPU pauses audio and motion analysis (their status says
 *    `paused`, the meter's ffmpeg is gone) while the recording goes on; it resumes them when
 *    the level drops. The governor's thresholds cannot change at run time, so (as the
 *    disk test in governor.test.ts does) the rig's config is edited and the operator's
 *    `supervisor.restart governor` starts a governor that reads it: CPU critical at 0.1 %,
 *    then back out of reach (a new instance states the analysis level on its first sample).
 */
import { execFile } from 'node:child_process'
import { readFile } from 'node:fs/promises'
import { promisify } from 'node:util'
import t from 'tap'
import type { Config } from '../../../infra/config/schema.js'
import { startTestRig } from '../../helpers/rig.js'
import { isAlive, waitFor } from '../../helpers/wait.js'
import { camStatus, must, recStatus, waitBytes, waitCameraStreaming } from '../pipeline/common.js'

const run = promisify(execFile)

interface AudioStatus {
  state: string
  pid: number | null
  levelDb: number | null
}
interface MotionStatus {
  state: string
}
interface GovStatus {
  level: string | null
  analysisPaused: boolean | null
}

async function priorityOf(pid: number): Promise<{ nice: number; oom: number; io: string }> {
  const stat = await readFile(`/proc/${pid}/stat`, 'utf8')
  // Fields after "(comm)": state is field 3, nice field 19.
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ')
  const nice = Number(fields[19 - 3])
  const oom = Number((await readFile(`/proc/${pid}/oom_score_adj`, 'utf8')).trim())
  const io = (await run('ionice', ['-p', String(pid)]).then((r) => r.stdout.trim(), (err: unknown) => `ionice failed: ${String(err)}`))
  return { nice, oom, io }
}

const OUT_OF_REACH = { warn: 10000, degrade: 10001, critical: 10002 }

t.test('priorities per process; CPU CRITICAL pauses audio and motion, not the recording, and they resume', async (t) => {
  let config!: Config
  const r = await startTestRig(t, {
    node: 'first',
    configure: (c) => {
      config = c
      c.governor.sampleMs = 500
    },
  })
  await r.ready()
  await waitCameraStreaming(r)
  const audio = () => must<AudioStatus>(r, 'audio', 'status')
  const motion = () => must<MotionStatus>(r, 'motion', 'status')
  await waitFor(async () => (await audio()).state === 'listening', 30_000, 'audio listening', 200)
  await must(r, 'recorder', 'start', { name: 'first' })
  await waitBytes(r, 20_000)

  const cameraPid = (await camStatus(r)).pids[0]!
  const recorderPids = (await r.child('recorder')).pids
  const mediaPid = (await r.child('media')).pids[0]!
  const audioPid = (await audio()).pid!
  t.ok(recorderPids.length >= 1, `recorder ffmpeg ${recorderPids.join(',')}`)
  const seen = {
    camera: await priorityOf(cameraPid),
    recorder: await priorityOf(recorderPids[0]!),
    audio: await priorityOf(audioPid),
    media: await priorityOf(mediaPid),
  }
  t.comment(`priorities: ${JSON.stringify(seen)}`)
  for (const name of ['camera', 'recorder'] as const) {
    t.equal(seen[name].nice, 0, `${name} ffmpeg: nice 0`)
    t.equal(seen[name].oom, 0, `${name} ffmpeg: oom_score_adj 0`)
    t.notMatch(seen[name].io, /idle/, `${name} ffmpeg: I/O not idle (${seen[name].io})`)
  }
  for (const name of ['audio', 'media'] as const) {
    t.equal(seen[name].nice, 10, `${name}: nice 10`)
    t.equal(seen[name].oom, 500, `${name}: oom_score_adj 500`)
    t.match(seen[name].io, /^idle/, `${name}: I/O class idle (${seen[name].io})`)
  }

  // CPU CRITICAL: any CPU use is above 0.1 %.
  config.governor.cpuPercent = { warn: 0.05, degrade: 0.08, critical: 0.1 }
  const t0 = Date.now()
  await must(r, 'supervisor', 'restart', { child: 'governor' })
  await waitFor(async () => (await must<GovStatus>(r, 'governor', 'status')).analysisPaused === true, 20_000, 'governor: CPU CRITICAL, analysis paused', 100)
  await waitFor(async () => (await audio()).state === 'paused' && (await motion()).state === 'paused', 10_000, 'audio and motion paused', 100)
  t.pass(`audio and motion paused ${((Date.now() - t0) / 1000).toFixed(2)} s after the governor restart`)
  const pausedAudio = await audio()
  t.equal(pausedAudio.pid, null, 'no meter pid while paused')
  await waitFor(() => !isAlive(audioPid), 5000, 'the audio ffmpeg is gone', 100)
  t.pass(`the audio ffmpeg ${audioPid} exited`)
  t.equal((await r.child('audio')).status, 'running', 'the audio child is up (paused is not failed)')
  t.equal((await r.child('motion')).status, 'running', 'the motion child is up')
  const rec = await recStatus(r)
  t.equal(rec.state, 'recording', 'the recording goes on')
  const bytesAt = rec.session!.bytes
  await waitBytes(r, bytesAt + 10_000, 20_000, 'the recording keeps growing while analysis is paused')
  t.ok(recorderPids.every(isAlive), 'the recorder ffmpeg was not touched')

  // The level drops: thresholds out of reach again.
  config.governor.cpuPercent = { ...OUT_OF_REACH }
  const t1 = Date.now()
  await must(r, 'supervisor', 'restart', { child: 'governor' })
  await waitFor(async () => (await audio()).state === 'listening' && (await motion()).state === 'watching', 30_000, 'audio and motion resumed', 100)
  t.pass(`resumed ${((Date.now() - t1) / 1000).toFixed(2)} s after the level dropped`)
  const resumed = await audio()
  t.ok(resumed.pid !== null && resumed.pid !== audioPid, `a new meter ffmpeg ${resumed.pid}`)
  t.equal((await priorityOf(resumed.pid!)).nice, 10, 'the new meter runs at nice 10 too')
  t.equal((await must<GovStatus>(r, 'governor', 'status')).analysisPaused, false)
  await must(r, 'recorder', 'stop', {}, { timeoutMs: 20_000 })
})
