import t from 'tap'
import { execFile } from 'node:child_process'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { waitFor } from 'xstate'
import { createMediaActor, MediaSigner, mediaStateName, resolveMediaPorts, signedFlvUrl, signedRtmpUrl, type MediaActor } from '../../../actors/media/index.js'
import { probeMediaHttp } from '../../../actors/media/probe.js'
import { silentLogger } from '../../../infra/logger.js'
import { ProcessOwner } from '../../../infra/process.js'
import { startMediaServer } from '../../helpers/media.js'

const FFMPEG = process.env.FFMPEG_PATH ?? 'ffmpeg'
const FFPROBE = process.env.FFPROBE_PATH ?? 'ffprobe'

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
    execFile(
      FFPROBE,
      ['-v', 'error', '-rw_timeout', '10000000', '-show_entries', 'stream=codec_name', '-of', 'json', url],
      { timeout: 20000 },
      (err, stdout) => {
        if (err) return reject(err)
        const parsed = JSON.parse(stdout) as { streams?: Array<{ codec_name?: string }> }
        resolve((parsed.streams ?? []).map((s) => s.codec_name ?? 'unknown'))
      },
    )
  })
}

/** Only what the helper needs of a tap test. */
interface Teardown {
  teardown(fn: () => unknown): void
}

async function startMedia(
  t: Teardown,
  probe: { probeIntervalMs: number; probeMisses: number; heartbeatTimeoutMs?: number } = { probeIntervalMs: 2000, probeMisses: 3 },
) {
  const processes = new ProcessOwner()
  const ports = await resolveMediaPorts({ rtmpPort: 0, httpPort: 0 })
  const dataDir = mkdtempSync(join(tmpdir(), 'vigil-media-it-'))
  const signer = new MediaSigner()
  const actor: MediaActor = createMediaActor({ config: { ...ports, ...probe }, processes, log: silentLogger(), signer, dataDir })
  const states: string[] = []
  actor.subscribe({
    next: (s) => {
      const name = mediaStateName(s.value)
      if (states[states.length - 1] !== name) states.push(name)
    },
    error: () => {},
  })
  t.teardown(async () => {
    actor.stop()
    for (const pid of processes.pids()) process.kill(pid, 'SIGCONT')
    processes.killAll()
    await Promise.all(processes.pids().map((pid) => gone(pid)))
    rmSync(dataDir, { recursive: true, force: true })
  })
  actor.start()
  return { actor, processes, ports, states, signer }
}

t.test('media child starts on loopback, serves HTTP and accepts an RTMP push', async (t) => {
  const { actor, processes, ports, signer } = await startMedia(t)
  await waitFor(actor, (s) => s.hasTag('ready'), { timeout: 20000 })
  const [pid] = actor.getSnapshot().context.pids
  t.ok(pid && isAlive(pid), 'the server process runs')
  await probeMediaHttp(ports, { timeoutMs: 1000 })
  t.pass('answers HTTP on its port')

  const push = processes.spawn(
    FFMPEG,
    ['-hide_banner', '-nostats', '-loglevel', 'error',
      '-re', '-f', 'lavfi', '-i', 'testsrc2=size=320x180:rate=15', '-re', '-f', 'lavfi', '-i', 'sine=f=440:r=44100', '-t', '6',
      '-c:v', 'libx264', '-preset', 'veryfast', '-g', '15', '-c:a', 'aac', '-f', 'flv', signedRtmpUrl(ports, signer)],
    { name: 'test-push' },
  )
  await new Promise((r) => setTimeout(r, 1500))
  const streams = await ffprobeStreams(signedFlvUrl(ports, signer))
  t.ok(streams.includes('h264') && streams.includes('aac'), `HTTP-FLV carries the pushed h264 + aac (${streams.join(',')})`)
  const exit = await push.exited
  t.equal(exit.code, 0, `the push was accepted to the end: ${push.stderrTail()}`)

  actor.send({ type: 'STOP' })
  const done = await waitFor(actor, (s) => s.status === 'done', { timeout: 10000 })
  t.same(done.output, { normal: true, reason: 'stopped' })
  t.ok(await gone(pid!), 'the server process exited on STOP')
})

