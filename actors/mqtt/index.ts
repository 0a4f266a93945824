import { createActor, fromCallback } from 'xstate'
import type { Subscription } from 'rxjs'
import type { AlertInput } from '../../infra/alerts.js'
import type { Feed } from '../../infra/feed.js'
import type { Logger } from '../../infra/logger.js'
import { connectMqtt, type MqttConnection, type MqttEndpoint } from '../../infra/mqtt/client.js'
import { AVAILABLE, NOT_AVAILABLE, mqttTopics } from '../../infra/mqtt/topics.js'
import { mqttMachine, type MqttInput, type MqttSessionCommand, type MqttSessionEvent } from '../../machines/mqtt.machine.js'
import type { ChildFactory } from '../supervisor/child.js'
import { machineChild } from '../supervisor/machineChild.js'
import { stateNameBelow } from '../../machines/stateName.js'
import { discoveryMessages, recordingPayload, type DiscoveryInput } from './discovery.js'

export { discoveryMessages, recordingPayload } from './discovery.js'

export interface MqttDeps {
  endpoint: MqttEndpoint
  discovery: DiscoveryInput
  feed: Feed
  /** The recorder's top-level state now (the retained recording sensor starts from it). */
  recorderState: () => string
  log: Logger
  alert(input: AlertInput): void
  /** MQTT keep-alive: the broker sends the Last Will this long (×1.5) after the rig went silent. */
  keepaliveS?: number
  connectTimeoutMs?: number
  machine?: MqttInput
}

const RECORDER = 'recorder'

/** The mqtt machine with its session provided: one MQTT connection per `linked` state. */
export function createMqttActor(deps: MqttDeps) {
  const { log, endpoint } = deps
  const node = deps.discovery.node
  const availability = mqttTopics.availability(node)

  const session = fromCallback<MqttSessionCommand>(({ sendBack, receive }) => {
    let disposed = false
    let conn: MqttConnection | undefined
    let states: Subscription | undefined
    // Events go out on a later tick, never from inside the parent's own transition.
    const report = (event: MqttSessionEvent) =>
      queueMicrotask(() => {
        if (!disposed) sendBack(event)
      })

    const run = async () => {
      const c = await connectMqtt(endpoint, {
        // One id per rig: a second connection of the same rig replaces a half-dead first one.
        clientId: `vigil-${node}`,
        keepaliveS: deps.keepaliveS ?? 30,
        ...(endpoint.username !== undefined ? { username: endpoint.username } : {}),
        ...(endpoint.password !== undefined ? { password: endpoint.password } : {}),
        // The broker says it for the rig when the rig dies while connected.
        will: { topic: availability, payload: NOT_AVAILABLE, retain: true, qos: 1 },
        timeoutMs: deps.connectTimeoutMs ?? 5000,
      })
      if (disposed) {
        c.closed.catch(() => {})
        await c.disconnect()
        return
      }
      conn = c
      void c.closed.then((why) => report({ type: 'MQTT.LOST', reason: why }))
      // Retained and QoS 1: the broker has each before the rig says it is online.
      for (const m of discoveryMessages(deps.discovery)) await c.publish(m.topic, JSON.stringify(m.config), { qos: 1, retain: true })
      let lastRecording = recordingPayload(deps.recorderState())
      await c.publish(mqttTopics.recording(node), lastRecording, { qos: 1, retain: true })
      await c.publish(availability, AVAILABLE, { qos: 1, retain: true })
      states = deps.feed.subscribe((item) => {
        if (item.type !== 'state' || item.actor !== RECORDER) return
        const payload = recordingPayload(item.state)
        if (payload === lastRecording) return
        lastRecording = payload
        c.publish(mqttTopics.recording(node), payload, { qos: 1, retain: true }).catch((err: unknown) =>
          log.debug({ err: (err as Error).message }, 'mqtt: recording state not published (connection gone)'),
        )
      })
      log.info({ host: endpoint.host, port: endpoint.port, prefix: deps.discovery.prefix }, 'mqtt: online, Home Assistant discovery published')
      report({ type: 'MQTT.ONLINE' })
    }
    void run().catch((err: unknown) => {
      conn?.drop()
      report({ type: 'MQTT.LOST', reason: (err as Error).message })
    })

    receive((event) => {
      if (event.type !== 'GO_OFFLINE') return
      const c = conn
      if (!c) return report({ type: 'MQTT.CLOSED' })
      states?.unsubscribe()
      // A clean stop: say offline ourselves (the Will is dropped on DISCONNECT).
      void c
        .publish(availability, NOT_AVAILABLE, { qos: 1, retain: true })
        .then(() => c.disconnect())
        .catch((err: unknown) => log.warn({ err: (err as Error).message }, 'mqtt: offline not published'))
        .finally(() => report({ type: 'MQTT.CLOSED' }))
    })

    return () => {
      disposed = true
      states?.unsubscribe()
      // Left without a goodbye (a kill, a restart): drop the socket; the broker's Will speaks.
      conn?.drop()
    }
  })

  return mqttMachine.provide({
    actors: { session },
    actions: {
      raiseAlert: (_, params) => deps.alert({ source: 'mqtt', ...params }),
      logLost: ({ context }) =>
        log.warn({ reason: context.lastError, attempt: context.attempt, host: endpoint.host, port: endpoint.port }, 'mqtt: broker not reachable; the rig runs on, retrying'),
    },
  })
}

/** The supervisor's child; operators read `connecting`, `online`, `goingOffline`, `waiting`. */
export function mqttChild(deps: MqttDeps): ChildFactory {
  const machine = createMqttActor(deps)
  return () => machineChild(() => createActor(machine, { input: deps.machine ?? {} }), { stateName: stateNameBelow('linked') })
}
