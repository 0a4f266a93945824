import t from 'tap'
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { pino } from 'pino'
import { silentLogger } from '../../../infra/logger.js'
import { ProcessOwner } from '../../../infra/process.js'
import { createMotionActor, SNAPSHOT_FAILED, SNAPSHOT_PATTERN, type FrameInfo, type FrameSource, type MotionDeps } from '../../../actors/motion/index.js'
import { isAlive, waitFor } from '../../helpers/wait.js'

const FFMPEG = process.env.FFMPEG_PATH ?? 'ffmpeg'
const W = 160
const H = 90

/** Real moving pictures: ffmpeg testsrc2 as raw grey frames, the camera's motion format. */
function testsrcFrames(processes: ProcessOwner): FrameSource & { pid: number } {
  const listeners = new Set<(gray: Buffer, info: FrameInfo) => void>()
  const proc = processes.spawn(
    FFMPEG,
    ['-hide_banner', '-nostats', '-loglevel', 'error', '-re', '-f', 'lavfi', '-i', `testsrc2=size=${W}x${H}:rate=5`, '-f', 'rawvideo', '-pix_fmt', 'gray', 'pipe:1'],
    { name: 'ffmpeg-testframes' },
  )
  let pending = Buffer.alloc(0)
  proc.stdout?.on('data', (chunk: Buffer) => {
    pending = Buffer.concat([pending, chunk])
    while (pending.length >= W * H) {
      const frame = Buffer.from(pending.subarray(0, W * H))
      pending = pending.subarray(W * H)
      for (const l of listeners) l(frame, { width: W, height: H })
    }
  })
  return {
    pid: proc.pid,
    onFrame(listener) {
      listeners.add(listener)
      return () => listeners.delete(listener)
    },
  }
}

function setup(t: { teardown(fn: () => unknown): void }, over: Partial<MotionDeps> = {}) {
  const processes = new ProcessOwner()
  t.teardown(() => processes.killAll())
  const dir = mkdtempSync(join(tmpdir(), 'vigil-motion-'))
  t.teardown(() => rmSync(dir, { recursive: true, force: true }))
  const snapshotsDir = join(dir, 'snapshots')
  const frames = testsrcFrames(processes)
  const events: Array<{ kind: string; payload: Record<string, unknown> }> = []
  const deps: MotionDeps = {
    config: { threshold: 0.02, minFrames: 2, cooldownMs: 2000, maxSnapshots: 3, pixelThreshold: 25 },
    snapshotsDir,
    frames,
    ffmpegPath: FFMPEG,
    processes,
    log: silentLogger(),
    publishEvent: (kind, payload) => events.push({ kind, payload }),
    ...over,
  }
  return { processes, dir, snapshotsDir, frames, events, deps }
}

t.test('moving testsrc2 frames: a motion event and a JPEG snapshot', async (t) => {
  const { deps, events, snapshotsDir, processes, frames } = setup(t)
  mkdirSync(snapshotsDir)
  const actor = createMotionActor(deps)
  actor.start()
  t.teardown(() => actor.stop())
  await waitFor(() => events.some((e) => e.kind === 'snapshot.saved'), 20000, 'a snapshot')
  const motion = events.find((e) => e.kind === 'motion')!
  t.ok(motion, 'motion event')
  t.ok((motion.payload['score'] as number) > 0.02, `score ${motion.payload['score']}`)
  const saved = events.find((e) => e.kind === 'snapshot.saved')!.payload
  t.match(saved['file'], SNAPSHOT_PATTERN)
  const jpeg = readFileSync(join(snapshotsDir, saved['file'] as string))
  t.same([...jpeg.subarray(0, 3)], [0xff, 0xd8, 0xff], 'JPEG magic bytes')
  t.equal(jpeg.length, saved['bytes'])

  // Bounded: more motions than maxSnapshots leave maxSnapshots files.
  await waitFor(() => events.filter((e) => e.kind === 'snapshot.saved').length >= 5, 30000, 'five snapshots')
  const files = readdirSync(snapshotsDir).filter((n) => SNAPSHOT_PATTERN.test(n))
  t.ok(files.length <= 3, `at most 3 kept (${files.length})`)
  t.equal(actor.getSnapshot().status, 'active')
  actor.stop()
  await waitFor(() => processes.pids().every((p) => p === frames.pid), 5000, 'no encoder left')
})

t.test('snapshots dir under a regular file: motion goes on, no file, the disk warning for each failed save', async (t) => {
  const lines: Array<Record<string, unknown>> = []
  const log = pino({ level: 'info' }, { write: (s: string) => lines.push(JSON.parse(s) as Record<string, unknown>) })
  const { deps, events, dir } = setup(t, { log })
  writeFileSync(join(dir, 'blocked'), 'a file where the dir should be')
  const actor = createMotionActor({ ...deps, snapshotsDir: join(dir, 'blocked', 'snapshots'), config: { ...deps.config, cooldownMs: 500 } })
  actor.start()
  t.teardown(() => actor.stop())
  await waitFor(() => events.filter((e) => e.kind === 'motion').length >= 3, 30000, 'three motions')
  await waitFor(() => lines.filter((l) => l['msg'] === SNAPSHOT_FAILED).length >= 2, 5000, 'failed saves logged')
  t.equal(events.filter((e) => e.kind === 'snapshot.saved').length, 0)
  t.match(lines.find((l) => l['msg'] === SNAPSHOT_FAILED), { level: 40, code: 'ENOTDIR' })
  t.equal(actor.getSnapshot().status, 'active', 'the monitor keeps running')
  t.ok(actor.getSnapshot().context.snapshotFailures >= 2)
})

t.test('the camera JPEG is preferred when there is one (no encoder process)', async (t) => {
  const jpeg = Buffer.from([0xff, 0xd8, 0xff, 0xdb, 0, 0, 0xff, 0xd9])
  const { deps, events, snapshotsDir, processes, frames } = setup(t, { latestJpeg: () => jpeg })
  const spawned: string[] = []
  const spawn = processes.spawn.bind(processes)
  processes.spawn = (cmd, args, opts) => {
    spawned.push(opts.name)
    return spawn(cmd, args, opts)
  }
  mkdirSync(snapshotsDir)
  const actor = createMotionActor(deps)
  actor.start()
  t.teardown(() => actor.stop())
  await waitFor(() => events.some((e) => e.kind === 'snapshot.saved'), 20000, 'a snapshot')
  const file = events.find((e) => e.kind === 'snapshot.saved')!.payload['file'] as string
  t.same(readFileSync(join(snapshotsDir, file)), jpeg)
  t.same(spawned, [], 'no ffmpeg-snapshot spawned')
  t.ok(isAlive(frames.pid))
})
