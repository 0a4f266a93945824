import { isNodeName } from '../../infra/subjects.js'
import { isSessionId } from '../recorder/sessionId.js'

/**
 * Object names in the recordings bucket: `<node>/<session>/<file>`. Every part is checked
 * here, on the way in and on the way out: a name read back from the bucket becomes a path
 * under `--to DIR`, so nothing but a node token, a session id and a plain file name passes
 * (no `..`, no `/` inside a part, no leading dot).
 */
const FILE_NAME = /^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$/

export interface SessionRef {
  node: string
  session: string
}

export function isRecordingFileName(name: string): boolean {
  return FILE_NAME.test(name) && !name.includes('..')
}

export function objectName(ref: SessionRef, file: string): string {
  if (!isNodeName(ref.node) || !isSessionId(ref.session) || !isRecordingFileName(file)) {
    throw new Error(`not a recording object name: ${JSON.stringify(`${ref.node}/${ref.session}/${file}`)}`)
  }
  return `${ref.node}/${ref.session}/${file}`
}

/** `<node>/<session>` as an operator types it; a reason when it is not one. */
export function parseSessionRef(text: string): SessionRef | { error: string } {
  const parts = text.split('/')
  if (parts.length !== 2) return { error: `expected <node>/<session> (e.g. barn-1/20260101T120000Z-abcdef), got ${JSON.stringify(text)}` }
  const [node, session] = parts as [string, string]
  if (!isNodeName(node)) return { error: `${JSON.stringify(node)} is not a node name ([a-z0-9_-])` }
  if (!isSessionId(session)) return { error: `${JSON.stringify(session)} is not a session id (YYYYMMDDTHHMMSSZ-xxxxxx)` }
  return { node, session }
}

/** The Object Store's meta subject token for a name: base64url with padding, as @nats-io/obj writes it. */
export function encodeObjectName(name: string): string {
  return Buffer.from(name, 'utf8').toString('base64').replace(/\+/g, '-').replace(/\//g, '_')
}
