/**
 * Issue 16 point 4, "a real network camera": a real `vigil start` pointed at a real RTSP
 * server on loopback (GStreamer's gst-rtsp-server serving an H.264 + AAC file,
 * test/helpers/rtspServer.ts).
 * - The camera's H.264 is copied into the live stream, not encoded again: the camera
 *   ffmpeg's argv says `-c:v copy` for the FLV output, and its CPU over the same 10 s is
 *   below a testsrc encode of the same size and below an encode of the same RTSP stream.
 * - The RTSP server is SIGKILLed mid-recording (the camera loses power) and started again
 *   ~3 s later on the same port (it rebooted): the camera streams again, the recording goes
 *   on in the same session in a new segment, the gap is in session.json, and the segments
 *   are H.264 that account for the footage (footage.ts).
 * Figures (CPU of copy vs encode, downtime vs gap) are printed with t.comment and kept in
 * docs/FAULTS.md.
 */
import t, { type Test } from 'tap'
import { execFile } from 'node:child_process'
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { promisify } from 'node:util'
import type { NatsConnection } from '@nats-io/transport-node'
import { command } from '../../infra/nats/client.js'
import { ProcessOwner, type OwnedProcess } from '../../infra/process.js'
import { parseCameraSource } from '../../infra/sources.js'
import { resolveFfmpeg } from '../../infra/binaries.js'
import { buildFfmpegArgs } from '../../actors/camera/ffmpegArgs.js'
import { startVigil, TEST_VIGIL_CONFIG } from '../helpers/vigilProcess.js'
import { rtspServerMissing, startRtspCamera } from '../helpers/rtspServer.js'
import { collect } from '../helpers/rig.js'
import { ffprobePath } from '../helpers/ffprobe.js'
import { isAlive, waitFor } from '../helpers/wait.js'
import { fmt, probeSegments, readSessionJson, sleep, type CamStatus, type RecStatus, type SessionSummary } from '../integration/pipeline/common.js'
import { ffmpegsMentioning, footageKept, snapshotSegments } from './footage.js'

// A hang guard: the test took 46-52 s on two cores with a soak running beside it.
t.setTimeout(300_000)

const run = promisify(execFile)
const SIZE = { width: 320, height: 240, fps: 15 }
const CPU_WINDOW_MS = 10_000
const DOWNTIME_MS = 3000

type SupStatus = { state: string; children: Array<{ id: string; status: string; state: string; pids: number[] }> }

async function cmd<T>(nc: NatsConnection, node: string, actor: string, verb: string, args: Record<string, unknown> = {}): Promise<T> {
  const r = await command<T>(nc, node, actor, verb, args, { timeoutMs: 10000 })
  if (!r.ok) throw new Error(`${actor}.${verb}: ${r.error.code} ${r.error.message}`)
  return r.result
}

/** utime + stime of a process, in clock ticks (100 per second on Linux). */
async function cpuTicks(pid: number): Promise<number> {
  const stat = await readFile(`/proc/${pid}/stat`, 'utf8')
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ')
  return Number(fields[11]) + Number(fields[12])
}

/** The camera's argv as a standalone ffmpeg, its FLV written to a file; fd 3 and 4 drained as the camera does. */
function spawnCameraFfmpeg(t: Test, processes: ProcessOwner, ffmpeg: string, source: string, dir: string, name: string): OwnedProcess {
  const args = buildFfmpegArgs({ source: parseCameraSource(source), ...SIZE, rtmpUrl: join(dir, `${name}.flv`) })
  const p = processes.spawn(ffmpeg, args, { name: 'camera', stdin: 'pipe', extraStdio: ['pipe', 'pipe'] })
  void p.exited.then((e) => {
    if (!stopping.has(p)) t.comment(`${name} ffmpeg ${e.reason}: ${p.stderrTail()}`)
  })
  for (const fd of [1, 3, 4]) (p.child.stdio[fd] as NodeJS.ReadableStream | null)?.resume()
  t.teardown(() => stop(p).then(() => undefined))
  return p
}

