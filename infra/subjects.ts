/**
 * Every NATS subject vigil uses is built here and nowhere else (DESIGN.md §4), so a
 * renamed subject is one edit and a malformed token can never reach the wire.
 */
export const TRACE_HEADER = 'Vigil-Trace-Id'
export const SERVICE_NAME = 'vigil'
/** The fleet's KV bucket (DESIGN.md §9.4): key `<node>`. */
export const RIGS_BUCKET = 'vigil_rigs'
/** The fleet's Object Store bucket for off-box copies of recordings: `<node>/<session>/<file>`. */
export const RECORDINGS_BUCKET = 'vigil_recordings'
/** The stream JetStream keeps that bucket in (the Object Store's `OBJ_` prefix). */
export const RECORDINGS_STREAM = `OBJ_${RECORDINGS_BUCKET}`

export type Severity = 'info' | 'warning' | 'critical'
export const severities: readonly Severity[] = ['info', 'warning', 'critical']

const TOKEN = /^[a-z0-9_-]+$/
/** Event kinds may be dotted (`recording.started`), each part a plain token. */
const DOTTED = /^[a-z0-9_-]+(\.[a-z0-9_-]+)*$/

function token(kind: string, value: string): string {
  if (!TOKEN.test(value)) throw new Error(`invalid ${kind} subject token: ${JSON.stringify(value)}`)
  return value
}

/** A node name as it may appear in a subject: lower case, `[a-z0-9_-]`, never empty. */
export function toNodeName(raw: string): string {
  const reduced = raw.toLowerCase().replace(/[^a-z0-9_-]+/g, '-').replace(/^-+|-+$/g, '')
  return reduced.length > 0 ? reduced.slice(0, 64) : 'node'
}

export function isNodeName(value: string): boolean {
  return TOKEN.test(value)
}

/** A nuid or a base64url name: letters, digits, `-`, `_`, `=`; never a `.`, `*` or `>`. */
const PLAIN = /^[A-Za-z0-9_=-]+$/
function plain(kind: string, value: string): string {
  if (!PLAIN.test(value)) throw new Error(`invalid ${kind} subject token: ${JSON.stringify(value)}`)
  return value
}

const nodeOrAll = (node: string) => (node === '*' ? '*' : token('node', node))

export const subjects = {
  command: (node: string, actor: string, verb: string) =>
    `vigil.${token('node', node)}.cmd.${token('actor', actor)}.${token('verb', verb)}`,
  /** Every command of one node: the router's catch-all for unknown verbs. */
  commandsOf: (node: string) => `vigil.${token('node', node)}.cmd.>`,
  state: (node: string, actor: string) => `vigil.${token('node', node)}.state.${token('actor', actor)}`,
  statesOf: (node: string) => `vigil.${nodeOrAll(node)}.state.>`,
  alert: (node: string, severity: Severity, source: string) =>
    `vigil.${token('node', node)}.alert.${token('severity', severity)}.${token('source', source)}`,
  /** `node` may be `*` to follow every rig on the cluster. */
  alertsOf: (node: string) => `vigil.${nodeOrAll(node)}.alert.>`,
  event: (node: string, kind: string) => {
    if (!DOTTED.test(kind)) throw new Error(`invalid event kind: ${JSON.stringify(kind)}`)
    return `vigil.${token('node', node)}.event.${kind}`
  },
  eventsOf: (node: string) => `vigil.${nodeOrAll(node)}.event.>`,
  /** A rig's own inboxes (`inboxPrefix`): its identity may read these and no one else's replies. */
  inboxPrefix: (node: string) => `_INBOX_${token('node', node)}`,
  /** Every subject under a node (`vigil.<node>.>`): what that rig may publish. */
  allOf: (node: string) => `vigil.${token('node', node)}.>`,
  /** Its key in the fleet's KV bucket, as JetStream stores it. */
  rigKey: (node: string) => `$KV.${RIGS_BUCKET}.${token('node', node)}`,
  /**
   * The recordings bucket's chunks (`$O.<bucket>.C.<nuid>`, one subject per object version)
   * and metadata (`$O.<bucket>.M.<base64url(name)>`): the Object Store's own layout, so
   * `nats object ls/get` read what vigil writes.
   */
  recordingChunks: (nuid: string) => `$O.${RECORDINGS_BUCKET}.C.${plain('nuid', nuid)}`,
  recordingMeta: (encodedName: string) => `$O.${RECORDINGS_BUCKET}.M.${plain('object name', encodedName)}`,
  recordingsAll: () => `$O.${RECORDINGS_BUCKET}.>`,
} as const

/** Splits `vigil.<node>.cmd.<actor>.<verb>`; null for anything else (too deep, too shallow). */
export function parseCommandSubject(subject: string): { node: string; actor: string; verb: string } | null {
  const parts = subject.split('.')
  if (parts.length !== 5 || parts[0] !== 'vigil' || parts[2] !== 'cmd') return null
  const [, node, , actor, verb] = parts as [string, string, string, string, string]
  return { node, actor, verb }
}
