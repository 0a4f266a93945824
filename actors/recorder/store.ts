import { mkdir } from 'node:fs/promises'
import { join } from 'node:path'
import { fromPromise } from 'xstate'
import type { Clock } from '../../infra/clock.js'
import type { Config } from '../../infra/config/schema.js'
import type { DiskProbe } from '../../infra/disk.js'
import type { Logger } from '../../infra/logger.js'
import type { FinalizeInput, FinalizeOutput, OpenedSession, OpenInput, PreRollFile, SessionSummary, SessionTrigger, StartTrigger } from '../../machines/recorder.types.js'
import type { RecordingMode } from '../../machines/recordingMode.machine.js'
import type { ExitTracker } from './capture.js'
import { bufferDirOf } from './mode.js'
import { takePreRoll } from './preRollBuffer.js'
import { applyRetention } from './retention.js'
import { collectSegments, deleteSessionDir, listOwnedSessions, readSession, reconcileInterrupted, writeSession, SESSION_SCHEMA_VERSION, type GapRecord, type SessionFile } from './session.js'
import type { SessionIdSource } from './sessionId.js'

type ModeKeys = 'mode' | 'continuousSessionS' | 'preRollS' | 'postRollS' | 'warmStartS'
/** The recorder's config section; the mode keys default as in the schema (manual). */
export type RecorderConfig = Omit<Config['recorder'], ModeKeys> & Partial<Pick<Config['recorder'], ModeKeys>>

export interface SessionStoreDeps {
  config: RecorderConfig & { node: string }
  recordingsDir: string
  clock: Clock
  log: Logger
  disk: DiskProbe
  ids: SessionIdSource
  exits: ExitTracker
  mode: RecordingMode
  preRollMs: number
  /** A start by hand (manual or events mode) opens with this much buffered footage; 0: none. */
  warmStartMs: number
}

/**
 * How much buffered footage a new session opens with: an event's pre-roll reaches back
 * preRollS from the trigger (plus the time the start took to get here); a start by hand in
 * manual or events mode takes the warm start; continuous sessions follow each other.
 */
export function bufferedNeedMs(o: { mode: RecordingMode; preRollMs: number; warmStartMs: number }, trigger: StartTrigger | undefined, startedMono: number): number {
  if (o.mode === 'continuous' || trigger?.kind === 'continuous') return 0
  if (o.mode === 'events' && trigger && (trigger.kind === 'motion' || trigger.kind === 'sound')) {
    return o.preRollMs + Math.max(0, startedMono - (trigger.mono ?? startedMono))
  }
  return o.warmStartMs
}

/**
 * The session's pre-roll files: the machine's list, and any the bridge listed in session.json
 * whose PREROLL.ADDED came too late for the machine (a stop in the same moment).
 */
async function listedPreRollFiles(session: { dir: string; preRollFiles?: PreRollFile[] | undefined }): Promise<PreRollFile[]> {
  const own = session.preRollFiles ?? []
  const onDisk = (await readSession(session.dir).catch(() => null))?.preRollFiles ?? []
  const known = new Set(own.map((f) => f.file))
  return [...own, ...onDisk.filter((f) => !known.has(f.file))].sort((a, b) => a.file.localeCompare(b.file))
}

/**
 * The recorder machine's disk work, as the promise actors it names: prepare the store
 * (reconcile, retention), probe the disk, open a session dir (with an event session's
 * pre-roll moved in), finalize it. The recorder alone owns `recordings/<sessionId>/`.
 */
