/**
 * Issue 13, DESIGN.md §9.1 "Live video only through the web origin", on a whole rig:
 *  - only the camera may publish live/cam, also in the moment right after `camera.restart`:
 *    a stranger's publisher (no signature, a forged one, an expired one) looping on live/cam
 *    for 5 s from the restart on is never accepted; the camera streams afterwards and the
 *    recorder goes on reading the camera's stream;
 *  - the page's video is `GET /live/cam.flv` on the web server (FLV bytes), while the media
 *    port itself gives nothing without the rig's signature;
 *  - that proxied stream ends when the media server goes away.
 * Before the fix a foreign publisher took live/cam within 381 ms of the restart and the
 * camera's push was refused ("already has a publisher").
 */
import t from 'tap'
import { spawn, type ChildProcess } from 'node:child_process'
import { request, type IncomingMessage } from 'node:http'
import { randomBytes } from 'node:crypto'
import { startTestRig, type TestRig } from '../helpers/rig.js'
import { captureMediaLog } from '../helpers/media.js'
import { isAlive, waitFor } from '../helpers/wait.js'
import { camStatusOrNull, must, recStatus, stopRecording, waitBytes, waitCameraStreaming, type SessionSummary } from '../integration/pipeline/common.js'
import { flvUrl, rtmpUrl, signedFlvUrl, streamPath } from '../../actors/media/urls.js'

const FFMPEG = process.env.FFMPEG_PATH ?? 'ffmpeg'
const FLV_MAGIC = 'FLV'

function get(url: string, headers: Record<string, string> = {}): Promise<IncomingMessage> {
  return new Promise((resolve, reject) => {
    const req = request(url, { headers, agent: false, timeout: 15000 }, resolve)
    req.once('timeout', () => req.destroy(new Error('no answer')))
    req.once('error', reject)
    req.end()
  })
}

/** The first `n` bytes of a response (a live FLV never ends by itself). */
function firstBytes(res: IncomingMessage, n: number): Promise<Buffer> {
  return new Promise((resolve) => {
    const chunks: Buffer[] = []
    let size = 0
    const done = () => {
      res.destroy()
      resolve(Buffer.concat(chunks))
    }
    res.on('data', (c: Buffer) => {
      chunks.push(c)
      size += c.length
      if (size >= n) done()
    })
    res.on('end', done)
    res.on('error', done)
  })
}

/** A stranger on the same machine: publishes a tagged test picture to live/cam. */
function intruder(url: string, marker: string): ChildProcess {
  return spawn(
    FFMPEG,
    ['-hide_banner', '-loglevel', 'error', '-re', '-f', 'lavfi', '-i', 'testsrc=size=176x144:rate=15',
      '-c:v', 'libx264', '-preset', 'ultrafast', '-g', '15', '-metadata', `comment=${marker}`, '-f', 'flv', url],
    { stdio: 'ignore' },
  )
}

async function reap(p: ChildProcess): Promise<void> {
  if (p.exitCode !== null || p.signalCode !== null) return
  const exited = new Promise<void>((r) => p.once('exit', () => r()))
  p.kill('SIGKILL')
  await exited
}

/**
 * Reads live/cam as the rig's own recorder does (signed, from inside the rig) for as long
 * as it runs, reopening when the server ends a session: whatever any publisher put on
 * live/cam passes here, the stranger's tagged metadata included.
 */
function watchStream(r: TestRig, marker: string): { seen(): boolean; bytes(): number; stop(): void } {
  let seen = false
  let bytes = 0
  let stopped = false
  let current: IncomingMessage | null = null
  let tail = ''
  const open = () => {
    if (stopped) return
    get(signedFlvUrl({ httpPort: r.rig.ports.flv }, r.rig.mediaSigner)).then(
      (res) => {
        current = res
        res.on('data', (c: Buffer) => {
          bytes += c.length
          const text = tail + c.toString('latin1')
          if (text.includes(marker)) seen = true
          tail = text.slice(-marker.length)
        })
        res.on('close', () => setTimeout(open, 100))
        res.on('error', () => {})
      },
      () => setTimeout(open, 200),
    )
  }
  open()
  return {
    seen: () => seen,
    bytes: () => bytes,
    stop: () => {
      stopped = true
      current?.destroy()
    },
  }
}

