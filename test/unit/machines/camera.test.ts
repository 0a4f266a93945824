import t from 'tap'
import { createActor, fromCallback, SimulatedClock } from 'xstate'
import {
  cameraMachine,
  cameraStateName,
  classifyFfmpegExit,
  reconnectDelayMs,
  type CameraAlert,
  type CameraInput,
  type FfmpegCommand,
  type FfmpegEvent,
  type FrameDropRecord,
  type RunFfmpegInput,
} from '../../../machines/camera.machine.js'

const V4L2_MISSING =
  '[video4linux2,v4l2 @ 0x560c02572980] Cannot open video device /dev/video99: No such file or directory\n/dev/video99: No such file or directory'
const RTMP_REFUSED =
  '[tcp @ 0x56410200b2c0] Connection to tcp://127.0.0.1:1935?tcp_nodelay=0 failed: Connection refused\n' +
  '[rtmp @ 0x56410200d9c0] Cannot open connection tcp://127.0.0.1:1935?tcp_nodelay=0\n' +
  'rtmp://127.0.0.1:1935/live/cam: Connection refused'

interface Harness {
  actor: ReturnType<typeof createActor<typeof cameraMachine>>
  clock: SimulatedClock
  /** Every ffmpeg started: its input and the commands it received. */
  runs: Array<{ pid: number; input: RunFfmpegInput; commands: FfmpegCommand[] }>
  alerts: CameraAlert[]
  drops: FrameDropRecord[]
  /** Leaf state names, in the order the actor passed through them. */
  history: string[]
  state(): string
  ctx(): ReturnType<Harness['actor']['getSnapshot']>['context']
  /** Events from the current ffmpeg. */
  emit(e: FfmpegEvent): void
  frames(count: number, everyMs?: number): void
  exit(reason: string, stderr?: string): void
}

/** `respond`: the fake ffmpeg exits on KILL and on QUIT, as the real one does. */
function start(input: Partial<CameraInput> = {}, opts: { respond?: boolean } = {}): Harness {
  const clock = new SimulatedClock()
  const runs: Harness['runs'] = []
  const alerts: CameraAlert[] = []
  const drops: FrameDropRecord[] = []
  const history: string[] = []
  let current: ((e: FfmpegEvent) => void) | undefined
  let nextPid = 100
  const machine = cameraMachine.provide({
    actors: {
      runFfmpeg: fromCallback<FfmpegCommand, RunFfmpegInput>(({ sendBack, receive, input: runInput }) => {
        const run = { pid: ++nextPid, input: runInput, commands: [] as FfmpegCommand[] }
        runs.push(run)
        const send = (e: FfmpegEvent) => sendBack(e)
        current = send
        send({ type: 'FFMPEG.STARTED', pid: run.pid })
        receive((cmd) => {
          run.commands.push(cmd)
          if (opts.respond === false) return
          if (cmd.type === 'KILL') send({ type: 'FFMPEG.EXITED', reason: 'killed by SIGKILL', normal: false, stderr: '' })
          if (cmd.type === 'QUIT') send({ type: 'FFMPEG.EXITED', reason: 'exited with code 0', normal: true, stderr: '' })
        })
        return () => {
          if (current === send) current = undefined
        }
      }),
    },
    actions: {
      raiseAlert: (_, a) => void alerts.push(a),
      recordFrameDrop: (_, d) => void drops.push(d),
    },
  })
  const actor = createActor(machine, { input: { frameTimeoutMs: 2000, ...input }, clock })
  actor.subscribe((s) => {
    const name = cameraStateName(s.value)
    if (history[history.length - 1] !== name) history.push(name)
  })
  actor.start()
  const h: Harness = {
    actor,
    clock,
    runs,
    alerts,
    drops,
    history,
    state: () => cameraStateName(actor.getSnapshot().value),
    ctx: () => actor.getSnapshot().context,
    emit: (e) => current?.(e),
    frames: (count, everyMs = 200) => {
      for (let i = 0; i < count; i++) {
        clock.increment(everyMs)
        h.emit({ type: 'FRAME' })
      }
    },
    exit: (reason, stderr = '') => h.emit({ type: 'FFMPEG.EXITED', reason, normal: false, stderr }),
  }
  return h
}

