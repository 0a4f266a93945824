import { fromCallback } from 'xstate'
import type { Clock } from '../../infra/clock.js'
import type { Logger } from '../../infra/logger.js'
import type { OwnedProcess, ProcessOwner } from '../../infra/process.js'
import type { MeterCommand, MeterEvent, RunMeterInput } from '../../machines/audio.machine.js'
import { createLevelParser, createLineSplitter } from './levelParser.js'

export interface RunMeterDeps {
  ffmpegPath: string
  processes: ProcessOwner
  log: Logger
  clock: Clock
  /** argv for this window length; resolved at each spawn (the camera's URL may change port). */
  args(windowMs: number): string[]
}

/**
 * The `runMeter` actor: owns one ffmpeg level meter. Reports METER.STARTED, a LEVEL
 * per window and METER.EXITED; STOP sends SIGTERM; its cleanup (the machine reaching
 * a final state, or the actor being stopped) SIGKILLs whatever is left.
 */
export function runMeterLogic(deps: RunMeterDeps) {
  const { log, clock } = deps
  return fromCallback<MeterCommand, RunMeterInput>(({ sendBack, receive, input }) => {
    let disposed = false
    // Never from inside the parent's own transition (the spawn runs in an entry action).
    const report = (event: MeterEvent) => {
      queueMicrotask(() => {
        if (!disposed) sendBack(event)
      })
    }
    const args = deps.args(input.windowMs)
    const proc: OwnedProcess = deps.processes.spawn(deps.ffmpegPath, args, { name: 'ffmpeg-audio', log })
    if (proc.pid > 0) {
      log.info({ pid: proc.pid }, 'audio meter started')
      report({ type: 'METER.STARTED', pid: proc.pid })
    }
    const parser = createLevelParser()
    const split = createLineSplitter((line) => {
      const reading = parser.line(line)
      if (reading && !disposed) sendBack({ type: 'LEVEL', db: reading.db, t: reading.t, at: clock.now() })
    })
    proc.stdout?.setEncoding('utf8')
    proc.stdout?.on('data', (chunk: string) => split(chunk))
    let stopping = false
    void proc.exited.then((info) => {
      if (disposed) return
      const stderr = proc.stderrTail()
      if (stopping) log.info({ pid: proc.pid, reason: info.reason }, 'audio meter stopped')
      else log.warn({ pid: proc.pid, reason: info.reason, stderr }, 'audio meter exited')
      report({ type: 'METER.EXITED', reason: info.reason, stderr })
    })
    receive((cmd) => {
      if (cmd.type !== 'STOP') return
      stopping = true
      proc.signal('SIGTERM')
    })
    return () => {
      disposed = true
      if (proc.isRunning()) proc.signal('SIGKILL')
    }
  })
}