let r: TestRig
const mediaLog = captureMediaLog()

t.before(async () => {
  r = await startTestRig(t, {
    node: 'mediaauth',
    log: mediaLog.log,
    configure: (c) => {
      c.recorder.segmentS = 2
    },
  })
  await r.ready(['media', 'camera', 'recorder', 'web'])
  await waitCameraStreaming(r)
})

t.test('GET /live/cam.flv on the web server plays the camera; the media port without a signature does not', async (t) => {
  const web = `http://127.0.0.1:${r.rig.ports.web}`
  let body: Buffer = Buffer.alloc(0)
  await waitFor(async () => {
    const res = await get(`${web}/live/cam.flv`)
    t.comment(`GET /live/cam.flv → ${res.statusCode} ${res.headers['content-type']}`)
    if (res.statusCode !== 200) {
      res.resume()
      return false
    }
    body = await firstBytes(res, 64 * 1024)
    return body.length >= 64 * 1024
  }, 30000, '64 KB of live video through the web server', 500)
  t.equal(body.subarray(0, 3).toString('latin1'), FLV_MAGIC, 'the web route serves FLV')
  t.notOk(body.toString('latin1').includes('sign='), 'the signed upstream URL does not show in the stream')

  const direct = await get(flvUrl({ httpPort: r.rig.ports.flv }))
  const directBody = await firstBytes(direct, 64 * 1024)
  t.equal(direct.statusCode, 403, 'the media port refuses an unsigned read')
  t.not(directBody.subarray(0, 3).toString('latin1'), FLV_MAGIC, 'no FLV from the media port')
  const foreign = await get(signedFlvUrl({ httpPort: r.rig.ports.flv }, r.rig.mediaSigner), { Origin: 'http://evil.example' })
  foreign.resume()
  t.equal(foreign.statusCode, 403, 'the media port refuses a web page even with a valid signature')

  // DNS rebinding on the live video: a page at evil.example re-pointed to this rig.
  const port = r.rig.ports.web
  const rebound = await get(`${web}/live/cam.flv`, { Host: `evil.example:${port}`, Origin: `http://evil.example:${port}` })
  const reboundBody = await firstBytes(rebound, 4096)
  t.equal(rebound.statusCode, 421, 'GET /live/cam.flv under a foreign Host is refused with 421')
  t.not(reboundBody.subarray(0, 3).toString('latin1'), FLV_MAGIC, 'and no video is sent')
})

