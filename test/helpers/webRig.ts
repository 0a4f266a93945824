import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises'
import { request as httpRequest } from 'node:http'
import { request as httpsRequest } from 'node:https'
import { createRequire } from 'node:module'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { Type } from '@sinclair/typebox'
import type { FastifyInstance } from 'fastify'
import { createActor, setup } from 'xstate'
import { AlertLog, type AlertInput } from '../../infra/alerts.js'
import { systemClock } from '../../infra/clock.js'
import { createManualDisk, type ManualDisk } from '../../infra/disk.js'
import { VigilError, type ErrorCode } from '../../infra/errors.js'
import { createFeed, type Feed } from '../../infra/feed.js'
import { PreviewState } from '../../infra/preview.js'
import { liveVideoPlugin, type LiveVideoDeps } from '../../actors/web/routes/liveVideo.js'
import { silentLogger, type Logger } from '../../infra/logger.js'
import { createCommandRouter, type CommandRecord, type CommandRouter } from '../../infra/nats/commands.js'
import { createSupervisor, type SupervisorHandle } from '../../actors/supervisor/index.js'
import { machineChild } from '../../actors/supervisor/machineChild.js'
import { createWebActor, createWebMetrics, webChild, webStateName, type SecurityState, type WebDeps, type WebMetrics, type WebTlsMode, type WebUser } from '../../actors/web/index.js'
import { supervisedChild } from './supervised.js'
import { registerRecordingDeleteCommand } from '../../actors/recorder/deleteCommand.js'
import { inspectPlugin } from '../../actors/inspect/routes.js'
import { freePort } from '../../infra/ports.js'
import { waitFor } from './wait.js'

/**
 * A small rig around a real web server: a real command router (with fake
 * recorder commands that answer the recorder's codes), a real supervisor with a
 * fake camera child and the web child, temp data dirs, a disk set by hand.
 */

export const TEST_TOKEN = 'test-token-0123456789abcdef'
export const CAMERA_PASSWORD = 'hunter2-camera-password'

export interface FakeRecorder {
  session: null | { id: string; name: string; startedAt: string; bytes: number; segments: number; idempotencyKey?: string }
  freeBytes: number
  minFreeBytes: number
  /** Every command takes this long (slow-request logging). */
  delayMs?: number
  /** The next commands fail with this code (a plain Error for 'throw': INTERNAL). */
  failWith?: ErrorCode | 'throw'
}

async function misbehave(rec: FakeRecorder): Promise<void> {
  if (rec.delayMs) await new Promise((r) => setTimeout(r, rec.delayMs))
  if (rec.failWith === 'throw') throw new Error('the fake recorder broke')
  if (rec.failWith) throw new VigilError(rec.failWith, `fake failure ${rec.failWith}`)
}

export function registerFakeRecorder(router: CommandRouter, rec: FakeRecorder): void {
  let n = 0
  router.register({
    actor: 'recorder',
    verb: 'start',
    description: 'fake',
    args: Type.Object({ name: Type.Optional(Type.String({ maxLength: 128 })) }, { additionalProperties: false }),
    handler: async (args: { name?: string }, ctx) => {
      await misbehave(rec)
      if (rec.session) {
        if (ctx.idempotencyKey !== undefined && rec.session.idempotencyKey === ctx.idempotencyKey) return rec.session
        throw new VigilError('ALREADY_RECORDING', `already recording session ${rec.session.id}`, { session: rec.session.id })
      }
      if (rec.freeBytes < rec.minFreeBytes) {
        throw new VigilError('DISK_FULL', `only ${rec.freeBytes} bytes free; need ${rec.minFreeBytes}`, { freeBytes: rec.freeBytes, minFreeBytes: rec.minFreeBytes })
      }
      n += 1
      rec.session = {
        id: `20250101T00000${n % 10}Z-abcdef`,
        name: args.name ?? 'session',
        startedAt: new Date().toISOString(),
        bytes: 1234,
        segments: 2,
        ...(ctx.idempotencyKey === undefined ? {} : { idempotencyKey: ctx.idempotencyKey }),
      }
      return rec.session
    },
  })
  router.register({
    actor: 'recorder',
    verb: 'stop',
    description: 'fake',
    args: Type.Object({}, { additionalProperties: false }),
    handler: async () => {
      await misbehave(rec)
      if (!rec.session) throw new VigilError('NOT_RECORDING', 'not recording')
      const done = { ...rec.session, state: 'finalized' }
      rec.session = null
      return done
    },
  })
  router.register({
    actor: 'recorder',
    verb: 'status',
    description: 'fake',
    readOnly: true,
    args: Type.Object({}, { additionalProperties: false }),
    handler: async () => ({ state: rec.session ? 'recording' : 'idle', session: rec.session }),
  })
}