const stopping = new Set<OwnedProcess>()
const stop = (p: OwnedProcess) => {
  stopping.add(p)
  return p.stop(3000)
}

async function codecs(file: string): Promise<string[]> {
  const { stdout } = await run(await ffprobePath(), ['-v', 'error', '-show_entries', 'stream=codec_name', '-of', 'csv=p=0', file], { timeout: 20000 })
  return stdout.split('\n').map((l) => l.trim()).filter(Boolean)
}

// CI installs the server (.ci/run): there a missing one fails; a developer's box may skip.
const missing = rtspServerMissing()
if (missing && process.env['CI']) t.fail(missing)

t.test('an RTSP camera: H.264 copied, not encoded; a camera reboot mid-recording costs about its downtime, same session', { skip: missing ?? false }, async (t) => {
  const ffmpeg = (await resolveFfmpeg(process.env))?.path ?? 'ffmpeg'
  const cam = await startRtspCamera(t, { ffmpegPath: ffmpeg, ...SIZE })
  t.comment(`RTSP camera: gst-rtsp-server pid ${cam.pid()} at ${cam.url} (H.264 High, GOP 1 s, AAC)`)

  const node = 'rtspcam'
  const work = await mkdtemp(join(tmpdir(), 'vigil-rtsp-test-'))
  t.teardown(() => rm(work, { recursive: true, force: true }))
  const cfg = join(work, 'vigil.config.json')
  await writeFile(
    cfg,
    JSON.stringify({
      ...TEST_VIGIL_CONFIG,
      // videoCodec left out: copy is the default for rtsp://. The camera sends AAC.
      camera: { ...TEST_VIGIL_CONFIG.camera, source: cam.url, audioCodec: 'copy' },
      recorder: { segmentS: 4, minFreeBytes: 64 * 1024 * 1024, stopBelowBytes: 32 * 1024 * 1024 },
    }),
  )
  const vigil = await startVigil(t, { node, env: { VIGIL_CONFIG: cfg } })
  const nc = await vigil.client()
  await vigil.running(nc)
  await vigil.streaming(nc)
  const camStates = collect(nc, `vigil.${node}.state.camera`)
  const alerts = collect(nc, `vigil.${node}.alert.>`)

  // ---- copy, not encode -------------------------------------------------------------
  const first = await cmd<CamStatus>(nc, node, 'camera', 'status')
  const camPid = first.pids[0]!
  const argv = (await readFile(`/proc/${camPid}/cmdline`, 'utf8')).split('\0')
  const flvAt = argv.indexOf('flv')
  const live = argv.slice(argv.indexOf('-filter_complex') + 2, flvAt)
  t.ok(live.join(' ').includes('-map 0:v:0 -c:v copy'), `the live output copies the camera's H.264: ${live.join(' ')}`)
  t.ok(live.join(' ').includes('-c:a copy'), 'and its AAC (camera.audioCodec copy)')
  t.notOk(argv.includes('libx264'), 'no H.264 encoder in the camera ffmpeg')
  t.match(argv[argv.indexOf('-filter_complex') + 1], /^\[0:v:0\]split=2\[mot\]\[snp\]/, 'still decoded for motion frames and snapshots')

  // The same 10 s for all three: the copying camera, an encode of the same RTSP stream,
  // and the testsrc camera every other test runs (same size and rate).
  // The encode of the RTSP stream reads a second server: a second client of the same shared
  // media makes gst-rtsp-server seek it back to 0 for every client, the rig's camera included.
  const twin = await startRtspCamera(t, { ffmpegPath: ffmpeg, ...SIZE })
  const processes = new ProcessOwner()
  const encodeRtsp = spawnCameraFfmpeg(t, processes, ffmpeg, twin.url, work, 'rtsp-encode')
  const encodeTestsrc = spawnCameraFfmpeg(t, processes, ffmpeg, 'testsrc', work, 'testsrc-encode')
  await sleep(3000) // past their start (probing, encoder set-up)
  const pids = [camPid, encodeRtsp.pid, encodeTestsrc.pid]
  const before = await Promise.all(pids.map(cpuTicks))
  const windowStart = Date.now()
  await sleep(CPU_WINDOW_MS)
  const after = await Promise.all(pids.map(cpuTicks))
  const seconds = (Date.now() - windowStart) / 1000
  const [copyPct, rtspEncodePct, testsrcPct] = after.map((a, i) => (a - before[i]!) / seconds) as [number, number, number]
  await Promise.all([stop(encodeRtsp), stop(encodeTestsrc)])
  await twin.kill()
  t.comment(
    `camera ffmpeg CPU over ${fmt(seconds, 1)} s (% of one core), ${SIZE.width}x${SIZE.height}@${SIZE.fps}: ` +
      `RTSP copy ${fmt(copyPct, 1)} %, the same RTSP stream encoded ${fmt(rtspEncodePct, 1)} %, testsrc encoded ${fmt(testsrcPct, 1)} %`,
  )
  t.ok(copyPct < rtspEncodePct, `copying (${fmt(copyPct, 1)} %) costs less than encoding the same stream (${fmt(rtspEncodePct, 1)} %)`)
  t.ok(copyPct < testsrcPct, `copying (${fmt(copyPct, 1)} %) costs less than the testsrc encode (${fmt(testsrcPct, 1)} %)`)
  t.equal((await cmd<CamStatus>(nc, node, 'camera', 'status')).pids[0], camPid, 'the camera ffmpeg streamed through the measurement')

  // ---- the camera reboots mid-recording ----------------------------------------------
  const started = await cmd<SessionSummary>(nc, node, 'recorder', 'start', { name: 'rtsp-reboot' })
  const sessions = new Set<string>()
  let watching = true
  const watch = (async () => {
    while (watching) {
      const r = await command<RecStatus>(nc, node, 'recorder', 'status', {}, { timeoutMs: 3000 })
      if (r.ok && r.result.session) sessions.add(r.result.session.id)
      await sleep(100)
    }
  })()
  const recStatus = () => cmd<RecStatus>(nc, node, 'recorder', 'status')
  await waitFor(async () => ((await recStatus()).session?.bytes ?? 0) > 0, 20000, 'recording bytes', 100)
  await sleep(5000)
  const beforeKill = await recStatus()
  const onDisk = await snapshotSegments(started.dir)

  const serverPid = cam.pid()!
  const killedAt = Date.now()
  await cam.kill()
  await sleep(Math.max(0, DOWNTIME_MS - (Date.now() - killedAt)))
  await cam.start()
  const backAt = Date.now()
  const downtimeS = (backAt - killedAt) / 1000
  t.comment(`RTSP server pid ${serverPid} SIGKILLed, listening again as pid ${cam.pid()} after ${fmt(downtimeS)} s`)

  let back: CamStatus | null = null
  await waitFor(async () => {
    const r = await command<CamStatus>(nc, node, 'camera', 'status', {}, { timeoutMs: 3000 })
    back = r.ok ? r.result : null
    return back?.state === 'streaming' && back.pids.length === 1 && back.pids[0] !== camPid
  }, 60000, 'camera streaming again with a new ffmpeg', 50)
  await waitFor(() => !isAlive(camPid), 5000, 'the old camera ffmpeg reaped')
  const path = camStates.seen.filter((m) => Date.parse(m.data['since'] as string) >= killedAt - 50).map((m) => m.data['state'])
  const streamingSince = camStates.seen.filter((m) => m.data['state'] === 'streaming' && Date.parse(m.data['since'] as string) >= killedAt).at(-1)
  const camBackS = streamingSince ? (Date.parse(streamingSince.data['since'] as string) - killedAt) / 1000 : (Date.now() - killedAt) / 1000
  t.comment(`camera streaming again ${fmt(camBackS)} s after the kill (${fmt(camBackS - downtimeS)} s after the server was back); states: ${path.join(' → ')}`)
  t.equal(path.at(-1), 'streaming', 'the camera ends streaming')
  t.ok(path.includes('device_error') || path.includes('reconnecting'), 'through reconnecting / device_error')
  t.ok(camBackS <= 2 * (downtimeS + 1), `camera back within 2 × (downtime + 1 s) = ${fmt(2 * (downtimeS + 1))} s (${fmt(camBackS)} s)`)
  const refused = alerts.seen.filter((a) => a.data['code'] === 'camera.device_error')
  t.ok(refused.length >= 1, `camera.device_error raised while the camera was down: ${String(refused[0]?.data['message'])}`)

  await waitFor(async () => ((await recStatus()).session?.bytes ?? 0) > beforeKill.session!.bytes, 30000, 'recording bytes growing again', 100)
  const resumedS = (Date.now() - killedAt) / 1000
  await sleep(5000)
  const grown = await recStatus()
  t.equal(grown.session?.id, started.id, 'recorder.status: the same session after the reboot')
  t.ok(grown.session!.segments > beforeKill.session!.segments, `a new segment after the reboot (${beforeKill.session!.segments} → ${grown.session!.segments})`)

  const stopped = await cmd<SessionSummary>(nc, node, 'recorder', 'stop')
  watching = false
  await watch
  t.same([...sessions], [started.id], 'one session id through the whole reboot')
  t.equal(stopped.state, 'finalized')
  const session = await readSessionJson(stopped.dir)
  const gaps = session.gaps.filter((g) => Date.parse(g.at) >= killedAt - 3000)
  t.equal(gaps.length, 1, `one gap for the reboot in session.json: ${JSON.stringify(session.gaps)}`)
  const gapS = (gaps[0]?.ms ?? NaN) / 1000

  const probed = await probeSegments(stopped.dir, session.segments.map((s) => s.file))
  for (const p of probed) {
    t.same(await codecs(join(stopped.dir, p.file)), ['h264', 'aac'], `${p.file}: H.264 + AAC, ${fmt(p.duration)} s`)
  }
  const footage = await footageKept(t, { dir: stopped.dir, session, probed, faults: 1, before: onDisk })
  // The gap as the footage shows it: the time the session covers that no segment holds
  // (ffprobe'd durations; each segment starts at 0, so they add up). session.json's gap is
  // coarser: it runs between two polls (1 s apart) of the bytes on disk, which grow a
  // fragment (a GOP, 1 s) at a time, so it opens up to ~2 s before the loss and closes a
  // fragment and a poll after the footage is back.
  const footageGapS = footage.recordedS - footage.keptS
  t.comment(
    `downtime ${fmt(downtimeS)} s → camera streaming +${fmt(camBackS - downtimeS)} s after the server was back, recording bytes growing ${fmt(resumedS)} s after the kill; ` +
      `footage missing (ffprobe) ${fmt(footageGapS)} s, session.json gap ${fmt(gapS)} s (${gaps[0]?.reason}); target downtime + 1 s = ${fmt(downtimeS + 1)} s`,
  )
  // The target is downtime + 1 s; asserted at 2x that, so a loaded box's late start is not a
  // failure and a camera that waits out a grown backoff (the next try 3.75 s after the
  // loss, then 7.75 s, before the camera watched its source) still is.
  t.ok(footageGapS <= 2 * (downtimeS + 1), `footage missing ${fmt(footageGapS)} s <= 2 × (downtime ${fmt(downtimeS)} s + 1 s)`)
  t.ok(gapS <= 2 * (downtimeS + 1), `session.json gap ${fmt(gapS)} s <= 2 × (downtime ${fmt(downtimeS)} s + 1 s)`)

  camStates.unsubscribe()
  alerts.unsubscribe()
  // Nothing of the rig outlives its stop; the RTSP server's teardown reaps it.
  vigil.child.kill('SIGTERM')
  const exit = await vigil.exited
  t.equal(exit.code, 0, 'vigil stops cleanly')
  t.same(await ffmpegsMentioning(vigil.dataDir), [], 'no ffmpeg of the rig left')
})
