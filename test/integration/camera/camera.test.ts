import t from 'tap'
import { execFile } from 'node:child_process'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { waitFor } from 'xstate'
import { CameraFrames, cameraStateName, cameraStatus, createCameraActor, type CameraActor, type CameraActorDeps, type CameraAlertEvent, type CameraFrameDrop } from '../../../actors/camera/index.js'
import { createMediaActor, MediaSigner, mediaStateName, resolveMediaPorts, rtmpUrl, signedRtmpUrl, type MediaPorts } from '../../../actors/media/index.js'
import { silentLogger } from '../../../infra/logger.js'
import { ProcessOwner } from '../../../infra/process.js'
import { startMediaServer } from '../../helpers/media.js'

const FFMPEG = process.env.FFMPEG_PATH ?? 'ffmpeg'
const FFPROBE = process.env.FFPROBE_PATH ?? 'ffprobe'

interface Teardown {
  teardown(fn: () => unknown): void
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0)
    return true
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM'
  }
}

async function gone(pid: number, withinMs = 5000): Promise<boolean> {
  const until = Date.now() + withinMs
  while (Date.now() < until) {
    if (!isAlive(pid)) return true
    await new Promise((r) => setTimeout(r, 50))
  }
  return !isAlive(pid)
}

function ffprobeStreams(url: string): Promise<string[]> {
  return new Promise((resolve, reject) => {
    execFile(FFPROBE, ['-v', 'error', '-show_entries', 'stream=codec_name', '-of', 'json', url], { timeout: 20000 }, (err, stdout) => {
      if (err) return reject(err)
      const parsed = JSON.parse(stdout) as { streams?: Array<{ codec_name?: string }> }
      resolve((parsed.streams ?? []).map((s) => s.codec_name ?? 'unknown'))
    })
  })
}

interface CameraRun {
  actor: CameraActor
  processes: ProcessOwner
  frames: Buffer[]
  jpegs: Buffer[]
  alerts: CameraAlertEvent[]
  drops: CameraFrameDrop[]
  /** Leaf states in the order passed through. */
  states: string[]
  hub: CameraFrames
  pid(): number | undefined
}

/** A camera actor on a real ffmpeg; everything it started is gone after the test. */
function startCamera(t: Teardown, push: CameraActorDeps['rtmpUrl'], overrides: Partial<CameraActorDeps['config']> = {}): CameraRun {
  const processes = new ProcessOwner()
  const frames: Buffer[] = []
  const jpegs: Buffer[] = []
  const alerts: CameraAlertEvent[] = []
  const drops: CameraFrameDrop[] = []
  const states: string[] = []
  const hub = new CameraFrames()
  const actor = createCameraActor({
    frames: hub,
    config: { source: 'testsrc', width: 640, height: 360, fps: 15, frameTimeoutMs: 2000, ...overrides },
    rtmpUrl: push,
    ffmpegPath: FFMPEG,
    processes,
    log: silentLogger(),
    onFrame: (gray) => void frames.push(gray),
    onSnapshot: (jpeg) => void jpegs.push(jpeg),
    onFrameDrop: (d) => void drops.push(d),
    alert: (a) => void alerts.push(a),
  })
  actor.subscribe({
    next: (s) => {
      const name = cameraStateName(s.value)
      if (states[states.length - 1] !== name) states.push(name)
    },
    error: () => {},
  })
  t.teardown(async () => {
    actor.stop()
    for (const pid of processes.pids()) process.kill(pid, 'SIGCONT')
    processes.killAll()
    await Promise.all(processes.pids().map((pid) => gone(pid)))
  })
  actor.start()
  return { actor, processes, frames, jpegs, alerts, drops, states, hub, pid: () => actor.getSnapshot().context.pids[0] }
}

const streaming = (actor: CameraActor, timeout = 20000) =>
  waitFor(actor, (s) => cameraStateName(s.value) === 'streaming', { timeout })

