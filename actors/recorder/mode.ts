import { join } from 'node:path'
import { createActor, fromPromise, type Actor } from 'xstate'
import type { Clock } from '../../infra/clock.js'
import type { DiskProbe } from '../../infra/disk.js'
import type { Logger } from '../../infra/logger.js'
import type { OwnedProcess, ProcessOwner } from '../../infra/process.js'
import type { SessionSummary, StartTrigger } from '../../machines/recorder.types.js'
import { recordingModeMachine, type ModeSettings, type ModeTrigger } from '../../machines/recordingMode.machine.js'
import { makeRoom } from './freeSpace.js'
import { BUFFER_DIR, preRollBufferLogic } from './preRollBuffer.js'

export interface ModeDeps {
  settings: ModeSettings
  node: string
  recordingsDir: string
  inputUrl: string | (() => string)
  ffmpegPath: string
  processes: ProcessOwner
  disk: DiskProbe
  clock: Clock
  log: Logger
  stopGraceMs: number
  /** The buffer's ffmpeg joins the recorder's own: pids() and the supervisor's kill see it. */
  live: Set<OwnedProcess>
  /** The recorder's commands and state: a mode acts only through them. */
  recorder: {
    start(args: { name: string; trigger: StartTrigger }): Promise<SessionSummary>
    stop(): Promise<SessionSummary>
    sessionId(): string | null
    /** A motion or sound event for the session's `events` list. */
    noteEvent(kind: 'motion' | 'sound', at: string): void
  }
}

export const bufferDirOf = (recordingsDir: string) => join(recordingsDir, BUFFER_DIR)

/** The recording-mode machine with its I/O: the recorder's commands, the disk, the pre-roll buffer. */
export function createModeActor(deps: ModeDeps): Actor<typeof recordingModeMachine> {
  const { clock, log } = deps
  const machine = recordingModeMachine.provide({
    actors: {
      openRecording: fromPromise<{ id: string }, { trigger: ModeTrigger }>(async ({ input }) => {
        const t = input.trigger
        const trigger: StartTrigger = { kind: t.kind, at: t.at ?? new Date(clock.now()).toISOString(), mono: t.mono ?? clock.monotonic() }
        const s = await deps.recorder.start({ name: t.kind, trigger })
        log.info({ session: s.id, trigger: { kind: trigger.kind, at: trigger.at } }, 'recording mode opened a session')
        return { id: s.id }
      }),
      closeRecording: fromPromise<void, { id: string }>(async ({ input }) => {
        // Already ended (an operator, disk full): nothing to close.
        if (deps.recorder.sessionId() !== input.id) return
        await deps.recorder.stop()
      }),
      probeDisk: fromPromise(async () => deps.disk.free(deps.recordingsDir)),
      makeRoom: fromPromise<{ deleted: string[]; freeBytes: number }, { keepFreeBytes: number }>(({ input }) =>
        makeRoom({ recordingsDir: deps.recordingsDir, keepFreeBytes: input.keepFreeBytes, node: deps.node, disk: deps.disk, log, activeId: deps.recorder.sessionId() }),
      ),
      preRollBuffer: preRollBufferLogic({
        inputUrl: deps.inputUrl,
        ffmpegPath: deps.ffmpegPath,
        processes: deps.processes,
        clock,
        log,
        bufferDir: bufferDirOf(deps.recordingsDir),
        stopGraceMs: deps.stopGraceMs,
        live: deps.live,
      }),
    },
    actions: {
      recordEvent: (_, e) => deps.recorder.noteEvent(e.kind, e.at),
      note: (_, n) => log[n.level](n.details ?? {}, n.message),
    },
  })
  return createActor(machine, { input: { settings: deps.settings } })
}
