/**
 * Actor contexts go to browsers and scrapers as they are, so they are passed
 * through here first: secrets by key name and URL credentials are removed, and
 * whatever JSON cannot carry (actor refs, functions, buffers, cycles) becomes a
 * short description instead of a throw or a megabyte of frame data.
 */
import { isSecretKey, redactCredentials } from '../../infra/redaction.js'

export { isSecretKey }

export const REDACTED = '[redacted]'

export interface RedactOptions {
  /** Literal secrets (web.token) removed wherever they appear. */
  secrets?: string[]
  maxDepth?: number
  maxArray?: number
  maxString?: number
}

export function redactString(s: string, secrets: string[] = []): string {
  // The one URL rule (userinfo to the last `@`, signed and secret query values), with this module's marker.
  let out = redactCredentials(s, REDACTED)
  for (const secret of secrets) if (secret.length > 0 && out.includes(secret)) out = out.replaceAll(secret, REDACTED)
  return out
}

export function redact(value: unknown, opts: RedactOptions = {}): unknown {
  const secrets = opts.secrets ?? []
  const maxDepth = opts.maxDepth ?? 8
  const maxArray = opts.maxArray ?? 100
  const maxString = opts.maxString ?? 4000
  const seen = new WeakSet<object>()

  const walk = (v: unknown, depth: number): unknown => {
    switch (typeof v) {
      case 'string': {
        const s = redactString(v, secrets)
        return s.length > maxString ? `${s.slice(0, maxString)}… (${s.length} chars)` : s
      }
      case 'number':
        return Number.isFinite(v) ? v : String(v)
      case 'boolean':
        return v
      case 'bigint':
        return v.toString()
      case 'undefined':
      case 'function':
      case 'symbol':
        return undefined
    }
    if (v === null) return null
    const obj = v as object
    if (obj instanceof Date) return Number.isNaN(obj.getTime()) ? null : obj.toISOString()
    if (obj instanceof Error) return { error: redactString(obj.message, secrets) }
    if (ArrayBuffer.isView(obj) || obj instanceof ArrayBuffer) return `<${(obj as ArrayBuffer).byteLength} bytes>`
    if (isActorRef(obj)) return { actorRef: (obj as { id: string }).id }
    if (seen.has(obj)) return '[circular]'
    if (depth >= maxDepth) return '[too deep]'
    seen.add(obj)
    try {
      if (Array.isArray(obj)) {
        const items = obj.slice(0, maxArray).map((x) => walk(x, depth + 1) ?? null)
        if (obj.length > maxArray) items.push(`… ${obj.length - maxArray} more`)
        return items
      }
      if (obj instanceof Map) return walk(Object.fromEntries([...obj.entries()].map(([k, x]) => [String(k), x])), depth)
      if (obj instanceof Set) return walk([...obj], depth)
      // Entries, not `out[k] =`: a context may hold a client's keys, and "__proto__" must stay a key.
      const out: Array<[string, unknown]> = []
      for (const [k, x] of Object.entries(obj)) {
        if (isSecretKey(k)) {
          out.push([k, REDACTED])
          continue
        }
        const w = walk(x, depth + 1)
        if (w !== undefined) out.push([k, w])
      }
      return Object.fromEntries(out)
    } finally {
      seen.delete(obj)
    }
  }
  return walk(value, 0)
}

function isActorRef(obj: object): boolean {
  const o = obj as { send?: unknown; getSnapshot?: unknown; id?: unknown }
  return typeof o.send === 'function' && typeof o.getSnapshot === 'function' && typeof o.id === 'string'
}
