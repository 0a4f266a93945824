import { Type } from '@sinclair/typebox'
import { createActor, fromPromise, type Actor, type ActorOptions } from 'xstate'
import type { AlertInput } from '../../infra/alerts.js'
import type { Clock } from '../../infra/clock.js'
import type { Config } from '../../infra/config/schema.js'
import type { DiskProbe } from '../../infra/disk.js'
import type { Logger } from '../../infra/logger.js'
import type { CommandRouter } from '../../infra/nats/commands.js'
import {
  DIMENSIONS,
  governorMachine,
  type GovernorInput,
  type Level,
  type PreviewLevel,
  type ResourceSample,
  type Thresholds,
} from '../../machines/governor.machine.js'
import type { ChildFactory } from '../supervisor/child.js'
import { machineChild } from '../supervisor/machineChild.js'
import { topStateName } from '../../machines/stateName.js'
import { createSystemSampler } from './sampler.js'

export { createSystemSampler, type SamplerDeps, type SystemInfo } from './sampler.js'
export type { Level, PreviewLevel, ResourceSample } from '../../machines/governor.machine.js'

export interface GovernorDeps {
  config: Config['governor']
  /** Its filesystem is the one measured for free space. */
  dataDir: string
  log: Logger
  alert(a: AlertInput): void
  /** DEGRADE → 'low', CRITICAL → 'off', back to 'full' below DEGRADE; said on every instance's first sample (infra/preview.ts, the camera's SET_PREVIEW). */
  setPreview?(level: PreviewLevel, reason: string): void
  /** Disk below its critical threshold: stop the recording. Resolves true when a recording was stopped. */
  stopRecording?(reason: string): Promise<boolean | void> | boolean | void
  /** CPU CRITICAL: pause (true) or resume (false) audio and motion analysis; said on every instance's first sample. */
  pauseAnalysis?(paused: boolean, reason: string): void
  /** Replaces the system sampler (tests, fault injection); made fresh for every instance. */
  sampler?: () => () => Promise<ResourceSample>
  disk?: DiskProbe
  clock?: Clock
}

export type GovernorActor = Actor<typeof governorMachine>

export function governorInput(config: Config['governor']): GovernorInput {
  return {
    sampleMs: config.sampleMs,
    thresholds: { diskBytes: { ...config.diskBytes }, cpuPercent: { ...config.cpuPercent }, memoryPercent: { ...config.memoryPercent } },
    hysteresis: { marginPercent: config.releaseMarginPercent, marginDisk: config.releaseMarginDisk, samples: config.releaseSamples },
  }
}

export function provideGovernor(deps: GovernorDeps) {
  const { log } = deps
  const sample = deps.sampler
    ? deps.sampler()
    : createSystemSampler({ dataDir: deps.dataDir, ...(deps.disk ? { disk: deps.disk } : {}), ...(deps.clock ? { clock: deps.clock } : {}) })
  const raise = (a: AlertInput) => {
    try {
      deps.alert(a)
    } catch (err) {
      log.warn({ err: (err as Error).message, code: a.code }, 'governor alert failed')
    }
  }
  return governorMachine.provide({
    actors: { sampleResources: fromPromise<ResourceSample>(() => sample()) },
    actions: {
      raiseAlert: (_, a) => raise({ source: 'governor', ...a }),
      setPreview: (_, { level, reason }) => {
        log.info({ preview: level, reason }, 'governor sets the preview')
        try {
          deps.setPreview?.(level, reason)
        } catch (err) {
          log.warn({ err: (err as Error).message }, 'setPreview failed')
        }
      },
      pauseAnalysis: (_, { paused, reason }) => {
        log.info({ paused, reason }, paused ? 'governor pauses audio and motion analysis' : 'governor lets audio and motion analysis run')
        try {
          deps.pauseAnalysis?.(paused, reason)
        } catch (err) {
          log.warn({ err: (err as Error).message }, 'pauseAnalysis failed')
        }
      },
      stopRecording: (_, { reason, diskFreeBytes }) => {
        if (!deps.stopRecording) return
        void Promise.resolve()
          .then(() => deps.stopRecording!(reason))
          .then((stopped) => {
            if (stopped === false) return
            log.warn({ reason }, 'governor stopped the recording: disk nearly full')
            raise({
              source: 'governor',
              severity: 'critical',
              code: 'governor.recording_stopped',
              message: `recording stopped to protect the disk: ${reason}`,
              details: { reason, diskFreeBytes },
            })
          })
          .catch((err: unknown) => log.error({ err: (err as Error).message }, 'stopping the recording failed'))
      },
    },
  })
}

