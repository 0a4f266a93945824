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
  type SourceEvent,
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
  /** The watchSource actor running now (reconnecting, device_error), or null. */
  watching(): boolean
  /** What the real watcher sends when a refusing camera accepts again. */
  sourceReachable(): void
}

/** `respond`: the fake ffmpeg exits on KILL and on QUIT, as the real one does. */
function start(input: Partial<CameraInput> = {}, opts: { respond?: boolean } = {}): Harness {
  const clock = new SimulatedClock()
  const runs: Harness['runs'] = []
  const alerts: CameraAlert[] = []
  const drops: FrameDropRecord[] = []
  const history: string[] = []
  let current: ((e: FfmpegEvent) => void) | undefined
  let watcher: ((e: SourceEvent) => void) | undefined
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
      watchSource: fromCallback(({ sendBack }) => {
        const send = (e: SourceEvent) => sendBack(e)
        watcher = send
        return () => {
          if (watcher === send) watcher = undefined
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
    watching: () => watcher !== undefined,
    sourceReachable: () => watcher?.({ type: 'SOURCE.REACHABLE' }),
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

t.test('no frame for frameTimeoutMs → stalled (alert, drop, kill) → reconnecting → starting at once', async (t) => {
  const h = start()
  h.frames(5)
  h.clock.increment(1999)
  t.equal(h.state(), 'streaming')
  h.clock.increment(1)
  // The first retry has no wait: reconnecting is passed through within the same instant.
  t.same(h.history, ['starting', 'streaming', 'stalled', 'reconnecting', 'starting'])
  t.same(h.runs[0]!.commands, [{ type: 'KILL' }], 'the wedged ffmpeg is killed, not asked')
  t.equal(h.alerts.length, 1)
  t.match(h.alerts[0], { code: 'camera.stalled', severity: 'warning' })
  t.same(h.drops, [{ reason: 'no frame for 2000 ms', framesSeen: 5, attempt: 0 }])
  t.equal(h.ctx().lastError, 'stalled: no frame for 2000 ms')
  t.equal(h.state(), 'starting')
  t.equal(h.runs.length, 2)
  t.same(h.ctx().pids, [102])
  t.equal(h.ctx().restarts, 1)
  h.emit({ type: 'FRAME' })
  t.equal(h.state(), 'streaming')
  h.actor.stop()
})

t.test('the second failure in a row waits: reconnecting is ready and recovers on its own', async (t) => {
  const h = start()
  h.frames(1)
  h.exit('killed by SIGKILL')
  t.equal(h.state(), 'reconnecting')
  h.clock.increment(0) // a zero delay is still a timer: the next turn of the event loop
  t.equal(h.state(), 'starting', 'first failure: restarted at once')
  h.frames(1)
  h.exit('killed by SIGKILL')
  t.equal(h.state(), 'reconnecting')
  t.same(h.ctx().pids, [])
  t.ok(h.actor.getSnapshot().hasTag('ready'), 'reconnecting is still ready: the actor recovers on its own')
  h.clock.increment(249)
  t.equal(h.state(), 'reconnecting')
  h.clock.increment(1)
  t.equal(h.state(), 'starting')
  t.equal(h.runs.length, 3)
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

t.test('reconnect backoff: the first retry at once, then 250 ms · 2^n up to 30 s; reset after 60 s of streaming', async (t) => {
  const h = start()
  const waits: number[] = []
  for (let i = 0; i < 10; i++) {
    h.frames(1)
    h.exit('killed by SIGKILL')
    h.clock.increment(0)
    let waited = 0
    while (h.state() === 'reconnecting') {
      h.clock.increment(50)
      waited += 50
    }
    t.equal(h.state(), 'starting')
    waits.push(waited)
  }
  t.same(waits, [0, 250, 500, 1000, 2000, 4000, 8000, 16000, 30000, 30000])
  t.equal(h.ctx().attempt, 10)

  // Streams for a minute: earlier failures are forgotten.
  h.emit({ type: 'FRAME' })
  h.frames(300) // 300 × 200 ms = 60 s
  t.equal(h.ctx().attempt, 0)
  h.exit('killed by SIGKILL')
  h.clock.increment(0)
  t.equal(h.state(), 'starting', 'back to the first step: at once')
  h.frames(1)
  h.exit('killed by SIGKILL')
  h.clock.increment(249)
  t.equal(h.state(), 'reconnecting')
  h.clock.increment(1)
  t.equal(h.state(), 'starting', 'then 250 ms')
  h.actor.stop()
})

t.test('a short stream does not reset the backoff', async (t) => {
  const h = start()
  h.frames(1)
  h.exit('killed by SIGKILL')
  h.frames(1)
  h.exit('killed by SIGKILL')
  h.clock.increment(250)
  h.frames(100) // 20 s
  h.exit('killed by SIGKILL')
  t.equal(h.ctx().attempt, 3)
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
  t.match(h.alerts, [{ code: 'camera.device_error', message: 'camera source failed: /dev/video99: No such file or directory', details: { retryInMs: 0 } }])
  h.clock.increment(0)
  t.equal(h.state(), 'starting', 'the first retry at once')
  h.exit('exited with code 1', V4L2_MISSING)
  h.clock.increment(249)
  t.equal(h.state(), 'device_error')
  h.clock.increment(1)
  t.equal(h.state(), 'starting')
  h.exit('exited with code 1', V4L2_MISSING)
  h.clock.increment(499)
  t.equal(h.state(), 'device_error')
  h.clock.increment(1)
  t.equal(h.state(), 'starting')
  t.equal(h.runs.length, 4)
  h.actor.stop()
})

const RTSP_REFUSED = '[tcp @ 0x1] Connection to tcp://127.0.0.1:8554?timeout=5000000 failed: Connection refused\nrtsp://127.0.0.1:8554/cam: Connection refused'

t.test('a rebooting RTSP camera: the waits grow while it refuses, the next start goes the moment it accepts', async (t) => {
  const h = start()
  h.frames(20)
  // The camera loses power: its connection ends, then every start is refused.
  h.exit('exited with code 0')
  t.ok(h.watching(), 'reconnecting watches the source')
  h.clock.increment(0)
  t.equal(h.state(), 'starting', 'the first retry at once')
  t.notOk(h.watching(), 'no watching while an ffmpeg runs')
  const downAt = h.clock.now()
  for (const wait of [250, 500, 1000]) {
    h.exit('exited with code 1', RTSP_REFUSED)
    t.equal(h.state(), 'device_error')
    t.ok(h.watching(), 'device_error watches the source')
    h.clock.increment(wait)
    t.equal(h.state(), 'starting', `retried after ${wait} ms`)
  }
  h.exit('exited with code 1', RTSP_REFUSED)
  t.equal(h.ctx().attempt, 5)
  t.equal(h.state(), 'device_error')
  // 2 s into the 2 s wait the camera is back: no need to wait for the timer.
  h.clock.increment(300)
  const runs = h.runs.length
  h.sourceReachable()
  t.equal(h.state(), 'starting', 'started at once on SOURCE.REACHABLE')
  t.equal(h.runs.length, runs + 1)
  t.equal(h.ctx().attempt, 0, 'failures forgotten: the camera is back, not still failing')
  t.equal(h.ctx().restarts, 5)
  t.notOk(h.watching())
  t.equal(h.clock.now() - downAt, 2050, 'back 2.05 s after the loss (the timer alone: 3.75 s)')
  // The camera's stream is not ready yet: the next retry is at once again, then 250 ms.
  h.exit('exited with code 1', RTSP_REFUSED)
  h.clock.increment(0)
  t.equal(h.state(), 'starting')
  h.emit({ type: 'FRAME' })
  t.equal(h.state(), 'streaming')
  t.same(
    h.history.filter((s, i, a) => a.indexOf(s) === i),
    ['starting', 'streaming', 'reconnecting', 'device_error'],
    'the states an operator sees',
  )
  h.actor.stop()
})

t.test('SOURCE.REACHABLE from reconnecting (a stall, then a slow camera) starts at once too', async (t) => {
  const h = start()
  h.frames(1)
  h.exit('killed by SIGKILL')
  h.clock.increment(0)
  h.frames(1)
  h.exit('killed by SIGKILL')
  t.equal(h.state(), 'reconnecting')
  h.sourceReachable()
  t.equal(h.state(), 'starting')
  t.equal(h.ctx().attempt, 0)
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
  t.equal(reconnectDelayMs(0), 0)
  t.equal(reconnectDelayMs(1), 0, 'the first restart is immediate (DESIGN §9.5)')
  t.equal(reconnectDelayMs(2), 250)
  t.equal(reconnectDelayMs(3), 500)
  t.equal(reconnectDelayMs(9), 30000)
  t.equal(reconnectDelayMs(1000), 30000)
  t.equal(reconnectDelayMs(4, { initialMs: 100, maxMs: 350, resetAfterMs: 0 }), 350)
})

t.test('classifyFfmpegExit', async (t) => {
  // ffmpeg 5.1, an H.265 file copied into the live stream (camera.videoCodec copy).
  const hevc = '[flv @ 0x557012265cc0] Video codec hevc not compatible with flv\nCould not write header for output file #0 (incorrect codec parameters ?): Function not implemented\nError initializing output stream 0:0 -- '
  t.same(classifyFfmpegExit({ reason: 'exited with code 1', stderr: hevc }, false), {
    kind: 'device',
    message: 'camera source failed: the camera sends hevc video, which the live stream (FLV: H.264 and AAC) cannot carry as it is; set camera.videoCodec to "encode"',
  })
  t.match(classifyFfmpegExit({ reason: 'exited with code 1', stderr: '[flv @ 0x1] Audio codec adpcm_g726 not compatible with flv' }, false).message, /sends adpcm_g726 audio.*set camera\.audioCodec to "encode"/)
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