t.test('starts ffmpeg and streams while frames keep coming', async (t) => {
  const h = start()
  t.equal(h.state(), 'starting')
  t.same(h.ctx().pids, [101])
  t.notOk(h.actor.getSnapshot().hasTag('ready'), 'not ready before the first frame')
  h.emit({ type: 'FRAME' })
  t.equal(h.state(), 'streaming')
  t.ok(h.actor.getSnapshot().hasTag('ready'))
  h.frames(50, 1900) // each frame just inside the 2000 ms watchdog
  t.equal(h.state(), 'streaming')
  t.equal(h.ctx().framesSeen, 51)
  t.equal(h.runs.length, 1, 'one ffmpeg the whole time')
  t.same(h.alerts, [])
  h.actor.stop()
})

t.test('no frame for frameTimeoutMs → stalled (alert, drop, kill) → reconnecting → starting', async (t) => {
  const h = start()
  h.frames(5)
  h.clock.increment(1999)
  t.equal(h.state(), 'streaming')
  h.clock.increment(1)
  t.same(h.history, ['starting', 'streaming', 'stalled', 'reconnecting'])
  t.same(h.runs[0]!.commands, [{ type: 'KILL' }], 'the wedged ffmpeg is killed, not asked')
  t.equal(h.alerts.length, 1)
  t.match(h.alerts[0], { code: 'camera.stalled', severity: 'warning' })
  t.same(h.drops, [{ reason: 'no frame for 2000 ms', framesSeen: 5, attempt: 0 }])
  t.equal(h.ctx().lastError, 'stalled: no frame for 2000 ms')
  t.same(h.ctx().pids, [])
  t.ok(h.actor.getSnapshot().hasTag('ready'), 'reconnecting is still ready: the actor recovers on its own')
  h.clock.increment(250)
  t.equal(h.state(), 'starting')
  t.equal(h.runs.length, 2)
  t.same(h.ctx().pids, [102])
  t.equal(h.ctx().restarts, 1)
  h.emit({ type: 'FRAME' })
  t.equal(h.state(), 'streaming')
  h.actor.stop()
})

t.test('stalled ffmpeg that does not die: moves on after killGrace (leaving kills it)', async (t) => {
  const h = start({}, { respond: false })
  h.frames(1)
  h.clock.increment(2000)
  t.equal(h.state(), 'stalled')
  h.clock.increment(2000)
  t.equal(h.state(), 'reconnecting')
  h.actor.stop()
})

t.test('reconnect backoff grows 250 ms · 2^n up to 30 s and resets after 60 s of streaming', async (t) => {
  const h = start()
  const waits: number[] = []
  for (let i = 0; i < 9; i++) {
    h.frames(1)
    h.exit('killed by SIGKILL')
    t.equal(h.state(), 'reconnecting')
    let waited = 0
    while (h.state() === 'reconnecting') {
      h.clock.increment(50)
      waited += 50
    }
    waits.push(waited)
  }
  t.same(waits, [250, 500, 1000, 2000, 4000, 8000, 16000, 30000, 30000])
  t.equal(h.ctx().attempt, 9)

  // Streams for a minute: earlier failures are forgotten.
  h.emit({ type: 'FRAME' })
  h.frames(300) // 300 × 200 ms = 60 s
  t.equal(h.ctx().attempt, 0)
  h.exit('killed by SIGKILL')
  h.clock.increment(249)
  t.equal(h.state(), 'reconnecting')
  h.clock.increment(1)
  t.equal(h.state(), 'starting', 'back to the first step')
  h.actor.stop()
})