/** A camera stand-in whose context holds what must never reach a browser. */
const fakeCameraMachine = setup({
  types: { context: {} as Record<string, unknown> },
}).createMachine({
  id: 'camera',
  context: {
    source: `rtsp://admin:${CAMERA_PASSWORD}@192.0.2.10/stream1`,
    password: CAMERA_PASSWORD,
    credentials: { user: 'admin', pass: CAMERA_PASSWORD },
    frames: 42,
    pids: [],
  },
  initial: 'streaming',
  states: {
    streaming: { tags: ['ready'], on: { STOP: 'stopped' } },
    stopped: { type: 'final' },
  },
})

export interface WebRig {
  baseUrl: string
  host: string
  port: number
  app: () => FastifyInstance
  router: CommandRouter
  alerts: AlertLog
  raised: AlertInput[]
  feed: Feed
  /** The preview level the web follows; the test sets it (the rig's governor does). */
  preview: PreviewState
  supervisor: SupervisorHandle
  recorder: FakeRecorder
  disk: ManualDisk
  metrics: WebMetrics
  dataDir: string
  dirs: { recordings: string; snapshots: string }
  /** A file next to the data dir whose content must never be served. */
  secretFile: string
  secretContent: string
  nats: { connected: boolean }
  media: { reachable: boolean; probes: number }
  commands: CommandRecord[]
  listens: number
  stop(): Promise<void>
}

export interface WebRigOptions {
  token?: string
  forceAuth?: boolean
  users?: WebUser[]
  allowedHosts?: string[]
  /** { kind: 'self-signed', dir } serves HTTPS (baseUrl https://, `ca` set). */
  tls?: WebTlsMode
  /** Sessions and login limiter (shorter TTLs, a fake clock). */
  security?: SecurityState
  /** Serve the inspector (/inspect and its data) too, as the rig does. */
  inspect?: boolean
  /** Serve /live/cam.flv and /live/still.jpg from these (the rig's preview holder is added). */
  live?: Omit<LiveVideoDeps, 'preview'>
  log?: Logger
  timing?: WebDeps['timing']
  readyCacheMs?: number
  slowMs?: number
  wsPingIntervalMs?: number
  backoffMs?: number
}

// Tests take it from here with the web rig.
export { freePort }

