/**
 * The shape JSON from outside must have before anything else looks at it (command
 * payloads from the bus or HTTP, the config file). A `__proto__` key survives JSON.parse
 * as an own key and becomes a prototype in the first clone or merge (slipping past a
 * schema's unknown-key check); a value nested thousands deep overflows the stack of every
 * recursive walker after it (clone, defaults, schema check). Both are found here by a
 * walk with its own stack, so looking cannot overflow either.
 */

/** Levels of nesting allowed in command args (the args object is level 1). */
export const MAX_ARGS_DEPTH = 32

const FORBIDDEN_KEYS: ReadonlySet<string> = new Set(['__proto__', 'constructor', 'prototype'])

export type ShapeProblem =
  | { reason: 'forbidden key'; key: string; path: string; message: string }
  | { reason: 'too deep'; limit: number; path: string; message: string }

/**
 * The first problem in `value`, or null: a forbidden key anywhere, or a container deeper
 * than `maxDepth` (`value` itself is level 0). Paths are JSON pointers (`/args/a/0`).
 */
export function jsonShapeProblem(value: unknown, maxDepth: number): ShapeProblem | null {
  const pending: Array<{ value: unknown; depth: number; path: string }> = [{ value, depth: 0, path: '' }]
  for (let next = pending.pop(); next !== undefined; next = pending.pop()) {
    const { depth, path } = next
    const v = next.value
    if (typeof v !== 'object' || v === null) continue
    if (depth > maxDepth) return { reason: 'too deep', limit: maxDepth, path, message: `nested deeper than ${maxDepth} levels (at ${shorten(path)})` }
    if (Array.isArray(v)) {
      for (let i = 0; i < v.length; i++) pending.push({ value: v[i], depth: depth + 1, path: `${path}/${i}` })
      continue
    }
    for (const key of Object.keys(v)) {
      const at = `${path}/${key}`
      if (FORBIDDEN_KEYS.has(key)) return { reason: 'forbidden key', key, path: at, message: `key "${key}" is not allowed (at ${shorten(at)})` }
      pending.push({ value: (v as Record<string, unknown>)[key], depth: depth + 1, path: at })
    }
  }
  return null
}

const shorten = (path: string) => (path.length > 120 ? `${path.slice(0, 120)}…` : path)
