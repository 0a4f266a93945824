import { Type } from '@sinclair/typebox'
import { createActor, type Actor, type ActorOptions } from 'xstate'
import type { AlertInput } from '../../infra/alerts.js'
import { systemClock, type Clock } from '../../infra/clock.js'
import type { Config } from '../../infra/config/schema.js'
import type { Logger } from '../../infra/logger.js'
import type { CommandRouter } from '../../infra/nats/commands.js'
import type { ProcessOwner } from '../../infra/process.js'
import { audioMachine, detectorStateOf, type AudioInput, type AudioSettings, type SoundPayload } from '../../machines/audio.machine.js'
import type { ChildFactory } from '../supervisor/child.js'
import { machineChild } from '../supervisor/machineChild.js'
import { buildMeterArgs, type ResolvedAudioSource } from './ffmpegArgs.js'
import { runMeterLogic } from './meter.js'
import { describeAudioSource, parseAudioSource, type AudioSource } from '../../infra/sources.js'

export { parseAudioSource, type AudioSource } from '../../infra/sources.js'
export { buildMeterArgs, TEST_SOUND } from './ffmpegArgs.js'
export { createLevelParser, SILENCE_DB } from './levelParser.js'

export interface AudioDeps {
  config: Config['audio']
  ffmpegPath: string
  processes: ProcessOwner
  log: Logger
  clock?: Clock
  /** The camera's live stream (source `camera`); a function when the port is picked at start. */
  cameraUrl?: string | (() => string)
  alert(a: AlertInput): void
  publishEvent(kind: 'sound', payload: Record<string, unknown>): void
  /** Test knobs; the defaults are the operator's (machines/audio.machine.ts AUDIO_DEFAULTS). */
  timing?: Partial<Pick<AudioSettings, 'startTimeoutMs' | 'levelTimeoutMs' | 'stopGraceMs' | 'windowMs'>>
}

export type AudioActor = Actor<typeof audioMachine>

function resolveSource(source: AudioSource, cameraUrl: AudioDeps['cameraUrl']): ResolvedAudioSource {
  if (source.kind !== 'camera') return source
  const url = typeof cameraUrl === 'function' ? cameraUrl() : cameraUrl
  if (!url) throw new Error('audio.source is "camera" but no camera stream URL was given')
  return { kind: 'url', url }
}

/** The audio machine with its ffmpeg and effects. Throws BAD_REQUEST for an unsupported source. */
export function provideAudio(deps: AudioDeps) {
  const source = parseAudioSource(deps.config.source)
  const shown = describeAudioSource(source)
  const clock = deps.clock ?? systemClock
  const { log } = deps
  const guarded = (what: string, fn: () => void) => {
    try {
      fn()
    } catch (err) {
      log.warn({ err: (err as Error).message }, `audio ${what} failed`)
    }
  }
  const runMeter = runMeterLogic({
    ffmpegPath: deps.ffmpegPath,
    processes: deps.processes,
    log,
    clock,
    args: (windowMs) => buildMeterArgs(resolveSource(source, deps.cameraUrl), windowMs),
  })
  return audioMachine.provide({
    actors: { runMeter },
    actions: {
      publishSound: (_, sound: SoundPayload) => {
        log.info({ db: sound.db, durationMs: sound.durationMs }, 'sound')
        guarded('sound event', () => deps.publishEvent('sound', { ...sound, thresholdDb: deps.config.thresholdDb, source: shown }))
      },
      raiseAlert: (_, a) => {
        guarded('alert', () => deps.alert({ source: 'audio', severity: a.severity, code: a.code, message: a.message, details: { ...a.details, audioSource: shown } }))
      },
    },
  })
}

export function audioInput(deps: AudioDeps, afterFailure = false): AudioInput {
  return {
    thresholdDb: deps.config.thresholdDb,
    minMs: deps.config.minMs,
    cooldownMs: deps.config.cooldownMs,
    ...deps.timing,
    afterFailure,
  }
}

