/**
 * The live routes against the preview level, at the web's level (the whole rig with its
 * governor: test/integration/monitor/preview.test.ts): what only a test that sets the level
 * and the camera's still by hand can show quickly — a stale or missing still is 503, never an
 * old picture; open streams of every viewer end together; the level is in the sync and pushed.
 * The FLV upstream is a small HTTP server that streams bytes in place of the media server.
 */
import { createServer, request as httpRequest, type IncomingMessage, type ServerResponse } from 'node:http'
import type { AddressInfo } from 'node:net'
import t, { type Test } from 'tap'
import { openWs, rawRequest, startWebRig } from '../../helpers/webRig.js'
import { waitFor } from '../../helpers/wait.js'

async function flvSource(t: Test): Promise<{ url: string; open: () => number }> {
  const clients = new Set<ServerResponse>()
  const server = createServer((_req: IncomingMessage, res: ServerResponse) => {
    res.writeHead(200, { 'Content-Type': 'video/x-flv' })
    res.write('FLV\x01')
    clients.add(res)
    res.on('close', () => clients.delete(res))
  })
  // A tag every 50 ms to every open client, as a live stream does.
  const timer = setInterval(() => {
    for (const c of clients) c.write(Buffer.alloc(64, 1))
  }, 50)
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()))
  t.teardown(async () => {
    clearInterval(timer)
    for (const c of clients) c.destroy()
    await new Promise<void>((r) => server.close(() => r()))
  })
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/live/cam.flv`, open: () => clients.size }
}

function openStream(base: string): Promise<{ ended: Promise<void>; close(): void }> {
  return new Promise((resolve, reject) => {
    const req = httpRequest(`${base}/live/cam.flv`, { agent: false }, (res) => {
      if (res.statusCode !== 200) return reject(new Error(`answered ${res.statusCode}`))
      const ended = new Promise<void>((done) => res.once('close', () => done()))
      res.once('data', () => resolve({ ended, close: () => req.destroy() }))
    })
    req.on('error', reject)
    req.end()
  })
}

t.test('preview level and the camera still, set by hand: streams end together, stale stills are refused', async (t) => {
  const source = await flvSource(t)
  let still: { jpeg: Buffer; ageMs: number } | null = null
  const rig = await startWebRig({ live: { sourceUrl: () => source.url, still: () => still } })
  t.teardown(() => rig.stop())
  const base = rig.baseUrl

  t.match((await rawRequest(base, '/live/still.jpg')).json(), { error: { code: 'UNAVAILABLE', message: 'no still from the camera yet' } }, 'no still yet: 503')
  still = { jpeg: Buffer.from([0xff, 0xd8, 0xff, 0xd9]), ageMs: 800 }
  const fresh = await rawRequest(base, '/live/still.jpg')
  t.equal(fresh.status, 200)
  t.equal(fresh.headers['content-type'], 'image/jpeg')
  t.equal(fresh.headers['cache-control'], 'no-store')
  still = { jpeg: Buffer.from([0xff, 0xd8, 0xff, 0xd9]), ageMs: 9000 }
  const stale = await rawRequest(base, '/live/still.jpg')
  t.equal(stale.status, 503, 'a still 9 s old is a camera that stopped: 503, not an old picture shown as live')
  t.match(stale.json(), { error: { code: 'UNAVAILABLE', message: /newest still is 9 s old: the camera is not delivering pictures/, details: { ageMs: 9000 } } })
  still = { jpeg: Buffer.from([0xff, 0xd8, 0xff, 0xd9]), ageMs: 100 }

  const ws = await openWs(`ws://127.0.0.1:${rig.port}/api/v1/ws`)
  t.teardown(() => ws.close())
  t.match(await ws.next((m) => m['type'] === 'sync_response'), { state: { preview: { level: 'full', reason: 'no resource reading yet' } } })

  const a = await openStream(base)
  const b = await openStream(base)
  t.teardown(() => (a.close(), b.close()))
  await waitFor(() => source.open() === 2, 5000, 'two viewers upstream')

  rig.preview.set('low', 'resource level DEGRADE (cpu 75 %)')
  await Promise.all([a.ended, b.ended])
  t.pass('both open streams ended when the level dropped')
  await waitFor(() => source.open() === 0, 5000, 'and their upstream reads with them (the CPU is freed)')
  t.match(await ws.next((m) => m['type'] === 'preview'), { type: 'preview', level: 'low', reason: 'resource level DEGRADE (cpu 75 %)' }, 'pushed to the page')
  t.match((await rawRequest(base, '/api/v1/state')).json(), { preview: { level: 'low', reason: 'resource level DEGRADE (cpu 75 %)' } })
  const refused = await rawRequest(base, '/live/cam.flv')
  t.equal(refused.status, 503)
  t.equal(source.open(), 0, 'a refused viewer never reaches the media server')
  t.equal((await rawRequest(base, '/live/still.jpg')).status, 200, 'stills at low')

  rig.preview.set('off', 'resource level CRITICAL (cpu 92 %)')
  t.match(await ws.next((m) => m['type'] === 'preview'), { level: 'off' })
  t.equal((await rawRequest(base, '/live/still.jpg')).status, 503, 'no still at off')

  rig.preview.set('full', 'resource level NORMAL')
  const c = await openStream(base)
  t.teardown(() => c.close())
  t.pass('back at full a viewer streams again')
})
