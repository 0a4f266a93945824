import { fromPromise, setup, type DoneActorEvent, type ErrorActorEvent } from 'xstate'
import {
  DIMENSIONS,
  LEVELS,
  describeCauses,
  formatValue,
  initialLevelState,
  previewFor,
  stepLevels,
  type Hysteresis,
  type Level,
  type LevelState,
  type PreviewLevel,
  type ResourceSample,
  type Thresholds,
} from './governor.levels.js'

export * from './governor.levels.js'

/**
 * governor: samples CPU, memory and disk every `sampleMs` and keeps the rig inside its
 * means. The level is the machine's top-level state, so the supervisor publishes it
 * on `vigil.<node>.state.governor` as it changes:
 *
 * starting ─first sample→ normal | warn | degrade | critical (all ready)
 *   each level: waiting ─sampleMs→ sampling ─sample→ same level, or another one
 *   STOP (any state) → stopped (final, normal)
 *
 * Each dimension has its own level; the worst one wins. A dimension goes up at once
 * and comes down only after its value is back past the threshold by a margin for
 * `releaseSamples` samples in a row (hysteresis: a value hovering at a threshold does
 * not flap the preview on and off). On a change: an alert `governor.level` and the
 * preview level (DEGRADE low, CRITICAL off). Whenever the disk dimension is CRITICAL
 * the recording is stopped (once per episode). While the CPU dimension is CRITICAL (with
 * its hysteresis) audio and motion analysis are paused, never the recording, and resumed
 * when it comes down (DESIGN.md §9.3, "the recording comes first").
 */

export interface GovernorInput {
  sampleMs: number
  thresholds: Thresholds
  hysteresis: Hysteresis
}

export interface GovernorContext extends GovernorInput {
  levels: LevelState
  /** The level before the latest sample. */
  previousLevel: Level
  sample: ResourceSample | null
  /** null until the first sample says it: a governor restarted after a crash restates the level it finds. */
  preview: PreviewLevel | null
  samples: number
  samplingFailing: boolean
  since: number | null
  /** Audio and motion analysis paused for CPU CRITICAL; null until the first sample says (an instance that starts after a crash restates it). */
  analysisPaused: boolean | null
}

export interface GovernorAlert {
  code: 'governor.level' | 'governor.sample_failed'
  severity: 'info' | 'warning' | 'critical'
  message: string
  details: Record<string, unknown>
}

export interface GovernorOutput {
  normal: boolean
  reason: string
}

const severityOf = (l: Level): GovernorAlert['severity'] => (l === 'CRITICAL' ? 'critical' : l === 'NORMAL' ? 'info' : 'warning')

function notProvided(name: string): never {
  throw new Error(`governor machine: actor '${name}' was not provided (use createGovernorActor)`)
}

const stateOf = (l: Level) => `#governor.${l.toLowerCase()}`

const governorSetup = setup({
  types: {
    context: {} as GovernorContext,
    // The sampler's done/error events are listed so the shared sample actions are typed for them.
    events: {} as { type: 'STOP' } | DoneActorEvent<ResourceSample> | ErrorActorEvent,
    input: {} as GovernorInput,
    output: {} as GovernorOutput,
  },
  actors: {
    sampleResources: fromPromise<ResourceSample>(async () => notProvided('sampleResources')),
  },
  actions: {
    // Effects the actor layer provides.
    raiseAlert: (_, _params: GovernorAlert) => {},
    setPreview: (_, _params: { level: PreviewLevel; reason: string }) => {},
    stopRecording: (_, _params: { reason: string; diskFreeBytes: number | null }) => {},
    pauseAnalysis: (_, _params: { paused: boolean; reason: string }) => {},
  },
  guards: {
    nextLevelIs: ({ context, event }, params: { level: Level }) =>
      stepLevels(context.levels, (event as unknown as { output: ResourceSample }).output, context.thresholds, context.hysteresis).level === params.level,
  },
  delays: {
    sampleEvery: ({ context }) => context.sampleMs,
  },
})

export const governorMachine = governorSetup.createMachine({
  id: 'governor',
  context: ({ input }) => ({
    ...input,
    levels: initialLevelState(),
    previousLevel: 'NORMAL',
    sample: null,
    preview: null,
    samples: 0,
    samplingFailing: false,
    since: null,
    analysisPaused: null,
  }),
  initial: 'starting',
  output: ({ event }) => (event as unknown as { output: GovernorOutput }).output,
  on: { STOP: '.stopped' },
  states: {
    starting: {
      invoke: {
        src: 'sampleResources',
        onDone: route(null),
        // No reading yet is no reason to refuse service: NORMAL until a sample says otherwise.
        onError: { target: 'normal', actions: noteSampleError() },
      },
    },
    normal: levelState('NORMAL'),
    warn: levelState('WARN'),
    degrade: levelState('DEGRADE'),
    critical: levelState('CRITICAL'),
    stopped: {
      type: 'final',
      output: { normal: true, reason: 'stopped' },
    },
  },
})