export function createGovernorActor(deps: GovernorDeps, options: Omit<ActorOptions<ReturnType<typeof provideGovernor>>, 'input'> = {}): GovernorActor {
  return createActor(provideGovernor(deps), { ...options, input: governorInput(deps.config) }) as GovernorActor
}

/** `governor.status`. */
export interface GovernorStatus {
  state: string
  level: Level | null
  since: string | null
  preview: PreviewLevel | null
  samples: Pick<ResourceSample, 'cpuPercent' | 'processCpuPercent' | 'memoryPercent' | 'diskFreeBytes'> & { at: string | null }
  dimensions: Record<string, Level> | null
  thresholds: Thresholds
  /** Audio and motion analysis paused for CPU CRITICAL (null before the first sample). */
  analysisPaused: boolean | null
}

/** Commands reach the live governor through this (the supervisor makes a new actor per restart). */
export class GovernorHandle {
  #current: GovernorActor | null = null
  readonly #thresholds: Thresholds

  constructor(config: Config['governor']) {
    this.#thresholds = governorInput(config).thresholds
  }

  get current(): GovernorActor | null {
    return this.#current
  }

  attach(actor: GovernorActor): void {
    this.#current = actor
  }

  detach(actor: GovernorActor): void {
    if (this.#current === actor) this.#current = null
  }

  status(): GovernorStatus {
    const s = this.#current?.getSnapshot()
    if (!s) {
      return {
        state: 'down',
        level: null,
        since: null,
        preview: null,
        samples: { cpuPercent: null, processCpuPercent: null, memoryPercent: null, diskFreeBytes: null, at: null },
        dimensions: null,
        thresholds: this.#thresholds,
        analysisPaused: null,
      }
    }
    const c = s.context
    const sample = c.sample
    return {
      state: typeof s.value === 'string' ? s.value : Object.keys(s.value)[0]!,
      level: c.samples > 0 ? c.levels.level : null,
      since: c.since === null ? null : new Date(c.since).toISOString(),
      preview: c.preview,
      samples: {
        cpuPercent: sample?.cpuPercent ?? null,
        processCpuPercent: sample?.processCpuPercent ?? null,
        memoryPercent: sample?.memoryPercent ?? null,
        diskFreeBytes: sample?.diskFreeBytes ?? null,
        at: sample ? new Date(sample.at).toISOString() : null,
      },
      dimensions: Object.fromEntries(DIMENSIONS.map((d) => [d, c.levels.dims[d].level])),
      thresholds: c.thresholds,
      analysisPaused: c.analysisPaused,
    }
  }
}

export function governorChild(deps: GovernorDeps, handle: GovernorHandle = new GovernorHandle(deps.config)): ChildFactory {
  // Its levels are its top-level states; `waiting`/`sampling` below them are plumbing.
  return () => machineChild(() => createGovernorActor(deps), { stateName: topStateName, attachTo: handle })
}

/** `governor.status` (DESIGN.md §4). */
export function registerGovernorCommands(router: CommandRouter, handle: GovernorHandle): void {
  router.register({
    actor: 'governor',
    verb: 'status',
    description: 'resource level (NORMAL/WARN/DEGRADE/CRITICAL), latest samples, thresholds',
    args: Type.Object({}, { additionalProperties: false }),
    readOnly: true,
    handler: async () => handle.status(),
  })
}
