import type { DiskProbe } from '../../infra/disk.js'
import type { SupervisorView } from './state.js'

/**
 * Readiness (DESIGN.md §5): ready = the supervisor is running, no child is failed
 * or waiting to be restarted, NATS is connected and the disk has more free space
 * than the recorder's stop threshold. Media reachability is reported but does not
 * gate readiness: the rig still records and alerts while the preview is down.
 * The disk and media checks cost I/O and are cached for `ttlMs`, so a load
 * balancer polling every 100 ms does not turn into 10 statfs calls a second.
 */

export interface ReadinessDeps {
  supervisor: () => SupervisorView
  natsConnected: () => boolean
  mediaReachable?: () => Promise<boolean>
  disk: DiskProbe
  diskPath: string
  stopBelowBytes: number
  /** Monotonic ms. */
  monotonic: () => number
  ttlMs?: number
}

export interface Readiness {
  ready: boolean
  /** Why not, in the operator's words; empty when ready. */
  reasons: string[]
  supervisor: string
  children: { id: string; state: string; status: string; restarts: number }[]
  nats: { connected: boolean }
  media: { reachable: boolean | null; checkedAt: string | null }
  disk: { freeBytes: number | null; stopBelowBytes: number; ok: boolean; error?: string; checkedAt: string | null }
}

const NOT_READY_STATUSES = new Set(['failed', 'restarting'])

/** A value computed at most once per `ttlMs`; concurrent callers share the one in flight. */
export function cached<T>(compute: () => Promise<T>, ttlMs: number, monotonic: () => number): () => Promise<{ value: T; at: number }> {
  let last: { value: T; at: number } | undefined
  let inflight: Promise<{ value: T; at: number }> | undefined
  return () => {
    if (last && monotonic() - last.at < ttlMs) return Promise.resolve(last)
    inflight ??= compute()
      .then((value) => {
        last = { value, at: monotonic() }
        return last
      })
      .finally(() => {
        inflight = undefined
      })
    return inflight
  }
}

export function createReadiness(deps: ReadinessDeps): () => Promise<Readiness> {
  const ttl = deps.ttlMs ?? 10000
  const wallAt = (mono: number) => new Date(Date.now() - (deps.monotonic() - mono)).toISOString()
  const disk = cached(
    async () => {
      try {
        return { freeBytes: (await deps.disk.free(deps.diskPath)).freeBytes }
      } catch (err) {
        return { freeBytes: null, error: (err as NodeJS.ErrnoException).code ?? (err as Error).message }
      }
    },
    ttl,
    deps.monotonic,
  )
  const probeMedia = deps.mediaReachable
  const media = probeMedia ? cached(() => probeMedia().catch(() => false), ttl, deps.monotonic) : undefined

  return async () => {
    const sup = deps.supervisor()
    const phase = sup.state()
    const children = sup.children().map((c) => ({ id: c.id, state: c.state, status: c.status, restarts: c.restarts }))
    const connected = deps.natsConnected()
    const [d, m] = await Promise.all([disk(), media?.()])
    const reasons: string[] = []
    if (phase !== 'running') reasons.push(`supervisor is ${phase}`)
    for (const c of children) if (NOT_READY_STATUSES.has(c.status)) reasons.push(`${c.id} is ${c.status}`)
    if (!connected) reasons.push('NATS is not connected')
    const diskOk = d.value.freeBytes !== null && d.value.freeBytes > deps.stopBelowBytes
    if (!diskOk) {
      reasons.push(
        d.value.freeBytes === null
          ? `disk free space unknown (${d.value.error ?? 'probe failed'})`
          : `disk free ${d.value.freeBytes} bytes is below the recorder's stop threshold ${deps.stopBelowBytes}`,
      )
    }
    const diskView: Readiness['disk'] = { freeBytes: d.value.freeBytes, stopBelowBytes: deps.stopBelowBytes, ok: diskOk, checkedAt: wallAt(d.at) }
    if (d.value.error !== undefined) diskView.error = d.value.error
    return {
      ready: reasons.length === 0,
      reasons,
      supervisor: phase,
      children,
      nats: { connected },
      media: m ? { reachable: m.value, checkedAt: wallAt(m.at) } : { reachable: null, checkedAt: null },
      disk: diskView,
    }
  }
}