export async function startWebRig(opts: WebRigOptions = {}): Promise<WebRig> {
  const root = await mkdtemp(join(tmpdir(), 'vigil-web-'))
  const dataDir = join(root, 'data')
  const dirs = { recordings: join(dataDir, 'recordings'), snapshots: join(dataDir, 'snapshots') }
  await mkdir(dirs.recordings, { recursive: true })
  await mkdir(dirs.snapshots, { recursive: true })
  const secretContent = `TOP-SECRET-${Math.random().toString(36).slice(2)}-DO-NOT-SERVE`
  const secretFile = join(root, 'secret.txt')
  await writeFile(secretFile, secretContent)

  const log = opts.log ?? silentLogger()
  const commands: CommandRecord[] = []
  const metrics = createWebMetrics({ node: 'webtest' })
  const router = createCommandRouter({
    node: 'webtest',
    log,
    clock: systemClock,
    onCommand: (r) => {
      commands.push(r)
      metrics.observeCommand(r)
    },
  })
  const recorder: FakeRecorder = { session: null, freeBytes: 50 * 1024 ** 3, minFreeBytes: 2 * 1024 ** 3 }
  registerFakeRecorder(router, recorder)
  // The real recorder.delete (it only needs the dir, the node and the active session).
  registerRecordingDeleteCommand(router, { recordingsDir: dirs.recordings, node: 'webtest', activeSessionId: () => recorder.session?.id ?? null })
  const alerts = new AlertLog({ node: 'webtest' })
  const feed = createFeed()
  // As the rig does: each change of the level goes on the feed.
  const preview = new PreviewState()
  preview.subscribe((p) => feed.next({ type: 'preview', level: p.level, reason: p.reason, at: p.since }))
  const raised: AlertInput[] = []
  const alert = (input: AlertInput) => {
    raised.push(input)
    feed.next({ type: 'alert', alert: alerts.add(input) })
  }
  const disk = createManualDisk(50 * 1024 ** 3, 100 * 1024 ** 3)
  const nats = { connected: true }
  const media = { reachable: true, probes: 0 }
  let app: FastifyInstance | undefined
  let listens = 0
  let port = await freePort()

  const backoff = opts.backoffMs ?? 100
  const scheme = opts.tls !== undefined && opts.tls.kind !== 'off' ? 'https' : 'http'
  const rig = {} as WebRig
  const supervisor = createSupervisor({
    log,
    alert: (a) => alert({ source: 'supervisor', severity: a.severity, code: a.code, message: a.message, details: a.details ?? {} }),
    onChildState: (id, state, details) => feed.next({ type: 'state', actor: id, state, at: new Date().toISOString(), details }),
    children: [
      supervisedChild('camera', () => machineChild(() => createActor(fakeCameraMachine) as never), {
        shutdownMs: 1000,
        startTimeoutMs: 2000,
        backoff: { initialMs: backoff, factor: 2, maxMs: 1000, jitter: 0, resetAfterMs: 60000 },
      }),
      supervisedChild(
        'web',
        webChild({
          config: {
            host: '127.0.0.1',
            port,
            ...(opts.token ? { token: opts.token } : {}),
            ...(opts.forceAuth ? { forceAuth: true } : {}),
            ...(opts.users ? { users: opts.users } : {}),
            ...(opts.allowedHosts ? { allowedHosts: opts.allowedHosts } : {}),
            ...(opts.tls ? { tls: opts.tls } : {}),
          },
          ...(opts.security ? { security: opts.security } : {}),
          plugins: [
            ...(opts.inspect ? [inspectPlugin({ supervisor: () => supervisor })] : []),
            ...(opts.live ? [liveVideoPlugin({ ...opts.live, preview })] : []),
          ],
          node: 'webtest',
          log,
          router,
          alerts,
          alert,
          feed,
          preview,
          supervisor: () => supervisor,
          dirs,
          ports: { flv: 18000, rtmp: 11935, web: 0, nats: null },
          disk,
          stopBelowBytes: 1024 ** 3,
          natsConnected: () => nats.connected,
          mediaReachable: async () => {
            media.probes += 1
            return media.reachable
          },
          metrics,
          recorderStatus: () => ({ state: recorder.session ? 'recording' : 'idle', session: recorder.session }),
          ...(opts.timing ? { timing: opts.timing } : {}),
          ...(opts.readyCacheMs === undefined ? {} : { readyCacheMs: opts.readyCacheMs }),
          ...(opts.slowMs === undefined ? {} : { slowMs: opts.slowMs }),
          ...(opts.wsPingIntervalMs === undefined ? {} : { wsPingIntervalMs: opts.wsPingIntervalMs }),
          onListening: (a) => {
            app = a
            listens += 1
            const address = a.server.address()
            port = typeof address === 'object' && address ? address.port : 0
            rig.port = port
            rig.baseUrl = `${scheme}://127.0.0.1:${port}`
            rig.listens = listens
          },
        }),
        { backoff: { initialMs: backoff, factor: 2, maxMs: 1000, jitter: 0, resetAfterMs: 60000 } },
      ),
    ],
  })
  supervisor.start()
  await waitFor(() => app !== undefined && supervisor.state() === 'running', 10000, 'web listening and supervisor running')

  Object.assign(rig, {
    baseUrl: `${scheme}://127.0.0.1:${port}`,
    host: '127.0.0.1',
    port,
    app: () => app!,
    router,
    alerts,
    raised,
    feed,
    preview,
    supervisor,
    recorder,
    disk,
    metrics,
    dataDir,
    dirs,
    secretFile,
    secretContent,
    nats,
    media,
    commands,
    listens,
    async stop() {
      await supervisor.shutdown()
      await rm(root, { recursive: true, force: true })
    },
  })
  return rig
}

