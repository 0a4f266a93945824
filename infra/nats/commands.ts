import { Svcm, type Service } from '@nats-io/services'
import type { MsgHdrs, NatsConnection, Subscription } from '@nats-io/transport-node'
import type { Static, TSchema } from '@sinclair/typebox'
import type { Clock } from '../clock.js'
import { VigilError, httpStatusOf, type ErrorBody, type ErrorCode } from '../errors.js'
import type { Logger } from '../logger.js'
import { SERVICE_NAME, parseCommandSubject, subjects } from '../subjects.js'
import { encodeJson, headersWithTrace, isTraceId, newTraceId, traceIdOf } from './codec.js'
import { argsDigest, createIdempotencyStore, type IdempotencyStore } from './idempotency.js'
import {
  MAX_COMMAND_BYTES,
  badRequest,
  compileArgs,
  errorReply,
  parseEnvelope,
  type ArgsValidator,
  type CommandReply,
} from './envelope.js'

export type CommandSource = 'nats' | 'http' | 'internal'

export interface CommandContext {
  traceId: string
  /** Carries traceId, actor and verb: every line the command causes can be found by its trace. */
  log: Logger
  idempotencyKey?: string
  source: CommandSource
  /**
   * Epoch ms (the rig's clock) by which the caller gets an answer: the envelope's deadline,
   * or now + the router's default bound. Past it the caller has been told TIMEOUT.
   */
  deadline: number
  /**
   * Aborted when `deadline` passes. A handler that makes the command wait its turn (the
   * recorder's queue) drops it then if it has not begun, so it never runs later (no ghost
   * start); one that has begun runs to its end.
   */
  signal: AbortSignal
}

export interface CommandSpec<S extends TSchema = TSchema> {
  actor: string
  verb: string
  /** Registrants set `additionalProperties: false`, so a misspelt arg is refused, not ignored. */
  args: S
  description: string
  /** Does not change anything (status, list): the HTTP layer may map it to GET. */
  readOnly?: boolean
  /** Throw a VigilError for an expected refusal; anything else becomes INTERNAL. */
  handler(args: Static<S>, ctx: CommandContext): Promise<unknown>
}

export interface CommandInfo {
  actor: string
  verb: string
  subject: string
  description: string
  readOnly: boolean
}

/** One line of logs/commands.jsonl. */
export interface CommandRecord {
  at: string
  node: string
  traceId: string
  actor: string
  verb: string
  source: CommandSource
  ok: boolean
  code: 'OK' | ErrorCode
  ms: number
  idempotencyKey?: string
  /** The reply was the one kept for this idempotency key (or joined its first run): nothing ran again. */
  replayed?: true
}

export interface DispatchOptions {
  traceId?: string
  source?: CommandSource
}

export interface CommandRouter {
  /** Throws on a duplicate or an invalid name: that is a startup bug, not a runtime input. */
  register<S extends TSchema>(spec: CommandSpec<S>): void
  commands(): CommandInfo[]
  /** `false`: every command answers `code` (SHUTTING_DOWN) from now on (DESIGN.md §3 step 1). */
  setAccepting(accepting: boolean, code?: ErrorCode): void
  /** Serves every registered command on `nc` as the `vigil` NATS service. */
  listen(nc: NatsConnection): Promise<void>
  close(): Promise<void>
  /** The same validation, error mapping and logging, without NATS (the HTTP API). Never rejects. */
  dispatch(actor: string, verb: string, payload: unknown, opts?: DispatchOptions): Promise<CommandReply>
}

export interface CommandRouterOptions {
  node: string
  log: Logger
  clock: Clock
  onCommand?: (record: CommandRecord) => void
  maxPayloadBytes?: number
  /** Reported by $SRV.INFO. */
  version?: string
  /**
   * Where ok replies to keyed commands are kept (DESIGN.md §9.5); the rig passes one on disk
   * under its data dir. Default: in memory, so a router made by a test or a tool still
   * honours keys within its life.
   */
  idempotency?: IdempotencyStore
  /** The bound on a command sent without a deadline: its caller gets TIMEOUT, never silence. */
  defaultTimeoutMs?: number
  /** No deadline, however far, holds a caller longer than this. */
  maxTimeoutMs?: number
}

