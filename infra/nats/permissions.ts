import { SERVICE_NAME, subjects } from '../subjects.js'

/** What one NATS identity may do, in nats-server's terms (a user's `permissions` block). */
export interface SubjectPermissions {
  publish: string[]
  subscribe: string[]
  /** May reply to requests it received (and only once each): commands and service pings. */
  allowResponses: boolean
}

const SERVICE_VERBS = ['PING', 'INFO', 'STATS'] as const

/**
 * A rig (DESIGN.md §9.1): its own subjects and nothing of another rig's.
 * - publish `vigil.<node>.>` (state, alerts, events; JetStream stores them from there, so
 *   no `$JS.API` right is needed: the outbox's `js.publish` is a request on the subject
 *   itself, its ack comes back to the rig's own inbox) and its own `vigil_rigs` KV key; replies only through
 *   `allow_responses`, so it cannot write into another rig's or an operator's inbox unasked.
 * - subscribe to its own commands, its own inboxes (`_INBOX_<node>.>`: the client's
 *   `inboxPrefix`), and the services API's discovery subjects (`$SRV.<VERB>`,
 *   `$SRV.<VERB>.vigil`, `$SRV.<VERB>.vigil.<id>`: the id is random per start, hence the `*`).
 * Stream management is left out on purpose: a stream update could shrink every rig's
 * history; an operator makes the streams.
 */
export function rigPermissions(node: string): SubjectPermissions {
  const discovery = SERVICE_VERBS.flatMap((verb) => [`$SRV.${verb}`, `$SRV.${verb}.${SERVICE_NAME}`, `$SRV.${verb}.${SERVICE_NAME}.*`])
  return {
    publish: [subjects.allOf(node), subjects.rigKey(node)],
    subscribe: [subjects.commandsOf(node), `${subjects.inboxPrefix(node)}.>`, ...discovery],
    allowResponses: true,
  }
}