export interface RawResponse {
  status: number
  headers: Record<string, string | string[] | undefined>
  body: string
  json(): unknown
}

/**
 * A request sent with the path exactly as given (fetch and URL would normalise
 * `..`, `%2e` and backslashes away before they reach the server).
 */
export function rawRequest(
  baseUrl: string,
  path: string,
  opts: { method?: string; headers?: Record<string, string>; body?: string; ca?: string; localAddress?: string } = {},
): Promise<RawResponse> {
  const url = new URL(baseUrl)
  const request = url.protocol === 'https:' ? httpsRequest : httpRequest
  return new Promise((resolve, reject) => {
    const req = request(
      { host: url.hostname, port: url.port, path, method: opts.method ?? 'GET', headers: opts.headers ?? {}, agent: false, ...(opts.ca ? { ca: opts.ca, servername: 'localhost' } : {}), ...(opts.localAddress ? { localAddress: opts.localAddress } : {}) },
      (res) => {
        const chunks: Buffer[] = []
        res.on('data', (c: Buffer) => chunks.push(c))
        res.on('end', () => {
          const body = Buffer.concat(chunks).toString('utf8')
          resolve({ status: res.statusCode ?? 0, headers: res.headers, body, json: () => JSON.parse(body) as unknown })
        })
        res.on('error', reject)
      },
    )
    req.on('error', reject)
    if (opts.body !== undefined) req.write(opts.body)
    req.end()
  })
}

/**
 * POST /api/v1/login; the `vigil_session=…` pair to send back as a Cookie header
 * (throws when the login is refused).
 */
export async function loginCookie(baseUrl: string, body: { token: string } | { user: string; password: string }, opts: { ca?: string } = {}): Promise<string> {
  const r = await rawRequest(baseUrl, '/api/v1/login', { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body), ...opts })
  const set = [r.headers['set-cookie'] ?? []].flat()[0]
  if (r.status !== 200 || set === undefined) throw new Error(`login refused: ${r.status} ${r.body}`)
  return set.split(';')[0]!
}

/** What the tests use of a `ws` client (the package ships no types). */
interface WsClientSocket {
  readonly readyState: number
  send(data: string | Buffer): void
  close(): void
  on(event: 'message', listener: (data: Buffer) => void): void
  on(event: 'open' | 'close', listener: () => void): void
  on(event: 'error', listener: (err: Error) => void): void
  on(event: 'unexpected-response', listener: (req: unknown, res: { statusCode?: number; on(e: 'data', l: (c: Buffer) => void): void; on(e: 'end', l: () => void): void }) => void): void
}

type WsCtor = new (url: string, protocols?: string[], opts?: { headers?: Record<string, string> }) => WsClientSocket
const WsClient = (createRequire(import.meta.url)('ws') as { WebSocket: WsCtor }).WebSocket