export function createSessionStore(deps: SessionStoreDeps) {
  const { config, recordingsDir, clock, log, ids, exits, mode, preRollMs, warmStartMs } = deps
  let activeId: string | null = null
  const retentionPolicy = config.retention

  const retention = async () => {
    try {
      await applyRetention(recordingsDir, retentionPolicy, log, clock.now(), { activeId, node: config.node })
    } catch (err) {
      log.error({ err }, 'retention failed')
    }
  }

  const prepareStore = fromPromise<void, void>(async () => {
    await mkdir(recordingsDir, { recursive: true, mode: 0o700 })
    await reconcileInterrupted(recordingsDir, log)
    for (const o of await listOwnedSessions(recordingsDir)) ids.observe(o.session.id)
    await retention()
  })

  // Final session.json files a full disk refused (ENOSPC): written again by the next disk
  // probe (every second in disk_full), so a session does not stay `recording` on disk until
  // a restart reconciles it.
  const unwritten = new Map<string, SessionFile>()
  const writeUnwritten = async () => {
    for (const [dir, file] of unwritten) {
      try {
        await writeSession(dir, file)
        unwritten.delete(dir)
        log.info({ session: file.id, state: file.state }, 'final session.json written now that the disk has space')
      } catch (err) {
        // Gone (deleted by an operator): nothing left to finalize. Anything else: next probe.
        if ((err as NodeJS.ErrnoException).code === 'ENOENT') unwritten.delete(dir)
      }
    }
  }

  const probeDisk = fromPromise<{ freeBytes: number }, void>(async () => {
    const { freeBytes } = await deps.disk.free(recordingsDir)
    if (unwritten.size > 0) await writeUnwritten()
    return { freeBytes }
  })

  const openSession = fromPromise<OpenedSession, OpenInput>(async ({ input }) => {
    await mkdir(recordingsDir, { recursive: true, mode: 0o700 })
    for (let attempt = 0; ; attempt++) {
      const id = ids.next()
      const dir = join(recordingsDir, id)
      try {
        // Private whatever the process mask: a session is someone's home on video.
        await mkdir(dir, { mode: 0o700 })
      } catch (err) {
        // Another process (or an earlier life of this one) made this id: take the next.
        if ((err as NodeJS.ErrnoException).code === 'EEXIST' && attempt < 10) continue
        throw err
      }
      const startedAt = new Date(clock.now()).toISOString()
      const startedMono = clock.monotonic()
      const t = input.trigger
      const trigger: SessionTrigger = t ? { kind: t.kind, at: t.at } : { kind: 'manual', at: startedAt }
      let preRollFiles: PreRollFile[] = []
      const needMs = bufferedNeedMs({ mode, preRollMs, warmStartMs }, t, startedMono)
      if (needMs > 0) {
        preRollFiles = await takePreRoll(bufferDirOf(recordingsDir), dir, needMs, log).catch((err: unknown) => {
          log.warn({ err, session: id }, 'no pre-roll: the buffer could not be read')
          return []
        })
      }
      const opened: OpenedSession = { id, name: input.name ?? 'recording', dir, startedAt, startedMono, trigger, preRollFiles }
      try {
        await writeSession(dir, {
          schemaVersion: SESSION_SCHEMA_VERSION,
          node: config.node,
          name: opened.name,
          id,
          startedAt: opened.startedAt,
          startedMono: opened.startedMono,
          state: 'recording',
          stopReason: null,
          stoppedAt: null,
          durationMs: null,
          segments: [],
          gaps: [],
          trigger,
          events: [],
          ...(preRollFiles.length > 0 ? { preRollFiles } : {}),
        })
      } catch (err) {
        await deleteSessionDir(recordingsDir, dir).catch(() => undefined)
        throw err
      }
      activeId = id
      log.info({ session: id, name: opened.name, dir }, 'session opened')
      return opened
    }
  })

  const finalizeSession = fromPromise<FinalizeOutput, FinalizeInput>(async ({ input }) => {
    const { session } = input
    await exits.settled(session.dir)
    // The recording ended when ffmpeg did: measure before the (disk-bound) bookkeeping.
    const endMono = clock.monotonic()
    const stoppedAt = new Date(clock.now()).toISOString()
    const segments = await collectSegments(session.dir, log)
    const bytes = segments.reduce((n, s) => n + s.bytes, 0)
    const preRollFiles = await listedPreRollFiles(session)
    const gaps: GapRecord[] = [...session.gaps]
    if (input.openGap) {
      gaps.push({ at: input.openGap.at, reason: input.openGap.reason, ms: Math.max(0, Math.round(endMono - input.openGap.mono)) })
    }
    const summary: SessionSummary = {
      id: session.id,
      name: session.name,
      dir: session.dir,
      startedAt: session.startedAt,
      bytes,
      segments: segments.length,
      state: input.endState,
      stoppedAt,
      durationMs: Math.max(0, Math.round((input.stopMono !== null && input.stopMono < endMono ? input.stopMono : endMono) - session.startedMono)),
      stopReason: input.stopReason,
      deleted: false,
      ...(session.trigger ? { trigger: session.trigger } : {}),
    }
    if (bytes === 0 && preRollFiles.length === 0) {
      // Nothing was recorded (no source, stopped at once): an empty dir is noise, not a session.
      // Buffered footage moved in at the start is a recording (a stop at once keeps that second).
      await deleteSessionDir(recordingsDir, session.dir)
      summary.deleted = true
      log.info({ session: session.id }, 'session had no media; deleted')
    } else {
      const final: SessionFile = {
        schemaVersion: SESSION_SCHEMA_VERSION,
        node: config.node,
        name: session.name,
        id: session.id,
        startedAt: session.startedAt,
        startedMono: session.startedMono,
        state: input.endState,
        stopReason: input.stopReason,
        stoppedAt: summary.stoppedAt,
        durationMs: summary.durationMs,
        preRollMs: session.preRollMs,
        postRollMs: input.postRollMs,
        segments,
        gaps,
        trigger: session.trigger ?? { kind: 'manual', at: session.startedAt },
        events: session.events,
        ...(preRollFiles.length > 0 ? { preRollFiles } : {}),
      }
      try {
        await writeSession(session.dir, final)
      } catch (err) {
        // A full disk can refuse even this small write. The segments are safe: report, do not
        // fail the stop, and write it again once the disk has space (a restart before that
        // reconciles the session to `interrupted`).
        log.error({ err, session: session.id }, 'could not write the final session.json; will retry when the disk has space')
        unwritten.set(session.dir, final)
      }
      log.info({ session: session.id, state: input.endState, bytes, segments: segments.length, durationMs: summary.durationMs }, 'session finalized')
    }
    activeId = null
    await retention()
    return { summary, files: segments.map((s) => ({ file: s.file, bytes: s.bytes })) }
  })

  return { prepareStore, probeDisk, openSession, finalizeSession, activeId: () => activeId }
}