t.test('a short stream does not reset the backoff', async (t) => {
  const h = start()
  h.frames(1)
  h.exit('killed by SIGKILL')
  h.clock.increment(250)
  h.frames(100) // 20 s
  h.exit('killed by SIGKILL')
  t.equal(h.ctx().attempt, 2)
  h.clock.increment(499)
  t.equal(h.state(), 'reconnecting')
  h.clock.increment(1)
  t.equal(h.state(), 'starting')
  h.actor.stop()
})

t.test('missing device → device_error with the stderr reason, retried with backoff, never done', async (t) => {
  const h = start()
  h.exit('exited with code 1', V4L2_MISSING)
  t.equal(h.state(), 'device_error')
  const snap = h.actor.getSnapshot()
  t.equal(snap.status, 'active')
  t.ok(snap.hasTag('ready'))
  t.equal(snap.context.lastError, 'camera source failed: /dev/video99: No such file or directory')
  t.match(h.alerts, [{ code: 'camera.device_error', message: 'camera source failed: /dev/video99: No such file or directory' }])
  h.clock.increment(250)
  t.equal(h.state(), 'starting')
  h.exit('exited with code 1', V4L2_MISSING)
  h.clock.increment(499)
  t.equal(h.state(), 'device_error')
  h.clock.increment(1)
  t.equal(h.state(), 'starting')
  t.equal(h.runs.length, 3)
  h.actor.stop()
})

t.test('busy device after frames is a device error too', async (t) => {
  const h = start()
  h.frames(3)
  h.exit('exited with code 1', '[video4linux2,v4l2 @ 0x1] ioctl(VIDIOC_DQBUF): Device or resource busy')
  t.equal(h.state(), 'device_error')
  t.equal(h.ctx().lastError, 'camera source failed: ioctl(VIDIOC_DQBUF): Device or resource busy')
  h.actor.stop()
})

t.test('exit before the first frame with no recognizable reason is a device error', async (t) => {
  const h = start()
  h.exit('exited with code 1', 'something odd')
  t.equal(h.state(), 'device_error')
  t.equal(h.ctx().lastError, 'ffmpeg exited with code 1 before the first frame: something odd')
  h.actor.stop()
})

t.test('media server refusing the push is not a device error', async (t) => {
  const h = start()
  h.exit('exited with code 1', RTMP_REFUSED)
  t.equal(h.state(), 'reconnecting')
  t.equal(h.ctx().lastError, 'media server unreachable: rtmp://127.0.0.1:1935/live/cam: Connection refused')
  h.actor.stop()
})

t.test('no frame within startTimeoutMs → device_error', async (t) => {
  const h = start({ startTimeoutMs: 10000 })
  h.clock.increment(9999)
  t.equal(h.state(), 'starting')
  h.clock.increment(1)
  t.equal(h.state(), 'device_error')
  t.equal(h.ctx().lastError, 'camera source failed: no video frame within 10000 ms of start')
  t.same(h.ctx().pids, [], 'the silent ffmpeg is no longer reported')
  h.actor.stop()
})

t.test('STOP while streaming: q to ffmpeg, stopped on its exit, normal output', async (t) => {
  const h = start()
  h.frames(3)
  h.actor.send({ type: 'STOP' })
  t.same(h.runs[0]!.commands, [{ type: 'QUIT' }])
  const snap = h.actor.getSnapshot()
  t.equal(snap.status, 'done')
  t.equal(cameraStateName(snap.value), 'stopped')
  t.same(snap.output, { normal: true, reason: 'stopped' })
  t.same(snap.context.pids, [])
})

t.test('STOP with an ffmpeg that ignores q: stopped after stopGraceMs', async (t) => {
  const h = start({}, { respond: false })
  h.frames(3)
  h.actor.send({ type: 'STOP' })
  t.equal(h.state(), 'stopping')
  h.clock.increment(3999)
  t.equal(h.state(), 'stopping', 'frames no longer matter, no stall while stopping')
  h.clock.increment(1)
  t.same(h.actor.getSnapshot().output, { normal: true, reason: 'stopped' })
})