/** An unstarted audio actor (the supervisor starts it through `audioChild`). */
export function createAudioActor(
  deps: AudioDeps,
  options: Omit<ActorOptions<ReturnType<typeof provideAudio>>, 'input'> & { afterFailure?: boolean; paused?: boolean } = {},
): AudioActor {
  const { afterFailure, paused, ...actorOptions } = options
  return createActor(provideAudio(deps), { ...actorOptions, input: { ...audioInput(deps, afterFailure), paused: paused === true } }) as AudioActor
}

/** `audio.status`. `down`: no live instance (between supervisor restarts). */
export interface AudioStatus {
  state: string
  /** quiet, loud or cooldown while listening. */
  detector: string | null
  levelDb: number | null
  lastSoundAt: string | null
  pid: number | null
  sounds: number
  thresholdDb: number
  source: string
}

/**
 * The runtime's stable handle on the audio child. The supervisor makes a new actor on
 * every restart, so commands, registered once at boot, hold this handle; the factory
 * attaches each instance when it starts and detaches it when it ends. It also carries
 * what must outlive an instance: the last sound, and whether the last one failed (so
 * the next announces its recovery with audio.up).
 */
export class AudioHandle {
  #current: AudioActor | null = null
  #lastSoundAt: string | null = null
  #sounds = 0
  #lastExitFailed = false
  #paused = false
  readonly #source: string
  readonly #thresholdDb: number

  constructor(config: Pick<Config['audio'], 'source' | 'thresholdDb'>) {
    this.#source = describeAudioSource(parseAudioSource(config.source))
    this.#thresholdDb = config.thresholdDb
  }

  get current(): AudioActor | null {
    return this.#current
  }

  get lastExitFailed(): boolean {
    return this.#lastExitFailed
  }

  get paused(): boolean {
    return this.#paused
  }

  /** The governor's CPU CRITICAL: the live instance pauses or resumes, and later instances start that way. */
  setPaused(paused: boolean): void {
    this.#paused = paused
    this.#current?.send({ type: paused ? 'PAUSE' : 'RESUME' })
  }

  attach(actor: AudioActor): void {
    this.#current = actor
  }

  /** Only the attached instance detaches itself (a late exit of an old one is ignored). */
  detach(actor: AudioActor, normal: boolean): void {
    if (this.#current !== actor) return
    const c = actor.getSnapshot().context
    this.#lastSoundAt = c.lastSoundAt ?? this.#lastSoundAt
    this.#sounds += c.sounds
    this.#lastExitFailed = !normal
    this.#current = null
  }

  status(): AudioStatus {
    const actor = this.#current
    if (!actor) {
      return { state: 'down', detector: null, levelDb: null, lastSoundAt: this.#lastSoundAt, pid: null, sounds: this.#sounds, thresholdDb: this.#thresholdDb, source: this.#source }
    }
    const s = actor.getSnapshot()
    const c = s.context
    const state = typeof s.value === 'string' ? s.value : 'listening'
    return {
      state,
      detector: detectorStateOf(s.value),
      levelDb: c.levelDb,
      lastSoundAt: c.lastSoundAt ?? this.#lastSoundAt,
      pid: c.pid,
      sounds: this.#sounds + c.sounds,
      thresholdDb: c.settings.thresholdDb,
      source: this.#source,
    }
  }
}

/** The supervisor's factory: a fresh machine (and ffmpeg) per (re)start, attached to `handle`. */
export function audioChild(deps: AudioDeps, handle: AudioHandle = new AudioHandle(deps.config)): ChildFactory {
  return () => machineChild(() => createAudioActor(deps, { afterFailure: handle.lastExitFailed, paused: handle.paused }), { attachTo: handle })
}

const NoArgs = Type.Object({}, { additionalProperties: false })

/** `audio.status` (DESIGN.md §4). */
export function registerAudioCommands(router: CommandRouter, handle: AudioHandle): void {
  router.register({
    actor: 'audio',
    verb: 'status',
    description: 'the level meter: state, current level (dBFS), last sound, ffmpeg pid',
    args: NoArgs,
    readOnly: true,
    handler: async () => handle.status(),
  })
}
