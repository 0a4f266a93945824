import { subjects } from '../subjects.js'

/**
 * nats-server's MQTT listener maps NATS subjects to MQTT topics token for token
 * (`.` ↔ `/`), so `vigil.<node>.event.motion` is `vigil/<node>/event/motion` to an MQTT
 * client with no bridge. The topics vigil itself publishes over MQTT (retained) are
 * named here, beside the subjects they live among.
 */
export const topicOf = (subject: string) => subject.replaceAll('.', '/')

export const mqttTopics = {
  alertsOf: (node: string) => `${topicOf(subjects.alertsOf(node)).replace(/\/>$/, '/#')}`,
  event: (node: string, kind: string) => topicOf(subjects.event(node, kind)),
  state: (node: string, actor: string) => topicOf(subjects.state(node, actor)),
  /** Everything of one rig, as an MQTT filter. */
  allOf: (node: string) => topicOf(subjects.allOf(node)).replace(/\/>$/, '/#'),
  /** Retained `online` / `offline` (the Last Will says `offline` when the rig dies). */
  availability: (node: string) => `${topicOf(subjects.allOf(node)).replace(/\/>$/, '')}/availability`,
  /** Retained `ON` / `OFF`: whether the rig is recording now (HA reads it after its own restart). */
  recording: (node: string) => `${topicOf(subjects.allOf(node)).replace(/\/>$/, '')}/recording`,
  /** Home Assistant's discovery topic: `<prefix>/<component>/<node_id>/<object_id>/config`. */
  discovery: (prefix: string, component: string, node: string, object: string) => `${prefix}/${component}/${haNodeId(node)}/${object}/config`,
} as const

/** The rig's id in Home Assistant (`vigil_<node>`): unique ids and discovery topics start with it. */
export const haNodeId = (node: string) => `vigil_${node}`

export const AVAILABLE = 'online'
export const NOT_AVAILABLE = 'offline'
