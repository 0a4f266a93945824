import t from 'tap'
import { createServer, type Server } from 'node:net'
import { createActor, createMachine, type EventObject } from 'xstate'
import { sourceAddress, watchSourceLogic } from '../../../actors/camera/sourceWatch.js'
import { parseCameraSource } from '../../../infra/sources.js'
import { freePort } from '../../../infra/ports.js'

t.test('sourceAddress: host and port of an rtsp:// camera, the default ports, nothing for other sources', async (t) => {
  t.same(sourceAddress(parseCameraSource('rtsp://u:p@10.0.0.9:8554/s')), { host: '10.0.0.9', port: 8554 })
  t.same(sourceAddress(parseCameraSource('rtsp://cam.local/stream1')), { host: 'cam.local', port: 554 })
  t.same(sourceAddress(parseCameraSource('rtsps://cam/s')), { host: 'cam', port: 322 })
  t.same(sourceAddress(parseCameraSource('rtsp://[::1]:8554/s')), { host: '::1', port: 8554 })
  t.equal(sourceAddress(parseCameraSource('testsrc')), null)
  t.equal(sourceAddress(parseCameraSource('file:/a.mp4')), null)
})

/** Runs the watcher alone (as the camera machine invokes it); collects what it sends. */
function watch(port: number) {
  const seen: EventObject[] = []
  const parent = createMachine({
    invoke: { src: watchSourceLogic({ address: { host: '127.0.0.1', port }, everyMs: 20, connectTimeoutMs: 500 }) },
    on: { '*': { actions: ({ event }) => void seen.push(event) } },
  })
  const actor = createActor(parent).start()
  return { seen, stop: () => actor.stop() }
}

const listen = (port: number) =>
  new Promise<Server>((resolve, reject) => {
    const server = createServer((socket) => socket.destroy())
    server.once('error', reject)
    server.listen(port, '127.0.0.1', () => resolve(server))
  })
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms))

t.test('a camera that refused and now listens: SOURCE.REACHABLE, once', async (t) => {
  const port = await freePort()
  const w = watch(port)
  t.teardown(w.stop)
  await sleep(150)
  t.same(w.seen, [], 'nothing while it refuses')
  const server = await listen(port)
  t.teardown(() => new Promise<void>((r) => server.close(() => r())))
  const until = Date.now() + 5000
  while (w.seen.length === 0 && Date.now() < until) await sleep(10)
  t.same(w.seen, [{ type: 'SOURCE.REACHABLE' }])
  await sleep(150)
  t.equal(w.seen.length, 1, 'sent once per wait')
})

t.test('a port that always accepts (a camera answering 401) never reports: the backoff paces those', async (t) => {
  const server = await listen(0)
  t.teardown(() => new Promise<void>((r) => server.close(() => r())))
  const w = watch((server.address() as { port: number }).port)
  await sleep(200)
  w.stop()
  t.same(w.seen, [])
})

t.test('stopping the watcher ends its knocking', async (t) => {
  const port = await freePort()
  const w = watch(port)
  await sleep(60)
  w.stop()
  const server = await listen(port)
  t.teardown(() => new Promise<void>((r) => server.close(() => r())))
  let connections = 0
  server.on('connection', () => connections++)
  await sleep(150)
  t.equal(connections, 0, 'no knock after the state was left')
  t.same(w.seen, [])
})