/** Every command answers within this when its caller gave no deadline (the longest, recorder.stop, takes < 1 s). */
export const DEFAULT_COMMAND_TIMEOUT_MS = 30_000
export const MAX_COMMAND_TIMEOUT_MS = 10 * 60_000
export const KEY_REUSED = 'idempotency key reused with other args'

interface Entry {
  spec: CommandSpec
  subject: string
  args: ArgsValidator
}

/** What the router needs of a request, from nats-core or the services wrapper alike. */
interface IncomingRequest {
  subject: string
  reply?: string
  data: Uint8Array
  headers?: MsgHdrs
  respond(data?: Uint8Array, opts?: { headers?: MsgHdrs }): boolean
}

// Standard micro-service error headers: `nats micro` and other tooling show them.
const SERVICE_ERROR = 'Nats-Service-Error'
const SERVICE_ERROR_CODE = 'Nats-Service-Error-Code'

const keyOf = (actor: string, verb: string) => `${actor}.${verb}`

/** The reply to a caller for an internal failure: the code, words that say where to look, the trace id. */
export function internalReply(traceId: string): CommandReply<never> {
  return errorReply('INTERNAL', `internal error; the rig's log has the detail under trace ${traceId}`, { traceId })
}

// An errno (`EACCES:`) or an absolute path in a refusal's message: it carries an exception's text.
const EXCEPTION_TEXT = /\bE[A-Z]{3,}\b:|(^|[\s'"(=,])\/[\w.-]+\/[^\s'"]*/

export function wrapsException(message: string): boolean {
  return EXCEPTION_TEXT.test(message)
}

const GENERIC: Record<ErrorCode, string> = {
  BAD_REQUEST: 'bad request',
  NOT_FOUND: 'not found',
  ALREADY_RECORDING: 'already recording',
  NOT_RECORDING: 'not recording',
  DISK_FULL: 'the disk is full or could not be written',
  UNAVAILABLE: 'unavailable; see the rig\'s log',
  SHUTTING_DOWN: 'vigil is shutting down',
  TIMEOUT: 'timed out',
  INTERNAL: 'internal error',
}

export function createCommandRouter(opts: CommandRouterOptions): CommandRouter {
  const { node, clock } = opts
  const log = opts.log.child({ component: 'commands' })
  const maxBytes = opts.maxPayloadBytes ?? MAX_COMMAND_BYTES
  const registry = new Map<string, Entry>()
  const kept = opts.idempotency ?? createIdempotencyStore({ now: () => clock.now(), log: opts.log })
  const defaultTimeoutMs = opts.defaultTimeoutMs ?? DEFAULT_COMMAND_TIMEOUT_MS
  const maxTimeoutMs = opts.maxTimeoutMs ?? MAX_COMMAND_TIMEOUT_MS
  /** Keyed commands still running: a retry that arrives meanwhile waits for the same run. */
  const inFlight = new Map<string, { digest: string; done: Promise<CommandReply> }>()
  let refusal: ErrorCode | undefined
  let service: Service | undefined
  let catchAll: Subscription | undefined

  function unknownCommand(actor: string, verb: string): CommandReply {
    const verbs = [...registry.values()].filter((e) => e.spec.actor === actor).map((e) => e.spec.verb).sort()
    if (verbs.length > 0) {
      return badRequest(`unknown command ${actor}.${verb}; known verbs of ${actor}: ${verbs.join(', ')}`, { actor, verb, knownVerbs: verbs })
    }
    const actors = [...new Set([...registry.values()].map((e) => e.spec.actor))].sort()
    return badRequest(`unknown actor ${actor}; known actors: ${actors.join(', ') || '(none)'}`, { actor, verb, knownActors: actors })
  }

  async function run(actor: string, verb: string, payload: unknown, traceId: string, source: CommandSource): Promise<CommandReply> {
    const started = clock.monotonic()
    let idempotencyKey: string | undefined
    let replayed = false
    let reply: CommandReply
    try {
      reply = await execute()
    } catch (err) {
      // execute() maps everything; this is a bug in the mapping itself.
      log.error({ err, traceId, actor, verb }, 'command failed unexpectedly')
      reply = internalReply(traceId)
    }
    const ms = Math.round((clock.monotonic() - started) * 1000) / 1000
    const code = reply.ok ? 'OK' : reply.error.code
    // A read that worked (status polls, several a second from a page or a test) is in
    // logs/commands.jsonl like every command; the main log keeps changes and failures.
    const quiet = reply.ok && registry.get(keyOf(actor, verb))?.spec.readOnly === true
    log[quiet ? 'debug' : 'info']({ traceId, actor, verb, code, ms, source, ...(replayed ? { replayed } : {}) }, 'command')
    const record: CommandRecord = { at: new Date(clock.now()).toISOString(), node, traceId, actor, verb, source, ok: reply.ok, code, ms }
    if (idempotencyKey !== undefined) record.idempotencyKey = idempotencyKey
    if (replayed) record.replayed = true
    try {
      opts.onCommand?.(record)
    } catch (err) {
      log.warn({ err, traceId }, 'command record hook failed')
    }
    return reply

    async function execute(): Promise<CommandReply> {
      if (refusal !== undefined) return errorReply(refusal, 'vigil is shutting down; commands are no longer accepted')
      const entry = registry.get(keyOf(actor, verb))
      if (!entry) return unknownCommand(actor, verb)
      const envelope = parseEnvelope(payload, maxBytes)
      if (!envelope.ok) return envelope
      idempotencyKey = envelope.value.idempotencyKey
      const args = entry.args.validate(envelope.value.args)
      if (!args.ok) return args
      const now = clock.now()
      const asked = envelope.value.deadline
      if (asked !== undefined && asked <= now) {
        return errorReply('TIMEOUT', `the command's deadline passed ${now - asked} ms before it could begin; it was not run`, { deadline: asked, now })
      }
      const boundMs = Math.min(asked === undefined ? defaultTimeoutMs : asked - now, maxTimeoutMs)
      // A key on a read-only command changes nothing: there is no second effect to prevent.
      const key = entry.spec.readOnly === true ? undefined : idempotencyKey
      const scope = keyOf(actor, verb)
      const digest = key === undefined ? '' : argsDigest(args.value)
      if (key !== undefined) {
        const reused = () =>
          badRequest(`idempotency key ${JSON.stringify(key)} was sent with other args for ${scope}: use a new key for a new request`, {
            reason: KEY_REUSED,
            scope,
          })
        const earlier = kept.get(scope, key)
        if (earlier) {
          if (earlier.argsDigest !== digest) return reused()
          replayed = true
          return { ok: true, result: earlier.result }
        }
        const running = inFlight.get(`${scope}\u0000${key}`)
        if (running) {
          if (running.digest !== digest) return reused()
          replayed = true
          return withinBound(running.done, boundMs, undefined)
        }
      }
      const abort = new AbortController()
      // Made on first use: most handlers (every status) never log.
      let ctxLog: Logger | undefined
      const ctx: CommandContext = {
        traceId,
        get log() {
          return (ctxLog ??= opts.log.child({ traceId, actor, verb }))
        },
        source,
        deadline: now + boundMs,
        signal: abort.signal,
      }
      if (key !== undefined) ctx.idempotencyKey = key
      const done = runHandler(entry, args.value, ctx, key === undefined ? undefined : { scope, key, digest })
      if (key !== undefined) {
        const id = `${scope}\u0000${key}`
        inFlight.set(id, { digest, done })
        void done.finally(() => inFlight.delete(id))
      }
      return withinBound(done, boundMs, abort)
    }
  }

  /** The handler's reply, its ok result kept under the key first (on disk before the caller hears of it). Never rejects. */
  async function runHandler(entry: Entry, args: unknown, ctx: CommandContext, keyed: { scope: string; key: string; digest: string } | undefined): Promise<CommandReply> {
    const { actor, verb } = entry.spec
    let reply: CommandReply
    try {
      const result = await entry.spec.handler(args as never, ctx)
      reply = { ok: true, result: result === undefined ? {} : result }
    } catch (err) {
      if (err instanceof VigilError) return forCaller(err.toBody(), ctx.traceId, actor, verb)
      log.error({ err, traceId: ctx.traceId, actor, verb }, 'command handler failed')
      return internalReply(ctx.traceId)
    }
    if (keyed) await kept.put({ scope: keyed.scope, key: keyed.key, argsDigest: keyed.digest, result: reply.result })
    return reply
  }

  /**
   * The caller hears within the bound: the reply, or TIMEOUT. At the bound the handler is
   * told (its signal) so a command that has not begun is dropped; one that has begun goes
   * on, and its ok reply is still kept under its key for the caller's retry.
   */
  function withinBound(done: Promise<CommandReply>, boundMs: number, abort: AbortController | undefined): Promise<CommandReply> {
    let timer: NodeJS.Timeout | undefined
    const expired = new Promise<CommandReply>((resolve) => {
      timer = setTimeout(() => {
        abort?.abort()
        resolve(
          errorReply(
            'TIMEOUT',
            `no result within ${Math.round(boundMs)} ms: a command not begun by then is dropped, one already begun runs to its end (a retry with the same idempotency key gets its reply)`,
            { timeoutMs: Math.round(boundMs) },
          ),
        )
      }, boundMs)
    })
    return Promise.race([done, expired]).finally(() => clearTimeout(timer))
  }

  /**
   * What a caller may see of a failure. INTERNAL, and any refusal that wraps an exception
   * (an errno, an absolute path: a server's fs layout is no caller's business), becomes the
   * code, a generic message and the trace id; the detail is logged here, once, with it.
   * Deliberate refusals (BAD_REQUEST, NOT_FOUND, …) keep their words.
   */
  function forCaller(error: ErrorBody, traceId: string, actor: string, verb: string): CommandReply {
    // BAD_REQUEST and NOT_FOUND words may quote the caller's own input (an arg's JSON pointer): theirs to see.
    const echoesCaller = error.code === 'BAD_REQUEST' || error.code === 'NOT_FOUND'
    if (error.code !== 'INTERNAL' && (echoesCaller || !wrapsException(error.message))) return { ok: false, error }
    log.error({ traceId, actor, verb, error }, 'command failed; the caller got the code and the trace id')
    return error.code === 'INTERNAL' ? internalReply(traceId) : errorReply(error.code, `${GENERIC[error.code]} (trace ${traceId})`, { traceId })
  }

  function respond(msg: IncomingRequest, reply: CommandReply, traceId: string, asService: boolean): void {
    if (!msg.reply) return
    const hdrs = headersWithTrace(traceId)
    let data: Uint8Array
    try {
      data = encodeJson(reply)
    } catch (err) {
      log.error({ err, traceId, subject: msg.subject }, 'command result is not JSON-serialisable')
      reply = internalReply(traceId)
      data = encodeJson(reply)
    }
    if (!reply.ok && asService) {
      hdrs.set(SERVICE_ERROR_CODE, String(httpStatusOf(reply.error.code)))
      hdrs.set(SERVICE_ERROR, reply.error.code)
    }
    try {
      msg.respond(data, { headers: hdrs })
    } catch (err) {
      // Over max_payload, or the connection went away: the requester times out,
      // the subscription lives on.
      log.warn({ err, traceId, subject: msg.subject }, 'command reply could not be sent')
      if (reply.ok) {
        try {
          msg.respond(encodeJson(errorReply('INTERNAL', 'command reply could not be sent')), { headers: headersWithTrace(traceId) })
        } catch {
          // Already logged above; nothing else can reach this requester.
        }
      }
    }
  }

  async function onMessage(msg: IncomingRequest, viaCatchAll: boolean): Promise<void> {
    const parsed = parseCommandSubject(msg.subject)
    // Registered commands are answered by their service endpoint: one reply each.
    if (viaCatchAll && parsed && registry.has(keyOf(parsed.actor, parsed.verb))) return
    const traceId = traceIdOf(msg)
    if (!parsed) {
      respond(msg, badRequest(`not a command subject: ${msg.subject} (expected vigil.${node}.cmd.<actor>.<verb>)`), traceId, false)
      return
    }
    // A request without a reply subject still runs (fire-and-forget `nats pub`); unknown ones are dropped.
    if (!msg.reply && !registry.has(keyOf(parsed.actor, parsed.verb))) return
    const reply = await run(parsed.actor, parsed.verb, msg.data, traceId, 'nats')
    respond(msg, reply, traceId, !viaCatchAll)
  }

  /** The NATS callback: must never throw, or the subscription (and the service) would die. */
  const handle = (viaCatchAll: boolean) => (err: Error | null, msg: IncomingRequest) => {
    if (err) {
      log.warn({ err }, 'command subscription error')
      return
    }
    onMessage(msg, viaCatchAll).catch((e: unknown) => log.error({ err: e, subject: msg.subject }, 'command dispatch failed'))
  }

  function addEndpoint(entry: Entry): void {
    if (!service) return
    const { actor, verb, description, readOnly } = entry.spec
    service.addEndpoint(`${actor}-${verb}`, {
      subject: entry.subject,
      handler: handle(false) as never,
      metadata: { node, actor, verb, description, readOnly: String(readOnly === true) },
    })
  }

  return {
    register(spec) {
      const key = keyOf(spec.actor, spec.verb)
      if (registry.has(key)) throw new Error(`command ${key} is already registered`)
      const entry: Entry = { spec: spec as unknown as CommandSpec, subject: subjects.command(node, spec.actor, spec.verb), args: compileArgs(spec.args) }
      registry.set(key, entry)
      addEndpoint(entry)
    },
    commands() {
      return [...registry.values()].map((e) => ({
        actor: e.spec.actor,
        verb: e.spec.verb,
        subject: e.subject,
        description: e.spec.description,
        readOnly: e.spec.readOnly === true,
      }))
    },
    setAccepting(accepting, code = 'SHUTTING_DOWN') {
      refusal = accepting ? undefined : code
    },
    async listen(nc) {
      if (service) throw new Error('command router is already listening')
      // @nats-io/services is built against an earlier nats-core; the connection is the same shape.
      service = await new Svcm(nc as never).add({
        name: SERVICE_NAME,
        version: opts.version ?? '0.1.0',
        description: `vigil rig ${node}: commands`,
        metadata: { node },
      })
      for (const entry of registry.values()) addEndpoint(entry)
      // Its own queue group: NATS picks one member per queue *name* across every matching
      // subscription, so sharing the endpoints' "q" would let the catch-all steal
      // (and drop) known commands. A group still means one unknown-verb reply per node.
      catchAll = nc.subscribe(subjects.commandsOf(node), { queue: 'vigil-unknown-verbs', callback: handle(true) })
      log.info({ commands: registry.size, subject: subjects.commandsOf(node) }, 'commands listening')
    },
    async close() {
      const s = service
      const sub = catchAll
      service = undefined
      catchAll = undefined
      const drainCatchAll = async () => {
        if (sub && !sub.isClosed()) await sub.drain()
      }
      await Promise.allSettled([s?.stop(), drainCatchAll()])
    },
    dispatch(actor, verb, payload, o = {}) {
      const traceId = o.traceId !== undefined && isTraceId(o.traceId) ? o.traceId : newTraceId()
      return run(actor, verb, payload, traceId, o.source ?? 'http')
    },
  }
}