export interface WsProbe {
  socket: WsClientSocket
  messages: Array<Record<string, unknown>>
  /**
   * The first matching message after the last one `next` returned (a queue: a
   * message that arrived before the call is found too).
   */
  next(match: (m: Record<string, unknown>) => boolean, timeoutMs?: number): Promise<Record<string, unknown>>
  send(value: unknown): void
  closed: Promise<void>
  close(): void
}

/** Opens a WebSocket; rejects with `{ status, body }` when the server refuses the upgrade. */
export function openWs(url: string, opts: { protocols?: string[]; headers?: Record<string, string> } = {}): Promise<WsProbe> {
  return new Promise((resolve, reject) => {
    const socket = new WsClient(url, opts.protocols ?? ['vigil'], opts.headers ? { headers: opts.headers } : {})
    const messages: Array<Record<string, unknown>> = []
    const waiters = new Set<() => void>()
    let cursor = 0
    let resolveClosed!: () => void
    const closed = new Promise<void>((r) => {
      resolveClosed = r
    })
    socket.on('message', (data) => {
      messages.push(JSON.parse(data.toString('utf8')) as Record<string, unknown>)
      for (const w of waiters) w()
    })
    socket.on('close', () => resolveClosed())
    socket.on('unexpected-response', (_req, res) => {
      const chunks: Buffer[] = []
      res.on('data', (c) => chunks.push(c))
      res.on('end', () => reject(Object.assign(new Error(`upgrade refused: ${res.statusCode}`), { status: res.statusCode, body: Buffer.concat(chunks).toString('utf8') })))
    })
    socket.on('error', (err) => reject(err))
    socket.on('open', () =>
      resolve({
        socket,
        messages,
        next(match, timeoutMs = 5000) {
          return new Promise((res, rej) => {
            let i = cursor
            const check = () => {
              for (; i < messages.length; i++) {
                if (match(messages[i]!)) {
                  waiters.delete(check)
                  clearTimeout(timer)
                  cursor = i + 1
                  res(messages[i]!)
                  return
                }
              }
            }
            const timer = setTimeout(() => {
              waiters.delete(check)
              rej(new Error(`no matching websocket message within ${timeoutMs} ms; got ${JSON.stringify(messages.map((m) => m['type']))}`))
            }, timeoutMs)
            waiters.add(check)
            check()
          })
        },
        send: (value) => socket.send(typeof value === 'string' || Buffer.isBuffer(value) ? value : JSON.stringify(value)),
        closed,
        close: () => socket.close(),
      }),
    )
  })
}

/**
 * A lone web actor (no supervisor, nothing recorded) started with `config`: for the
 * cases that must refuse to start. Resolves once it is done, with the state it ended
 * in, its output and the alerts it raised.
 */
export async function webActorOutcome(config: { host: string; port: number }) {
  const raised: AlertInput[] = []
  const log = silentLogger()
  const actor = createWebActor({
    config,
    node: 'webtest',
    log,
    router: createCommandRouter({ node: 'webtest', log, clock: systemClock }),
    alerts: new AlertLog({ node: 'webtest' }),
    alert: (a) => raised.push(a),
    feed: createFeed(),
    preview: new PreviewState(),
    supervisor: () => ({ state: () => 'running', children: () => [], childActor: () => undefined, uptimeS: () => 0 }),
    dirs: { recordings: '/nonexistent/recordings', snapshots: '/nonexistent/snapshots' },
    ports: { flv: 8000 },
    disk: createManualDisk(1e12),
    stopBelowBytes: 1,
    natsConnected: () => true,
  })
  actor.start()
  await waitFor(() => actor.getSnapshot().status === 'done', 5000, 'web actor done')
  return { state: webStateName(actor.getSnapshot().value), output: actor.getSnapshot().output, raised }
}
