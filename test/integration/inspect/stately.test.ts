import t, { type Test } from 'tap'
import { createRequire } from 'node:module'
import type { StatelyInspectionEvent } from '@statelyai/inspect'
import { createActor, setup, type AnyActorRef } from 'xstate'
import { freePort } from '../../../infra/ports.js'
import { createStatelyBridge } from '../../../actors/inspect/stately.js'
import { startVigil } from '../../helpers/vigilProcess.js'
import { waitFor } from '../../helpers/wait.js'

/** What this test uses of `ws` (no types shipped): the inspector's end, closed for sure at teardown. */
interface WsServer {
  clients: Set<{ terminate(): void }>
  on(event: 'connection', fn: (ws: { on(event: 'message', fn: (data: Buffer) => void): void }) => void): void
  close(cb: () => void): void
}
const { WebSocketServer } = createRequire(import.meta.url)('ws') as { WebSocketServer: new (opts: { port: number; host: string }) => WsServer }

const machine = setup({}).createMachine({
  id: 'cam',
  context: { password: 'hunter2', frames: 0 },
  initial: 'a',
  states: { a: { on: { GO: 'b' } }, b: {} },
})

/** Stands in for `npx @statelyai/inspect`'s server: what the bridge sends is what Stately would get. */
async function inspectorServer(t: Test) {
  const port = await freePort()
  const server = new WebSocketServer({ port, host: '127.0.0.1' })
  const received: StatelyInspectionEvent[] = []
  const raw: string[] = []
  server.on('connection', (ws) =>
    ws.on('message', (data) => {
      raw.push(data.toString())
      received.push(JSON.parse(data.toString()) as StatelyInspectionEvent)
    }),
  )
  t.teardown(
    () =>
      new Promise<void>((resolve) => {
        for (const c of server.clients) c.terminate()
        server.close(() => resolve())
      }),
  )
  return { port, received, raw }
}

t.test('children (and their restarts) reach a Stately inspector server, redacted', async (t) => {
  const { port, received, raw } = await inspectorServer(t)
  let actor = createActor(machine).start()
  let restarts = 0
  // The supervisor's side of it: each new instance is handed over before it starts.
  const listeners = new Set<(id: string, a: AnyActorRef) => void>()
  const bridge = createStatelyBridge({ url: `ws://127.0.0.1:${port}` })
  t.teardown(() => bridge.stop())
  bridge.start(() => ({
    state: () => 'running',
    uptimeS: () => 0,
    childActor: () => actor as never,
    children: () => [{ id: 'camera', state: 'a', status: 'running', restarts, pids: [], since: '', lastExit: null, nextRetryAt: null }],
    onChildActor: (fn) => {
      listeners.add(fn)
      return () => listeners.delete(fn)
    },
  }))
  actor.send({ type: 'GO' })
  await waitFor(() => received.some((e) => e.type === '@xstate.event' && (e as { event: { type: string } }).event.type === 'GO'), 5000, 'GO at the inspector')
  t.ok(received.some((e) => e.type === '@xstate.actor' && e.sessionId === actor.sessionId), 'the running child was registered')
  const snap = received.find((e) => e.type === '@xstate.snapshot' && e.sessionId === actor.sessionId) as { snapshot?: { context?: unknown } } | undefined
  t.notMatch(raw.join('\n'), /hunter2/, 'contexts (and the definition) are redacted')
  t.ok(snap)

  // A restart: the new instance is followed from its very first event, even one it
  // handles in the same tick it starts.
  actor.stop()
  actor = createActor(machine)
  restarts = 1
  for (const fn of listeners) fn('camera', actor as never)
  actor.start()
  actor.send({ type: 'GO' })
  const ofNew = (type: string) => (e: StatelyInspectionEvent) =>
    e.type === '@xstate.event' && e.sessionId === actor.sessionId && (e as { event: { type: string } }).event.type === type
  await waitFor(() => received.some(ofNew('GO')), 5000, 'the new instance events')
  t.ok(received.some((e) => e.type === '@xstate.actor' && e.sessionId === actor.sessionId), 'the new instance registered')
  t.ok(received.some(ofNew('xstate.init')), 'its init event too')
  actor.stop()
})

t.test('vigil start --stately-url: the whole tree reaches the server at that URL', async (t) => {
  const { port, received } = await inspectorServer(t)
  const rig = await startVigil(t, { node: 'statelycli', args: ['--stately-url', `ws://127.0.0.1:${port}`] })
  // Each child from before it starts: registered with what it invoked at creation (the camera's ffmpeg).
  type Registered = { type: string; name?: string; sessionId: string; parentId?: string }
  const registered = () => received.filter((e) => e.type === '@xstate.actor') as unknown as Registered[]
  const wanted = ['supervisor', 'nats', 'camera', 'recorder', 'web']
  const missing = () => wanted.filter((n) => !registered().some((e) => e.name === n))
  // A cold `vigil start` (tsx compiling) on a loaded CI box took over 30 s once: 90 s only guards a hang.
  await waitFor(() => missing().length === 0, 90_000, 'the supervisor and every child registered').catch((err: unknown) => {
    throw new Error(`${(err as Error).message}; missing ${missing().join(', ')}; ${received.length} messages received, registered: ${registered().map((e) => e.name).join(', ') || 'none'}`)
  })
  const camera = registered().find((e) => e.name === 'camera')!
  t.ok(registered().some((e) => e.parentId === camera.sessionId), `the camera's invoked actors too (${registered().filter((e) => e.parentId === camera.sessionId).map((e) => e.sessionId).join(', ')})`)
  await waitFor(() => received.some((e) => e.type === '@xstate.event' && e.sessionId === camera.sessionId), 30_000, 'camera events')
  rig.child.kill('SIGTERM')
  t.same(await rig.exited, { code: 0, signal: null }, 'stops cleanly')
})
