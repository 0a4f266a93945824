/**
 * DESIGN.md §9.3 "Preview degradation is real", on a whole rig (nats-server, media server,
 * camera ffmpeg, web): the governor, moved to DEGRADE then CRITICAL by disk thresholds set
 * around the real free space (test/helpers/governor.ts), decides what a viewer gets.
 * - full: /live/cam.flv streams FLV, /live/still.jpg a JPEG.
 * - DEGRADE (preview low): a stream opened at full is ended; new ones are 503 with a
 *   message naming the level and its cause; the still is a fresh JPEG each second.
 * - CRITICAL (preview off): both 503; still so after a web restart (the level is the rig's).
 * - back to NORMAL: the video is served again.
 * The state sync and the WebSocket say the level as it changes.
 */
import { request as httpRequest, type IncomingMessage } from 'node:http'
import t from 'tap'
import type { Config } from '../../../infra/config/schema.js'
import { startTestRig } from '../../helpers/rig.js'
import { governTo } from '../../helpers/governor.js'
import { openWs, rawRequest } from '../../helpers/webRig.js'
import { waitFor } from '../../helpers/wait.js'
import { sleep, waitCameraStreaming } from '../pipeline/common.js'

interface ErrorReply {
  ok: false
  error: { code: string; message: string; details?: { preview?: string; reason?: string } }
}

/** GET as bytes (rawRequest gives text: a JPEG's bytes must stay bytes). */
function getBytes(base: string, path: string): Promise<{ status: number; type: string | undefined; cache: string | undefined; body: Buffer }> {
  return new Promise((resolve, reject) => {
    const req = httpRequest(`${base}${path}`, { agent: false }, (res) => {
      const chunks: Buffer[] = []
      res.on('data', (c: Buffer) => chunks.push(c))
      res.on('end', () => resolve({ status: res.statusCode ?? 0, type: res.headers['content-type'], cache: res.headers['cache-control'], body: Buffer.concat(chunks) }))
      res.on('error', reject)
    })
    req.on('error', reject)
    req.end()
  })
}

/** An open live-video stream: its first bytes, and how and when it ended. */
async function openStream(base: string): Promise<{ res: IncomingMessage; first: Buffer; bytes: () => number; ended: Promise<string>; close(): void }> {
  return new Promise((resolve, reject) => {
    const req = httpRequest(`${base}/live/cam.flv`, { agent: false }, (res) => {
      if (res.statusCode !== 200) {
        res.resume()
        return reject(new Error(`cam.flv answered ${res.statusCode}`))
      }
      let bytes = 0
      let first: Buffer | null = null
      const ended = new Promise<string>((done) => {
        res.once('end', () => done('end'))
        res.once('aborted', () => done('aborted'))
        res.once('error', (err) => done(`error: ${err.message}`))
        res.once('close', () => done('close'))
      })
      res.on('data', (c: Buffer) => {
        bytes += c.length
        if (first === null) {
          first = c
          resolve({ res, first: c, bytes: () => bytes, ended, close: () => req.destroy() })
        }
      })
    })
    req.setTimeout(20000, () => req.destroy(new Error('no FLV bytes within 20 s')))
    req.on('error', reject)
    req.end()
  })
}

