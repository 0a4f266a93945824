import { AVAILABLE, NOT_AVAILABLE, haNodeId, mqttTopics } from '../../infra/mqtt/topics.js'

/** One retained message of Home Assistant MQTT discovery. */
export interface DiscoveryMessage {
  topic: string
  /** The config as HA reads it (JSON). */
  config: Record<string, unknown>
}

export interface DiscoveryInput {
  node: string
  /** HA's `discovery_prefix` (default `homeassistant`). */
  prefix: string
  swVersion: string
  /** How long motion / sound stay ON after their event (HA's `off_delay`, seconds): they are momentary. */
  offDelayS: { motion: number; sound: number }
}

/**
 * The configs that make a rig appear in Home Assistant with no YAML: binary sensors for
 * motion, sound, recording and the rig being online, all on one device.
 * - motion and sound read the rig's own event topics (`vigil/<node>/event/motion`, the
 *   NATS subject through nats-server's MQTT listener): any message there is ON, and HA's
 *   `off_delay` turns it OFF again; the event's JSON (level, score, snapshot) becomes the
 *   entity's attributes.
 * - recording reads the retained `vigil/<node>/recording` (`ON`/`OFF`) the rig keeps.
 * - every entity is unavailable while `vigil/<node>/availability` says `offline`
 *   (a clean stop, or the Last Will when the rig dies); "online" itself is a
 *   connectivity sensor on that topic.
 */
export function discoveryMessages(input: DiscoveryInput): DiscoveryMessage[] {
  const { node, prefix } = input
  const id = haNodeId(node)
  const availability = mqttTopics.availability(node)
  const device = {
    identifiers: [id],
    name: `vigil ${node}`,
    model: 'vigil camera rig',
    manufacturer: 'vigil',
    sw_version: input.swVersion,
  }
  const origin = { name: 'vigil', sw_version: input.swVersion }
  const common = {
    availability_topic: availability,
    payload_available: AVAILABLE,
    payload_not_available: NOT_AVAILABLE,
    device,
    origin,
  }
  const momentary = (object: 'motion' | 'sound', name: string, offDelayS: number) => ({
    topic: mqttTopics.discovery(prefix, 'binary_sensor', node, object),
    config: {
      name,
      unique_id: `${id}_${object}`,
      object_id: `${id}_${object}`,
      device_class: object,
      state_topic: mqttTopics.event(node, object),
      // Every event means "it is happening now"; HA's off_delay ends it.
      value_template: "{{ 'ON' }}",
      payload_on: 'ON',
      off_delay: offDelayS,
      json_attributes_topic: mqttTopics.event(node, object),
      ...common,
    },
  })
  return [
    momentary('motion', 'Motion', input.offDelayS.motion),
    momentary('sound', 'Sound', input.offDelayS.sound),
    {
      topic: mqttTopics.discovery(prefix, 'binary_sensor', node, 'recording'),
      config: {
        name: 'Recording',
        unique_id: `${id}_recording`,
        object_id: `${id}_recording`,
        device_class: 'running',
        icon: 'mdi:record-rec',
        state_topic: mqttTopics.recording(node),
        payload_on: 'ON',
        payload_off: 'OFF',
        ...common,
      },
    },
    {
      // The rig itself: its availability as a sensor, so an automation can say "the camera is down".
      topic: mqttTopics.discovery(prefix, 'binary_sensor', node, 'online'),
      config: {
        name: 'Online',
        unique_id: `${id}_online`,
        object_id: `${id}_online`,
        device_class: 'connectivity',
        entity_category: 'diagnostic',
        state_topic: availability,
        payload_on: AVAILABLE,
        payload_off: NOT_AVAILABLE,
        device,
        origin,
      },
    },
  ]
}

/** `ON` / `OFF` for the recording sensor, from the recorder's top-level state. */
export const recordingPayload = (recorderState: string) => (recorderState === 'recording' ? 'ON' : 'OFF')
