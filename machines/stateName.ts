/**
 * A machine that wraps its working states in one parent (the parent owns the
 * process, so leaving it in any way kills the process) reads to an operator as the
 * state one level below that parent: camera `{ capturing: { streaming: … } }` →
 * `streaming`. Anything else reads as its top-level name.
 */
export function stateNameBelow(wrapper: string): (value: unknown) => string {
  return (value) => {
    if (typeof value === 'string') return value
    if (value && typeof value === 'object' && wrapper in value) {
      const inner = (value as Record<string, unknown>)[wrapper]
      return typeof inner === 'string' ? inner : (Object.keys(inner as object)[0] ?? wrapper)
    }
    return String(value)
  }
}

/** A machine whose top-level states are what an operator reads (the governor's levels). */
export function topStateName(value: unknown): string {
  if (typeof value === 'string') return value
  if (value && typeof value === 'object') return Object.keys(value)[0] ?? 'unknown'
  return String(value)
}