t.test('testsrc streams to the media server: grey frames on fd 3, h264 + aac over HTTP-FLV, JPEG snapshots', async (t) => {
  const media = await startMediaServer()
  t.teardown(() => media.stop())
  const cam = startCamera(t, () => media.rtmpUrl())
  await streaming(cam.actor)
  t.ok(cam.actor.getSnapshot().hasTag('ready'))
  const pid = cam.pid()!
  t.ok(isAlive(pid), 'ffmpeg runs')

  const streams = await ffprobeStreams(media.flvUrl())
  t.ok(streams.includes('h264'), `h264 in ${streams.join(',')}`)
  t.ok(streams.includes('aac'), `aac in ${streams.join(',')}`)

  await waitFor(cam.actor, (s) => s.context.framesSeen >= 10 && cam.jpegs.length >= 1, { timeout: 10000 })
  t.ok(cam.frames.every((f) => f.length === 160 * 90), 'every frame is exactly 160x90 grey bytes')
  t.not(Buffer.compare(cam.frames[0]!, cam.frames[cam.frames.length - 1]!), 0, 'the picture moves')
  const jpeg = cam.jpegs[0]!
  t.same([jpeg[0], jpeg[1], jpeg[jpeg.length - 2], jpeg[jpeg.length - 1]], [0xff, 0xd8, 0xff, 0xd9], 'a whole JPEG')
  t.match(cam.hub.latestFrame(), { info: { width: 160, height: 90 } }, 'the shared hub holds the newest frame')
  t.ok(cam.hub.latestSnapshot(), 'and the newest JPEG')

  const status = cameraStatus(cam.actor, 'testsrc')
  t.match(status, { state: 'streaming', pids: [pid], source: 'testsrc', attempt: 0, lastError: null })

  const t0 = Date.now()
  cam.actor.send({ type: 'STOP' })
  const done = await waitFor(cam.actor, (s) => s.status === 'done', { timeout: 10000 })
  t.same(done.output, { normal: true, reason: 'stopped' })
  t.ok(Date.now() - t0 < 3000, `'q' ended ffmpeg well within the grace (${Date.now() - t0} ms)`)
  t.ok(await gone(pid), 'ffmpeg is gone')
  t.same(cam.alerts, [])
})

t.test('SIGKILL of ffmpeg → reconnecting → streaming again with a new pid', async (t) => {
  const media = await startMediaServer()
  t.teardown(() => media.stop())
  const cam = startCamera(t, () => media.rtmpUrl())
  await streaming(cam.actor)
  const first = cam.pid()!
  process.kill(first, 'SIGKILL')
  await waitFor(cam.actor, (s) => cameraStateName(s.value) === 'reconnecting', { timeout: 5000 })
  await streaming(cam.actor)
  const second = cam.pid()!
  t.not(second, first, 'a new ffmpeg')
  t.notOk(isAlive(first))
  t.same(cam.states.slice(0, 5), ['starting', 'streaming', 'reconnecting', 'starting', 'streaming'])
  t.equal(cam.actor.getSnapshot().context.restarts, 1)
  t.match(cam.actor.getSnapshot().context.lastError, /killed by SIGKILL/)
  t.equal(cam.drops.length, 1, 'the lost stream is recorded as a frame drop')
})

t.test('SIGSTOP of ffmpeg → stalled, alert, then recovered', async (t) => {
  const media = await startMediaServer()
  t.teardown(() => media.stop())
  const cam = startCamera(t, () => media.rtmpUrl())
  await streaming(cam.actor)
  const first = cam.pid()!
  t.teardown(() => {
    if (isAlive(first)) {
      process.kill(first, 'SIGCONT')
      process.kill(first, 'SIGKILL')
    }
  })
  process.kill(first, 'SIGSTOP')
  const t0 = Date.now()
  // frameTimeoutMs is 2000; detection measured 1.8-2.0 s (bench max 1.90 s). The exact delay is
  // the unit test's (SimulatedClock); here 3x that bounds it, so a loaded machine's late timer
  // is not a failure, and the wait itself is only a hang guard.
  await waitFor(cam.actor, (s) => cameraStateName(s.value) === 'stalled' || cameraStateName(s.value) === 'reconnecting', { timeout: 15000 })
  t.ok(Date.now() - t0 <= 6000, `stall detected after ${Date.now() - t0} ms (bound 6000)`)
  await streaming(cam.actor)
  t.ok(cam.states.includes('stalled'))
  t.not(cam.pid(), first, 'a new ffmpeg')
  t.ok(await gone(first), 'the stopped ffmpeg was killed')
  t.match(cam.alerts, [{ source: 'camera', code: 'camera.stalled', severity: 'warning' }])
  t.match(cam.drops[0], { actor: 'camera', reason: 'no frame for 2000 ms', source: 'testsrc' })
})

