import { RECORDINGS_STREAM, RIGS_BUCKET, SERVICE_NAME, subjects } from '../subjects.js'

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
 * - the `vigil_rigs` bucket (DESIGN.md §9.4): put its own key only, and watch the whole
 *   bucket: read its stream's info (to open it), and make, look at and delete the push
 *   consumers a KV watch uses (delivered to its own inboxes: the client's `watcherPrefix`).
 *   `$JS.FC.…`: the watch's flow-control answers.
 * - the recordings bucket (upload.enabled): put chunks and metas (`$O.vigil_recordings.>`),
 *   read a meta and the bucket's stream info (to verify an upload: digest, chunk count), and
 *   purge (a cut put's chunks). Not limited to the rig's own `<node>/` objects: the Object
 *   Store puts the whole name base64-encoded in one meta subject token and the chunks under a
 *   random id, and a purge's filter travels in the request body, so no subject permission can
 *   tell `a/…` from `b/…`. A rig's credentials can so overwrite or purge another rig's
 *   uploads (docs/FLEET.md says so); they still cannot read another rig's commands.
 * Stream management is left out on purpose: a stream update could shrink every rig's
 * history; an operator makes the streams and the bucket.
 */
export function rigPermissions(node: string): SubjectPermissions {
  const discovery = SERVICE_VERBS.flatMap((verb) => [`$SRV.${verb}`, `$SRV.${verb}.${SERVICE_NAME}`, `$SRV.${verb}.${SERVICE_NAME}.*`])
  return {
    publish: [
      subjects.allOf(node),
      subjects.rigKey(node),
      subjects.recordingsAll(),
      `$JS.API.STREAM.INFO.${RECORDINGS_STREAM}`,
      `$JS.API.STREAM.MSG.GET.${RECORDINGS_STREAM}`,
      `$JS.API.STREAM.PURGE.${RECORDINGS_STREAM}`,
      ...rigsBucketReader(),
    ],
    subscribe: [subjects.commandsOf(node), `${subjects.inboxPrefix(node)}.>`, ...discovery],
    allowResponses: true,
  }
}

/** What watching `vigil_rigs` takes, on the JetStream API of the bucket's stream and nothing else. */
function rigsBucketReader(): string[] {
  const stream = `KV_${RIGS_BUCKET}`
  return [
    `$JS.API.STREAM.INFO.${stream}`,
    // The consumer create API: the old form, and the 2.9 form with name and filter.
    `$JS.API.CONSUMER.CREATE.${stream}`,
    `$JS.API.CONSUMER.CREATE.${stream}.>`,
    `$JS.API.CONSUMER.INFO.${stream}.*`,
    `$JS.API.CONSUMER.DELETE.${stream}.*`,
    `$JS.FC.${stream}.>`,
  ]
}