t.test('the preview level decides what a viewer gets: video, stills, nothing; the page is told', async (t) => {
  let config!: Config
  const r = await startTestRig(t, {
    node: 'previewrig',
    configure: (c) => {
      config = c
      c.governor.sampleMs = 300
      c.governor.diskBytes = { warn: 0, degrade: 0, critical: 0 }
    },
  })
  await r.ready()
  await waitCameraStreaming(r)
  const base = `http://127.0.0.1:${r.rig.ports.web}`
  const state = async () => (await rawRequest(base, '/api/v1/state')).json() as { preview: { level: string; reason: string; since: string } }

  // ---------------------------------------------------------------- full
  t.match((await state()).preview, { level: 'full' }, 'the state sync says full')
  const ws = await openWs(`ws://127.0.0.1:${r.rig.ports.web}/api/v1/ws`)
  t.teardown(() => ws.close())
  const sync = await ws.next((m) => m['type'] === 'sync_response')
  t.match(sync, { state: { preview: { level: 'full' } } }, 'the WebSocket sync says full')

  const stream = await openStream(base)
  t.teardown(() => stream.close())
  t.equal(stream.first.subarray(0, 3).toString('latin1'), 'FLV', 'at full /live/cam.flv streams FLV')
  await waitFor(async () => (await getBytes(base, '/live/still.jpg')).status === 200, 15000, 'a still from the camera', 250)
  const stillFull = await getBytes(base, '/live/still.jpg')
  t.equal(stillFull.type, 'image/jpeg')
  t.same([...stillFull.body.subarray(0, 2)], [0xff, 0xd8], 'a JPEG (FF D8)')

  // ---------------------------------------------------------------- DEGRADE → low
  const bytesBefore = stream.bytes()
  const t0 = Date.now()
  await governTo(r, config, 'DEGRADE')
  const how = await Promise.race([stream.ended, sleep(5000).then(() => 'still open')])
  t.not(how, 'still open', `the stream opened at full was ended when the level dropped (${how}, ${Date.now() - t0} ms after the governor restart was asked; ${stream.bytes() - bytesBefore} bytes meanwhile)`)

  const low = await ws.next((m) => m['type'] === 'preview')
  t.match(low, { type: 'preview', level: 'low', reason: /^resource level DEGRADE \(disk .* GiB free\)$/ }, 'the WebSocket pushes the new level and its reason')
  t.match((await state()).preview, { level: 'low', reason: /DEGRADE/ }, 'the state sync says low')

  const flvLow = await rawRequest(base, '/live/cam.flv')
  t.equal(flvLow.status, 503, 'a new live-video viewer is refused at low')
  const flvLowBody = flvLow.json() as ErrorReply
  t.equal(flvLowBody.error.code, 'UNAVAILABLE')
  t.match(flvLowBody.error.message, /^live video is reduced to one still per second \(\/live\/still\.jpg\): the rig is at resource level DEGRADE \(disk .*\); this does not affect the recording$/)
  t.match(flvLowBody.error.details, { preview: 'low', reason: /DEGRADE/ })

  const still1 = await getBytes(base, '/live/still.jpg')
  t.equal(still1.status, 200, 'the still is served at low')
  t.equal(still1.type, 'image/jpeg')
  t.equal(still1.cache, 'no-store', 'never cached: each fetch is the newest picture')
  t.same([...still1.body.subarray(0, 2)], [0xff, 0xd8], 'a JPEG (FF D8)')
  t.same([...still1.body.subarray(-2)], [0xff, 0xd9], 'a whole one (ends FF D9)')
  await sleep(2200)
  const still2 = await getBytes(base, '/live/still.jpg?n=2')
  t.equal(still2.status, 200)
  t.notOk(still2.body.equals(still1.body), 'two seconds later it is another picture (testsrc2 moves): the still is live')
  t.equal((await rawRequest(base, '/live/still.jpg?flv=http://example.com/')).status, 400, 'no other query than the counter')

  // ---------------------------------------------------------------- CRITICAL → off
  await governTo(r, config, 'CRITICAL')
  t.match(await ws.next((m) => m['type'] === 'preview'), { level: 'off', reason: /^resource level CRITICAL/ }, 'the WebSocket pushes off')
  t.match((await state()).preview, { level: 'off' })
  const flvOff = await rawRequest(base, '/live/cam.flv')
  t.equal(flvOff.status, 503, 'live video refused at off')
  t.match((flvOff.json() as ErrorReply).error, { code: 'UNAVAILABLE', message: /^live video is off: the rig is at resource level CRITICAL \(disk .*\); this does not affect the recording$/ })
  const stillOff = await rawRequest(base, '/live/still.jpg')
  t.equal(stillOff.status, 503, 'the still is refused at off too')
  t.match((stillOff.json() as ErrorReply).error, { code: 'UNAVAILABLE', message: /^live video is off/ })

  // The level is the rig's, not the web server's: a restarted web still refuses.
  const webRestart = await r.cmd('supervisor', 'restart', { child: 'web' })
  t.ok(webRestart.ok, 'web restarted')
  await r.ready(['web'], 20000)
  await waitFor(async () => (await rawRequest(base, '/health').catch(() => null))?.status === 200, 10000, 'web back')
  t.equal((await rawRequest(base, '/live/cam.flv')).status, 503, 'after a web restart the video is still refused at off')

  // ---------------------------------------------------------------- back to NORMAL → full
  await governTo(r, config, 'NORMAL')
  t.match((await state()).preview, { level: 'full', reason: 'resource level NORMAL' }, 'a new governor that finds the rig NORMAL gives the video back')
  const again = await openStream(base)
  t.teardown(() => again.close())
  t.equal(again.first.subarray(0, 3).toString('latin1'), 'FLV', 'back at full /live/cam.flv streams again')
  again.close()
  t.equal((await getBytes(base, '/live/still.jpg')).status, 200, 'and the still is served')
})
