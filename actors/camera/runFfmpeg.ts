import type { Readable } from 'node:stream'
import { fromCallback } from 'xstate'
import type { FfmpegCommand, FfmpegEvent, RunFfmpegInput } from '../../machines/camera.machine.js'
import type { Logger } from '../../infra/logger.js'
import type { ProcessOwner } from '../../infra/process.js'
import { buildFfmpegArgs, MOTION_FD, motionFrameBytes, SNAPSHOT_FD, type FfmpegArgsOptions } from './ffmpegArgs.js'
import type { GrayFrameInfo } from './frames.js'
import { FrameChunker } from './frameChunker.js'
import { JpegSplitter } from './jpegSplitter.js'
import { redactCredentials } from '../../infra/sources.js'

export interface RunFfmpegDeps {
  ffmpegPath: string
  processes: ProcessOwner
  log: Logger
  args: Omit<FfmpegArgsOptions, 'rtmpUrl'>
  /** Asked at each spawn: the media server's publish URL carries a signature that expires. */
  publishUrl: () => string
  /** After 'q', SIGTERM this much later (the machine kills outright at its own grace). */
  termAfterQuitMs: number
  onFrame(gray: Buffer, info: GrayFrameInfo): void
  onSnapshot(jpeg: Buffer): void
}

/**
 * The `runFfmpeg` actor: one ffmpeg process for as long as the machine stays in
 * `capturing`. Frames from fd 3 are cut to whole frames, handed to `onFrame` and
 * reported as FRAME (the machine counts them, the bytes never enter its context);
 * JPEGs from fd 4 go to `onSnapshot`. The cleanup kills the process group: leaving the
 * state is how the machine ends a stalled or unwanted ffmpeg.
 */
export function runFfmpegLogic(deps: RunFfmpegDeps) {
  return fromCallback<FfmpegCommand, RunFfmpegInput>(({ input, sendBack, receive }) => {
    const send = (e: FfmpegEvent) => sendBack(e)
    const { log } = deps
    const motion = deps.args.motion
    const info: GrayFrameInfo = { width: motion?.width ?? 160, height: motion?.height ?? 90 }
    const args = buildFfmpegArgs({ ...deps.args, rtmpUrl: deps.publishUrl() })
    const withSnapshots = deps.args.snapshot !== null
    const proc = deps.processes.spawn(deps.ffmpegPath, args, {
      name: 'camera',
      // stdin stays a pipe: 'q' is ffmpeg's orderly stop.
      stdin: 'pipe',
      extraStdio: withSnapshots ? ['pipe', 'pipe'] : ['pipe'],
      log,
      onStderrLine: (line) => log.warn({ ffmpeg: redactCredentials(line) }, 'ffmpeg'),
    })
    log.info({ pid: proc.pid, attempt: input.attempt }, 'camera ffmpeg started')
    if (proc.pid > 0) send({ type: 'FFMPEG.STARTED', pid: proc.pid })

    // Writes to a process that just died fail with EPIPE: that is its exit, reported below.
    proc.stdin?.on('error', () => {})
    proc.stdout?.resume()

    const frames = proc.child.stdio[MOTION_FD] as Readable | null
    const chunker = new FrameChunker(motionFrameBytes(info))
    const onFrameData = (chunk: Buffer) => {
      for (const gray of chunker.push(chunk)) {
        deps.onFrame(gray, info)
        send({ type: 'FRAME' })
      }
    }
    frames?.on('data', onFrameData)
    frames?.on('error', () => {})

    const jpegs = withSnapshots ? (proc.child.stdio[SNAPSHOT_FD] as Readable | null) : null
    const splitter = new JpegSplitter()
    const onJpegData = (chunk: Buffer) => {
      for (const jpeg of splitter.push(chunk)) deps.onSnapshot(jpeg)
    }
    jpegs?.on('data', onJpegData)
    jpegs?.on('error', () => {})

    let termTimer: NodeJS.Timeout | undefined
    void proc.exited.then((exit) => {
      clearTimeout(termTimer)
      const stderr = redactCredentials(proc.stderrTail())
      log.info({ pid: proc.pid, reason: exit.reason }, 'camera ffmpeg exited')
      send({ type: 'FFMPEG.EXITED', reason: exit.reason, normal: exit.normal, stderr })
    })

    receive((cmd) => {
      if (cmd.type === 'QUIT') {
        proc.stdin?.write('q')
        clearTimeout(termTimer)
        termTimer = setTimeout(() => proc.signal('SIGTERM'), deps.termAfterQuitMs)
      } else if (cmd.type === 'KILL') {
        proc.signal('SIGKILL')
      }
    })

    return () => {
      clearTimeout(termTimer)
      frames?.off('data', onFrameData)
      jpegs?.off('data', onJpegData)
      // SIGKILL also ends a SIGSTOPped process; its sockets close, so the media server
      // frees the stream for the next publisher at once.
      if (proc.isRunning()) proc.signal('SIGKILL')
      frames?.destroy()
      jpegs?.destroy()
    }
  })
}
