import { Type } from '@sinclair/typebox'
import { createActor, fromPromise, type Actor } from 'xstate'
import { jetstream, jetstreamManager } from '@nats-io/jetstream'
import type { NatsConnection } from '@nats-io/transport-node'
import type { CommandRouter } from '../../infra/nats/commands.js'
import type { Feed } from '../../infra/feed.js'
import type { Logger } from '../../infra/logger.js'
import { VigilError } from '../../infra/errors.js'
import { uploadMachine } from '../../machines/upload.machine.js'
import type { ChildFactory } from '../supervisor/child.js'
import { machineChild } from '../supervisor/machineChild.js'
import { listOwnedSessions } from '../recorder/session.js'
import { uploadSession } from './uploadSession.js'
import { dropState, listStates, loadState } from './uploadState.js'
import { isSessionId } from '../recorder/sessionId.js'

/** The recorder's `recording.stopped` carries the session summary: its `id` is the session's. */
function sessionOf(payload: Record<string, unknown>): string | null {
  return payload.deleted !== true && isSessionId(payload.id) ? payload.id : null
}

export interface UploadDeps {
  node: string
  recordingsDir: string
  /** `<data>/upload`: one state file per session (journal of puts begun, files verified). */
  stateDir: string
  deleteLocal: boolean
  /** The rig's connection, once made (undefined before: an upload waits in backoff). */
  connection(): NatsConnection | undefined
  /** `recording.stopped` on the feed queues that session. */
  feed: Feed
  activeSession(): string | null
  log: Logger
  retryBaseMs?: number
  retryMaxMs?: number
  timeoutMs?: number
}

export type UploadActor = Actor<typeof uploadMachine>

export function createUploadActor(deps: UploadDeps): UploadActor {
  const { log } = deps
  const scanSessions = fromPromise<string[]>(async () => {
    const out: string[] = []
    const onDisk = new Set<string>()
    for (const { session } of await listOwnedSessions(deps.recordingsDir)) {
      onDisk.add(session.id)
      if (session.state === 'recording' || session.id === deps.activeSession()) continue
      if (!(await loadState(deps.stateDir, session.id)).done) out.push(session.id)
    }
    // A session gone from disk with a put still journaled: its chunks are purged by the upload pass.
    for (const id of await listStates(deps.stateDir)) {
      if (onDisk.has(id)) continue
      const state = await loadState(deps.stateDir, id)
      if (Object.keys(state.pending).length > 0) out.push(id)
      // Done and gone (deleteLocal, retention): nothing left to do for it.
      else if (state.done) await dropState(deps.stateDir, id)
    }
    if (out.length > 0) log.info({ sessions: out.length }, 'upload: finalized sessions not yet in the bucket')
    return out
  })
  const upload = fromPromise<{ uploaded: boolean }, { session: string }>(async ({ input, signal }) => {
    const nc = deps.connection()
    if (!nc || nc.isClosed()) throw new VigilError('UNAVAILABLE', 'no NATS connection yet')
    const timeout = deps.timeoutMs ?? 10_000
    const r = await uploadSession(
      {
        js: jetstream(nc, { timeout }),
        jsm: await jetstreamManager(nc, { timeout, checkAPI: false }),
        node: deps.node,
        recordingsDir: deps.recordingsDir,
        stateDir: deps.stateDir,
        deleteLocal: deps.deleteLocal,
        activeSession: deps.activeSession,
        log,
        timeoutMs: timeout,
      },
      input.session,
      signal,
    )
    return { uploaded: r.outcome === 'uploaded' }
  })
  const machine = uploadMachine.provide({
    actors: { scanSessions, uploadSession: upload },
    actions: { note: (_, n) => log[n.level](n.details ?? {}, n.message) },
  })
  const actor = createActor(machine, {
    input: {
      ...(deps.retryBaseMs === undefined ? {} : { retryBaseMs: deps.retryBaseMs }),
      ...(deps.retryMaxMs === undefined ? {} : { retryMaxMs: deps.retryMaxMs }),
    },
  })
  // Owned by this instance: ends with it, so a restarted uploader does not queue twice.
  const sub = deps.feed.subscribe((item) => {
    if (item.type !== 'event' || item.kind !== 'recording.stopped') return
    const session = sessionOf(item.payload)
    if (session && actor.getSnapshot().status === 'active') actor.send({ type: 'ENQUEUE', session })
  })
  actor.subscribe({ complete: () => sub.unsubscribe(), error: () => sub.unsubscribe() })
  return actor
}

/** `upload.status` (DESIGN.md §9.4): what is waiting, what went up, the last failure. */
export interface UploadStatus {
  state: string
  queued: number
  uploaded: number
  current: string | null
  attempt: number
  lastError: string | null
}

/** Commands and status hold this, not an instance: it follows restarts of the uploader. */
export class UploadHandle {
  #current: UploadActor | null = null

  attach(actor: UploadActor): void {
    this.#current = actor
  }

  detach(actor: UploadActor): void {
    if (this.#current === actor) this.#current = null
  }

  status(): UploadStatus {
    const snap = this.#current?.getSnapshot()
    if (!snap) return { state: 'down', queued: 0, uploaded: 0, current: null, attempt: 0, lastError: null }
    const state = typeof snap.value === 'string' ? snap.value : Object.keys(snap.value)[0]!
    const c = snap.context
    const current = state === 'uploading' || state === 'backoff' ? (c.queue[0] ?? null) : null
    return { state, queued: c.queue.length, uploaded: c.uploaded, current, attempt: c.attempt, lastError: c.lastError }
  }
}

export function uploadChild(deps: UploadDeps, handle: UploadHandle = new UploadHandle()): ChildFactory {
  return () => machineChild(() => createUploadActor(deps), { attachTo: handle })
}

const NoArgs = Type.Object({}, { additionalProperties: false })

export function registerUploadCommands(router: CommandRouter, handle: UploadHandle): void {
  router.register({
    actor: 'upload',
    verb: 'status',
    description: 'off-box copies of recordings: sessions queued, uploaded since start, the one in progress, the last failure',
    args: NoArgs,
    readOnly: true,
    handler: async () => handle.status(),
  })
}