t.test('STOP while waiting to reconnect ends at once', async (t) => {
  const h = start()
  h.exit('exited with code 1', V4L2_MISSING)
  h.actor.send({ type: 'STOP' })
  t.same(h.actor.getSnapshot().output, { normal: true, reason: 'stopped' })
  t.equal(h.runs.length, 1, 'no new ffmpeg')
})

t.test('SET_PREVIEW records the level and never restarts the encode the recording shares', async (t) => {
  const h = start()
  h.frames(2)
  for (const level of ['low', 'off', 'full', 'off'] as const) {
    h.actor.send({ type: 'SET_PREVIEW', level })
    t.equal(h.ctx().previewLevel, level)
  }
  t.equal(h.runs.length, 1, 'one ffmpeg throughout')
  t.same(h.runs[0]!.commands, [], 'never asked to quit')
  t.equal(cameraStateName(h.actor.getSnapshot().value), 'streaming')
  h.exit('killed by SIGKILL')
  h.actor.send({ type: 'SET_PREVIEW', level: 'low' })
  h.clock.increment(250)
  t.equal(h.runs.length, 2, 'a reconnect still happens for its own reason')
  t.equal(h.ctx().previewLevel, 'low', 'the level survives the reconnect')
  h.actor.stop()
})

t.test('RESTART skips the backoff wait', async (t) => {
  const h = start()
  h.exit('exited with code 1', V4L2_MISSING)
  h.exit('exited with code 1', V4L2_MISSING)
  t.equal(h.state(), 'device_error')
  h.actor.send({ type: 'RESTART' })
  t.equal(h.state(), 'starting')
  t.equal(h.runs.length, 2)
  h.actor.stop()
})

t.test('stopping the actor (supervisor kill) stops the ffmpeg actor', async (t) => {
  let cleaned = 0
  const machine = cameraMachine.provide({
    actors: {
      runFfmpeg: fromCallback(() => () => {
        cleaned += 1
      }),
    },
  })
  const actor = createActor(machine, { input: { frameTimeoutMs: 2000 }, clock: new SimulatedClock() })
  actor.start()
  actor.stop()
  t.equal(cleaned, 1)
})

t.test('reconnectDelayMs', async (t) => {
  t.equal(reconnectDelayMs(0), 250)
  t.equal(reconnectDelayMs(1), 250)
  t.equal(reconnectDelayMs(2), 500)
  t.equal(reconnectDelayMs(8), 30000)
  t.equal(reconnectDelayMs(1000), 30000)
  t.equal(reconnectDelayMs(3, { initialMs: 100, maxMs: 350, resetAfterMs: 0 }), 350)
})

t.test('classifyFfmpegExit', async (t) => {
  t.same(classifyFfmpegExit({ reason: 'exited with code 1', stderr: V4L2_MISSING }, false), {
    kind: 'device',
    message: 'camera source failed: /dev/video99: No such file or directory',
  })
  t.same(classifyFfmpegExit({ reason: 'exited with code 1', stderr: '[tcp @ 0x1] Connection to tcp://10.0.0.9:554?timeout=5000000 failed: Connection refused\nrtsp://***@10.0.0.9/s: Connection refused' }, false), {
    kind: 'device',
    message: 'camera source failed: rtsp://***@10.0.0.9/s: Connection refused',
  })
  t.equal(classifyFfmpegExit({ reason: 'exited with code 1', stderr: 'av_interleaved_write_frame(): Broken pipe\nError writing trailer of rtmp://127.0.0.1:1935/live/cam: Broken pipe' }, true).kind, 'output')
  t.same(classifyFfmpegExit({ reason: 'killed by SIGKILL', stderr: '' }, true), { kind: 'crash', message: 'ffmpeg killed by SIGKILL' })
  t.same(classifyFfmpegExit({ reason: 'killed by SIGKILL', stderr: '' }, false), {
    kind: 'device',
    message: 'ffmpeg killed by SIGKILL before the first frame',
  })
})