/** Where a sample leads from level `self` (null: the first sample): another level, or the same one. */
function route(self: Level | null) {
  return [
    ...LEVELS.filter((l) => l !== (self ?? 'NORMAL')).map((level) => ({
      guard: { type: 'nextLevelIs' as const, params: { level } },
      target: stateOf(level),
      actions: [applySample(), announce(), statePreview()],
    })),
    { target: self === null ? stateOf('NORMAL') : 'waiting', actions: [applySample(), statePreview()] },
  ]
}

function levelState(level: Level) {
  return governorSetup.createStateConfig({
    tags: ['ready'],
    initial: 'waiting',
    states: {
      waiting: { after: { sampleEvery: 'sampling' } },
      sampling: {
        invoke: {
          src: 'sampleResources',
          onDone: route(level),
          onError: { target: 'waiting', actions: noteSampleError() },
        },
      },
    },
  })
}

type SampleDone = { output: ResourceSample }

function applySample() {
  return governorSetup.enqueueActions(({ context, event, enqueue }) => {
    const sample = (event as unknown as SampleDone).output
    const levels = stepLevels(context.levels, sample, context.thresholds, context.hysteresis)
    // The forced stop follows the sample itself ("disk < 1 GiB forces the recording to stop"),
    // not the level, which stays CRITICAL through its hysteresis after space is back.
    const diskCritical = sample.diskFreeBytes !== null && sample.diskFreeBytes !== undefined && sample.diskFreeBytes < context.thresholds.diskBytes.critical
    enqueue.assign({
      levels,
      previousLevel: context.levels.level,
      sample,
      samples: context.samples + 1,
      since: levels.level === context.levels.level && context.since !== null ? context.since : sample.at,
      samplingFailing: sample.errors.length > 0,
    })
    // Asked on every critical sample, not once per episode: a recording started while the
    // disk is already critical (governor thresholds above the recorder's own) is stopped too.
    // The recorder answers NOT_RECORDING when idle, which costs nothing.
    if (diskCritical) {
      enqueue({
        type: 'stopRecording',
        params: {
          reason: `only ${formatValue('disk', sample.diskFreeBytes ?? 0)} on the data disk (critical below ${formatValue('disk', context.thresholds.diskBytes.critical)})`,
          diskFreeBytes: sample.diskFreeBytes,
        },
      })
    }
    // The CPU dimension's own level (hysteresis included), not the worst one: a full disk or
    // memory pressure is not helped by pausing analysis.
    const cpuCritical = levels.dims.cpu.level === 'CRITICAL'
    if (cpuCritical !== context.analysisPaused) {
      enqueue.assign({ analysisPaused: cpuCritical })
      enqueue({
        type: 'pauseAnalysis',
        params: { paused: cpuCritical, reason: cpuCritical ? `CPU ${formatValue('cpu', sample.cpuPercent ?? 0)} (critical)` : `CPU back below critical` },
      })
    }
    if (sample.errors.length > 0 && !context.samplingFailing) {
      enqueue({
        type: 'raiseAlert',
        params: { code: 'governor.sample_failed', severity: 'warning', message: `resources could not be read: ${sample.errors.join('; ')}`, details: { errors: sample.errors } },
      })
    }
  })
}

function noteSampleError() {
  return governorSetup.enqueueActions(({ context, event, enqueue }) => {
    if (context.samplingFailing) return
    const error = (event as unknown as { error: unknown }).error
    const message = error instanceof Error ? error.message : String(error)
    enqueue.assign({ samplingFailing: true })
    enqueue({ type: 'raiseAlert', params: { code: 'governor.sample_failed', severity: 'warning', message: `resources could not be read: ${message}`, details: { errors: [message] } } })
  })
}

/** After applySample: the level changed. The alert (the preview follows in statePreview). */
function announce() {
  return governorSetup.enqueueActions(({ context, enqueue }) => {
    const { level } = context.levels
    const causes = describeCauses(context.levels, context.sample)
    enqueue({
      type: 'raiseAlert',
      params: {
        code: 'governor.level',
        severity: severityOf(level),
        message: `resource level ${context.previousLevel} → ${level}: ${causes}`,
        details: {
          level,
          previous: context.previousLevel,
          dimensions: Object.fromEntries(DIMENSIONS.map((d) => [d, context.levels.dims[d].level])),
          sample: context.sample,
        },
      },
    })
  })
}

/**
 * After applySample (and announce): the preview level of the new level, when it differs
 * from what this instance last said. The first sample always says it, NORMAL too: the
 * preview outlives the governor (infra/preview.ts), and an instance restarted after a crash
 * at CRITICAL that finds the rig NORMAL must give viewers their video back.
 */
function statePreview() {
  return governorSetup.enqueueActions(({ context, enqueue }) => {
    const { level } = context.levels
    const preview = previewFor(level)
    if (preview === context.preview) return
    enqueue.assign({ preview })
    const reason = level === 'NORMAL' ? 'resource level NORMAL' : `resource level ${level} (${describeCauses(context.levels, context.sample)})`
    enqueue({ type: 'setPreview', params: { level: preview, reason } })
  })
}