t.test('a stranger publishing on live/cam from the moment of camera.restart is never accepted', async (t) => {
  const started = await must<SessionSummary>(r, 'recorder', 'start', { name: 'media-auth' })
  t.teardown(() => stopRecording(r).catch(() => {}))
  await waitBytes(r, 0, 30000)

  const marker = `vigil-intruder-${randomBytes(6).toString('hex')}`
  const watch = watchStream(r, marker)
  t.teardown(() => watch.stop())
  await waitFor(() => watch.bytes() > 0, 20000, 'the watcher reads live/cam')

  const path = streamPath()
  const base = rtmpUrl({ rtmpPort: r.rig.ports.rtmp })
  const attempts = [
    ['no signature', () => base],
    ['a forged signature', () => `${base}?sign=${Math.floor(Date.now() / 1000) + 60}-${randomBytes(16).toString('hex')}`],
    ['an expired signature', () => `${base}?sign=${r.rig.mediaSigner.sign(path, -5)}`],
  ] as const
  const camBefore = (await camStatusOrNull(r))!
  const refusedBefore = mediaLog.lines.filter((l) => /push \/live\/cam error/.test(l)).length

  const restart = r.cmd('camera', 'restart')
  const loopStart = Date.now()
  let tries = 0
  while (Date.now() - loopStart < 5000) {
    const [, url] = attempts[tries % attempts.length]!
    tries += 1
    const p = intruder(url(), marker)
    const exited = new Promise<void>((res) => p.once('exit', () => res()))
    await Promise.race([exited, new Promise((res) => setTimeout(res, Math.max(0, 5000 - (Date.now() - loopStart))))])
    await reap(p)
  }
  t.ok((await restart).ok, 'camera.restart answered')
  t.comment(`${tries} publish attempts in 5 s after camera.restart`)

  const cam = await waitCameraStreaming(r)
  t.not(cam.pids[0], camBefore.pids[0], 'the camera runs a new ffmpeg after the restart')
  // The recorder goes on reading: its session grows past what it had once the camera was back.
  const mid = await recStatus(r)
  await waitBytes(r, mid.session!.bytes, 30000, 'the recorder reads the camera again')
  const after = await recStatus(r)
  t.equal(after.session?.id, started.id, 'same recording session')
  const camAfter = (await camStatusOrNull(r))!
  t.equal(camAfter.state, 'streaming', 'camera streaming')
  t.same(camAfter.pids, cam.pids, 'and its push was never refused (no second restart)')

  const refused = mediaLog.lines.filter((l) => /push \/live\/cam error/.test(l)).slice(refusedBefore)
  t.ok(refused.length >= 1, `the media server refused the stranger's publishes (${refused.length}): ${refused[0] ?? ''}`)
  t.ok(refused.every((l) => /authentication verification failed/.test(l)), 'every refusal is for want of a signature, none for "already has a publisher"')
  t.notOk(mediaLog.lines.some((l) => /already has a publisher/.test(l)), 'the camera never found live/cam taken')
  t.notOk(watch.seen(), "not one byte of the stranger's stream reached a reader of live/cam")
})

t.test("a viewer who goes away ends the web server's read of the media server", async (t) => {
  const before = mediaLog.lines.length
  const startPlay = /FLV session (\S+) \S+ start play \/live\/cam\b/
  const res = await get(`http://127.0.0.1:${r.rig.ports.web}/live/cam.flv`)
  t.equal(res.statusCode, 200)
  // Reads 4 KB, then destroys the client socket: the viewer is gone.
  await firstBytes(res, 4096)
  let id: string | undefined
  await waitFor(() => {
    id = mediaLog.lines.slice(before).map((l) => startPlay.exec(l)?.[1]).find((x) => x !== undefined)
    return id !== undefined
  }, 10000, 'the proxy opened an FLV session on the media server')
  await mediaLog.waitForLine(new RegExp(`FLV session ${id} close`), 10000)
  t.pass(`the media server saw the proxy's session ${id} close`)
})

t.test('the proxied live video ends when the media server goes away', async (t) => {
  const res = await get(`http://127.0.0.1:${r.rig.ports.web}/live/cam.flv`)
  t.equal(res.statusCode, 200)
  let got = 0
  const ended = new Promise<void>((resolve) => {
    res.on('data', (c: Buffer) => (got += c.length))
    res.on('end', resolve)
    res.on('close', resolve)
    res.on('error', () => resolve())
  })
  await waitFor(() => got > 0, 20000, 'video flowing through the web server')
  const media = await r.child('media')
  const pid = media.pids[0]!
  process.kill(pid, 'SIGKILL')
  await waitFor(() => !isAlive(pid), 5000, 'media server gone')
  let done = false
  void ended.then(() => (done = true))
  await waitFor(() => done, 15000, 'the proxied response ended with the media server')
  t.pass('the web server ended the response')
  await r.ready(['media'], 60000)
})
