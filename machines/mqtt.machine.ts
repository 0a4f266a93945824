import { assign, fromCallback, sendTo, setup } from 'xstate'

/**
 * mqtt: the rig's MQTT publisher (Home Assistant discovery, availability, the recording
 * sensor). MQTT is a convenience for home automation, never a reason to hold the rig:
 * every state is tagged `ready`, so the supervisor goes on at once, and a broker that is
 * down is a state (`waiting`), not a failure.
 *
 * linked (invokes `session`: connect, announce, keep the retained states current)
 *   connecting → MQTT.ONLINE → online
 *   online —STOP→ goingOffline (retained `offline`, DISCONNECT) → MQTT.CLOSED → stopped
 * MQTT.LOST (refused, unreachable, dropped) → waiting —retryDelay→ linked
 * STOP anywhere else → stopped (final, normal).
 */

export type MqttSessionEvent = { type: 'MQTT.ONLINE' } | { type: 'MQTT.LOST'; reason: string } | { type: 'MQTT.CLOSED' }
export type MqttEvent = MqttSessionEvent | { type: 'STOP' }
/** What the machine tells the session it invoked. */
export type MqttSessionCommand = { type: 'GO_OFFLINE' }

export interface MqttInput {
  retryInitialMs?: number
  retryMaxMs?: number
  /** How long the goodbye (retained offline, DISCONNECT) may take at stop. */
  goodbyeMs?: number
}

export interface MqttContext {
  retryInitialMs: number
  retryMaxMs: number
  goodbyeMs: number
  /** Failed tries since the last time the broker took the rig. */
  attempt: number
  lastError: string | null
  /** Whether the broker ever took this instance (the first failure after that is alerted). */
  wasOnline: boolean
}

export interface MqttAlert {
  code: 'mqtt.unreachable' | 'mqtt.reachable'
  severity: 'info' | 'warning'
  message: string
  details: Record<string, unknown>
}

export const MQTT_DEFAULTS = { retryInitialMs: 1000, retryMaxMs: 60000, goodbyeMs: 2000 } as const

/** Doubling from the first retry, capped: a broker that is away for hours costs a try a minute. */
export function mqttRetryDelay(ctx: Pick<MqttContext, 'attempt' | 'retryInitialMs' | 'retryMaxMs'>): number {
  return Math.min(ctx.retryMaxMs, ctx.retryInitialMs * 2 ** Math.max(0, ctx.attempt - 1))
}

function notProvided(name: string): never {
  throw new Error(`mqtt machine: actor '${name}' was not provided (use createMqttActor)`)
}

export const mqttMachine = setup({
  types: {
    context: {} as MqttContext,
    events: {} as MqttEvent,
    input: {} as MqttInput,
    output: {} as { normal: boolean; reason: string },
  },
  actors: {
    session: fromCallback<MqttSessionCommand>(() => notProvided('session')),
  },
  actions: {
    raiseAlert: (_, _params: MqttAlert) => {},
    /** Says why, the failed tries so far (context.attempt) and when the next one is. */
    logLost: () => {},
    countFailure: assign({
      attempt: ({ context }) => context.attempt + 1,
      lastError: ({ event }) => (event.type === 'MQTT.LOST' ? event.reason : null),
    }),
    markOnline: assign({ attempt: 0, lastError: null, wasOnline: true }),
  },
  delays: {
    retryDelay: ({ context }) => mqttRetryDelay(context),
    goodbye: ({ context }) => context.goodbyeMs,
  },
}).createMachine({
  id: 'mqtt',
  context: ({ input }) => ({
    retryInitialMs: input?.retryInitialMs ?? MQTT_DEFAULTS.retryInitialMs,
    retryMaxMs: input?.retryMaxMs ?? MQTT_DEFAULTS.retryMaxMs,
    goodbyeMs: input?.goodbyeMs ?? MQTT_DEFAULTS.goodbyeMs,
    attempt: 0,
    lastError: null,
    wasOnline: false,
  }),
  initial: 'linked',
  output: ({ event }) => (event as unknown as { output: { normal: boolean; reason: string } }).output,
  states: {
    linked: {
      tags: ['ready'],
      invoke: { id: 'session', src: 'session' },
      initial: 'connecting',
      on: {
        'MQTT.LOST': [
          {
            // The broker dropped a rig it had taken: news once, not on every retry.
            guard: ({ context }) => context.wasOnline && context.attempt === 0,
            target: 'waiting',
            actions: [
              'countFailure',
              {
                type: 'raiseAlert',
                params: ({ event }) => ({
                  code: 'mqtt.unreachable',
                  severity: 'warning',
                  message: `MQTT broker lost (${event.reason}): Home Assistant shows the rig unavailable; retrying`,
                  details: { reason: event.reason },
                }),
              },
              'logLost',
            ],
          },
          { target: 'waiting', actions: ['countFailure', 'logLost'] },
        ],
      },
      states: {
        connecting: {
          on: {
            STOP: '#mqtt.stopped',
            'MQTT.ONLINE': [
              {
                // Only a recovery is news; the first connect of a healthy rig is not.
                guard: ({ context }) => context.wasOnline && context.attempt > 0,
                target: 'online',
                actions: [
                  {
                    type: 'raiseAlert',
                    params: ({ context }) => ({ code: 'mqtt.reachable', severity: 'info', message: 'MQTT broker reachable again: Home Assistant sees the rig', details: { after: context.lastError } }),
                  },
                  'markOnline',
                ],
              },
              { target: 'online', actions: 'markOnline' },
            ],
          },
        },
        online: {
          on: { STOP: 'goingOffline' },
        },
        goingOffline: {
          entry: sendTo('session', { type: 'GO_OFFLINE' }),
          on: { 'MQTT.CLOSED': '#mqtt.stopped', 'MQTT.LOST': '#mqtt.stopped' },
          after: { goodbye: '#mqtt.stopped' },
        },
      },
    },
    waiting: {
      tags: ['ready'],
      after: { retryDelay: 'linked' },
      on: { STOP: 'stopped' },
    },
    stopped: {
      type: 'final',
      output: { normal: true, reason: 'stopped' },
    },
  },
})