t.test('SIGKILL of the server process → failed (for the supervisor to restart)', async (t) => {
  const { actor } = await startMedia(t)
  await waitFor(actor, (s) => s.hasTag('ready'), { timeout: 20000 })
  const pid = actor.getSnapshot().context.pids[0]!
  process.kill(pid, 'SIGKILL')
  const done = await waitFor(actor, (s) => s.status === 'done', { timeout: 5000 })
  t.equal(mediaStateName(done.value), 'failed')
  t.equal(done.output?.normal, false)
  t.match(done.output?.reason, /^media server killed by SIGKILL/)
})

t.test('a frozen server (SIGSTOP) goes silent → failed within the heartbeat timeout, and the stopped process is killed', async (t) => {
  // The default probe (2 s × 3) would take 6 s: only the heartbeat can be this quick.
  const { actor, states } = await startMedia(t)
  await waitFor(actor, (s) => s.hasTag('ready'), { timeout: 20000 })
  const pid = actor.getSnapshot().context.pids[0]!
  // Some heartbeats first: the watch judges beats, not only the ready report.
  await new Promise((r) => setTimeout(r, 1000))
  t.equal(actor.getSnapshot().status, 'active', 'a live server is not reported silent')
  const stoppedAt = performance.now()
  process.kill(pid, 'SIGSTOP')
  t.teardown(() => {
    if (isAlive(pid)) process.kill(pid, 'SIGCONT')
  })
  const done = await waitFor(actor, (s) => s.status === 'done', { timeout: 10000 })
  const tookMs = performance.now() - stoppedAt
  t.comment(`failed ${Math.round(tookMs)} ms after SIGSTOP: ${done.output?.reason}`)
  t.match(done.output, { normal: false, reason: /^media server silent for \d+\.\d s \(frozen\?\)$/ })
  t.ok(tookMs < 3000, `left running within 3 s (${Math.round(tookMs)} ms)`)
  t.same(states, ['starting', 'running', 'failed'])
  t.ok(await gone(pid, 2000), 'leaving the state killed the stopped server (SIGKILL, no grace)')
})

t.test('a wedged server (SIGSTOP) fails 3 probes → failed, and the stopped process is killed', async (t) => {
  // The heartbeat watch turned all but off: this is the probe's own path (a listener
  // broken in a process that still runs).
  const { actor, states } = await startMedia(t, { probeIntervalMs: 300, probeMisses: 3, heartbeatTimeoutMs: 60000 })
  await waitFor(actor, (s) => s.hasTag('ready'), { timeout: 20000 })
  const pid = actor.getSnapshot().context.pids[0]!
  process.kill(pid, 'SIGSTOP')
  t.teardown(() => {
    if (isAlive(pid)) process.kill(pid, 'SIGCONT')
  })
  const done = await waitFor(actor, (s) => s.status === 'done', { timeout: 10000 })
  t.same(done.output, { normal: false, reason: 'health probe failed 3 times' })
  t.same(states, ['starting', 'running', 'failed'])
  t.ok(await gone(pid, 5000), 'leaving the state killed the wedged server')
})

t.test('the server exits when its IPC channel closes (its parent is gone)', async (t) => {
  const processes = new ProcessOwner()
  const media = await startMediaServer({ processes })
  t.teardown(() => media.stop())
  t.ok(isAlive(media.pid))
  media.process.child.disconnect()
  const exit = await media.process.exited
  t.equal(exit.code, 0, 'an orderly exit')
  t.same(processes.pids(), [])
})

t.test('port already taken → exit with a clear reason, not a hang', async (t) => {
  const first = await startMediaServer()
  t.teardown(() => first.stop())
  const err = await startMediaServer({ ports: first.ports }).then(
    () => null,
    (e: Error) => e,
  )
  t.ok(err, 'the second server does not start')
  t.match(err?.message, /already in use/)
})