t.test('a missing device → device_error with a clear reason; the actor stays up and retries', async (t) => {
  const cam = startCamera(t, rtmpUrl({ rtmpPort: 1 }), { source: 'v4l2:/dev/video99' })
  const s = await waitFor(cam.actor, (snap) => cameraStateName(snap.value) === 'device_error', { timeout: 10000 })
  t.equal(s.status, 'active')
  t.ok(s.hasTag('ready'))
  t.match(s.context.lastError, /\/dev\/video99: No such file or directory/)
  t.match(cam.alerts[0], { code: 'camera.device_error', message: /video99/ })
  // It tries again (at once, then after 250 ms) and lands in device_error again.
  await waitFor(cam.actor, (snap) => snap.context.restarts >= 2 && cameraStateName(snap.value) === 'device_error', { timeout: 10000 })
  t.match(cameraStatus(cam.actor, 'v4l2:/dev/video99'), { state: 'device_error', attempt: 3, pids: [] })
  cam.actor.send({ type: 'STOP' })
  const done = await waitFor(cam.actor, (snap) => snap.status === 'done', { timeout: 5000 })
  t.same(done.output, { normal: true, reason: 'stopped' })
})

t.test('media server killed → media failed; camera reconnects once a new server runs on the same ports', async (t) => {
  const ports: MediaPorts = await resolveMediaPorts({ rtmpPort: 0, httpPort: 0 })
  const mediaProcesses = new ProcessOwner()
  const dataDir = mkdtempSync(join(tmpdir(), 'vigil-camera-it-'))
  const mediaDeps = {
    config: { ...ports, probeIntervalMs: 2000, probeMisses: 3 },
    processes: mediaProcesses,
    log: silentLogger(),
    signer: new MediaSigner(),
    dataDir,
  }
  const media1 = createMediaActor(mediaDeps)
  let media2: ReturnType<typeof createMediaActor> | undefined
  t.teardown(async () => {
    media1.stop()
    media2?.stop()
    mediaProcesses.killAll()
    await Promise.all(mediaProcesses.pids().map((pid) => gone(pid)))
    rmSync(dataDir, { recursive: true, force: true })
  })
  media1.start()
  await waitFor(media1, (s) => s.hasTag('ready'), { timeout: 20000 })

  const cam = startCamera(t, () => signedRtmpUrl(ports, mediaDeps.signer))
  await streaming(cam.actor)
  const firstFfmpeg = cam.pid()!

  process.kill(media1.getSnapshot().context.pids[0]!, 'SIGKILL')
  const failed = await waitFor(media1, (s) => s.status === 'done', { timeout: 5000 })
  t.equal(mediaStateName(failed.value), 'failed')
  t.equal(failed.output?.normal, false)

  await waitFor(cam.actor, (s) => cameraStateName(s.value) === 'reconnecting', { timeout: 5000 })
  t.match(cam.actor.getSnapshot().context.lastError, /media server unreachable|Broken pipe|Connection refused/)
  t.ok(cam.actor.getSnapshot().hasTag('ready'), 'the camera stays up while media is down')

  // What the supervisor does: a fresh media instance on the same ports.
  media2 = createMediaActor(mediaDeps)
  media2.start()
  await waitFor(media2, (s) => s.hasTag('ready'), { timeout: 20000 })
  await streaming(cam.actor, 40000)
  t.not(cam.pid(), firstFfmpeg)
  t.equal(cameraStateName(cam.actor.getSnapshot().value), 'streaming')
})
