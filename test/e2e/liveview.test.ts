import t from 'tap'
import { mkdir, readFile, readdir } from 'node:fs/promises'
import { join } from 'node:path'
import type { Page, WebSocketRoute } from 'playwright-core'
import { startTestRig, type TestRig } from '../helpers/rig.js'
import { chromiumSkip, openBrowser } from '../helpers/browser.js'
import { waitFor } from '../helpers/wait.js'

/**
 * The whole rig (nats-server, media server, camera ffmpeg, recorder ffmpeg, web)
 * in real headless Chromium: the live video plays (HTTP-FLV through mpegts.js),
 * actor states are shown, the record buttons drive the real recorder, and after
 * the web actor restarts the page reconnects and resyncs to the true state.
 * Screenshots land in test-artifacts/e2e/.
 */

const ARTIFACTS = join(process.cwd(), 'test-artifacts', 'e2e')

interface RecStatus {
  state: string
  session: null | { id: string; name: string; dir: string; startedAt: string; bytes: number; segments: number }
}

async function recStatus(rig: TestRig): Promise<RecStatus | null> {
  const r = await rig.cmd<RecStatus>('recorder', 'status', {}, { timeoutMs: 3000 })
  return r.ok ? r.result : null
}

/** The bits of HTMLVideoElement read here (the project's tsconfig has no DOM lib). */
interface VideoEl {
  currentTime: number
  paused: boolean
  readyState: number
  videoWidth: number
  videoHeight: number
}
const video = <T>(page: Page, read: (v: VideoEl) => T): Promise<T> => page.getByTestId('live-video').evaluate((el, fn) => (0, eval)(fn)(el), read.toString()) as Promise<T>
const videoTime = (page: Page) => video(page, (v) => v.currentTime)

/** Screenshot once the video has a frame to show and is not buffering (no spinner over it). */
async function shot(page: Page, file: string): Promise<void> {
  await waitFor(
    () => video(page, (v) => !v.paused && v.readyState >= 3 && v.videoWidth > 0),
    10000,
    `the video is playing before ${file}`,
    100,
  )
  await page.screenshot({ path: join(ARTIFACTS, file), fullPage: true })
}

t.test('the live view end to end in Chromium', { skip: chromiumSkip }, async (t) => {
  await mkdir(ARTIFACTS, { recursive: true })
  const rig = await startTestRig(t, {
    node: 'e2e',
    configure: (c) => {
      c.camera.width = 320
      c.camera.height = 240
    },
  })
  await rig.ready(undefined, 60000)
  const base = `http://127.0.0.1:${rig.rig.ports.web}`
  t.comment(`web ${base}, media port ${rig.rig.ports.flv} (not for the page)`)

  const { page, pageErrors, consoleProblems } = await openBrowser(t)

  // Every page WebSocket goes through this route so the test can keep the page
  // off the server for a while (see the restart below); otherwise it is a
  // transparent pass-through to the real server.
  let holdOff = false
  const sockets: Array<{ sent: string[]; received: string[]; openedAt: number; passedThrough: boolean }> = []
  await page.routeWebSocket(/\/api\/v1\/ws$/, (ws: WebSocketRoute) => {
    const rec = { sent: [] as string[], received: [] as string[], openedAt: Date.now(), passedThrough: !holdOff }
    sockets.push(rec)
    if (holdOff) {
      // The server is "not reachable" for this attempt: close it at once.
      ws.close({ code: 1013, reason: 'held off by the test' })
      return
    }
    const server = ws.connectToServer()
    ws.onMessage((m) => {
      rec.sent.push(String(m))
      server.send(m)
    })
    server.onMessage((m) => {
      rec.received.push(String(m))
      ws.send(m)
    })
    ws.onClose((code, reason) => server.close({ code, reason }))
    server.onClose((code, reason) => ws.close({ code, reason }))
  })

  // The video comes from the web origin (DESIGN.md §9.1): every FLV request the page makes
  // is /live/cam.flv on the web server, and no URL parameter picks another source.
  const videoRequests: string[] = []
  page.on('request', (req) => {
    if (new URL(req.url()).pathname.endsWith('.flv')) videoRequests.push(req.url())
  })
  await page.goto(`${base}/?flv=${encodeURIComponent(`http://127.0.0.1:${rig.rig.ports.flv}/live/cam.flv`)}`)
  await page.locator('[data-testid="ws-status"][data-status="open"]').waitFor({ timeout: 15000 })

  // ---------------------------------------------------------------- (1) video
  const codecs = await page.evaluate(() => {
    type Win = { MediaSource: { isTypeSupported(type: string): boolean }; mpegts?: { getFeatureList(): Record<string, boolean> } }
    const w = globalThis as unknown as Win
    return {
      h264: w.MediaSource.isTypeSupported('video/mp4; codecs="avc1.42E01E"'),
      h264High: w.MediaSource.isTypeSupported('video/mp4; codecs="avc1.64001E"'),
      mpegts: w.mpegts?.getFeatureList() ?? null,
    }
  })
  t.comment(`MSE H.264 baseline: ${codecs.h264}, high: ${codecs.h264High}; mpegts.js features: ${JSON.stringify(codecs.mpegts)}`)
  t.ok(codecs.h264, 'this Chromium plays H.264 through Media Source Extensions')

  const videoStatus = () => page.getByTestId('video-status').textContent()
  try {
    await waitFor(async () => (await videoTime(page)) > 0.5, 30000, 'the video element starts playing', 250)
  } catch (err) {
    t.comment(`video-status: ${await videoStatus()}; console: ${consoleProblems.join(' | ')}`)
    throw err
  }
  const t0 = await videoTime(page)
  const wall0 = Date.now()
  await new Promise((r) => setTimeout(r, 3000))
  const t1 = await videoTime(page)
  const wallS = (Date.now() - wall0) / 1000
  t.comment(`currentTime ${t0.toFixed(2)} → ${t1.toFixed(2)} over ${wallS.toFixed(1)} s of wall time`)
  // Measured 3.21 s in 3.0 s in CI: a third of that still says it plays (a frozen video
  // advances by 0), and a loaded machine that stutters playback is not a failure.
  t.ok(t1 - t0 > 1, `the video's time advances (${(t1 - t0).toFixed(2)} s in ${wallS.toFixed(1)} s)`)
  const dims = await video(page, (v) => ({ w: v.videoWidth, h: v.videoHeight, paused: v.paused }))
  t.same(dims, { w: 320, h: 240, paused: false }, 'the 320x240 camera stream is playing')
  await waitFor(async () => (await videoStatus()) === 'live', 10000, 'the page says the video is live', 250)
  t.ok(videoRequests.length > 0, `the page fetched the video (${videoRequests.length} request(s))`)
  t.same([...new Set(videoRequests)], [`${base}/live/cam.flv`], 'only from the web origin: /live/cam.flv, whatever ?flv= says')
  await shot(page, 'liveview-video-playing.png')

  // ---------------------------------------------------------------- (2) actor states
  await page.locator('[data-testid="actor-state-camera"]', { hasText: 'streaming' }).waitFor({ timeout: 10000 })
  await page.locator('[data-testid="actor-state-recorder"]', { hasText: 'idle' }).waitFor({ timeout: 10000 })
  t.equal(await page.getByTestId('actor-state-camera').textContent(), 'streaming', 'camera: streaming')
  t.equal(await page.getByTestId('actor-state-recorder').textContent(), 'idle', 'recorder: idle')
  t.equal(await page.getByTestId('record-status').getAttribute('data-state'), 'idle')
  for (const id of ['media', 'web']) t.equal(await page.getByTestId(`actor-state-${id}`).count(), 1, `${id} is listed`)

  // ---------------------------------------------------------------- (3) record with the buttons
  await page.getByTestId('record-name').fill('e2e')
  await page.getByTestId('record-start').click()
  await page.locator('[data-testid="record-status"][data-state="recording"]').waitFor({ timeout: 15000 })
  await page.locator('[data-testid="actor-state-recorder"]', { hasText: 'recording' }).waitFor({ timeout: 15000 })
  t.pass('the page shows the recorder recording')
  const recording = await recStatus(rig)
  t.equal(recording?.state, 'recording', 'recorder.status over NATS says recording')
  t.equal(recording?.session?.name, 'e2e', 'with the name typed in the page')
  const sessionDir = recording!.session!.dir
  // A session with no media is removed at stop; let a segment's worth flow first.
  await waitFor(async () => ((await recStatus(rig))?.session?.bytes ?? 0) > 0, 30000, 'recorded bytes', 250)
  t.equal(await page.getByTestId('record-error').isHidden(), true, 'no error shown')
  await shot(page, 'liveview-recording.png')

  await page.getByTestId('record-stop').click()
  await page.locator('[data-testid="record-status"][data-state="idle"]').waitFor({ timeout: 20000 })
  await page.locator('[data-testid="actor-state-recorder"]', { hasText: 'idle' }).waitFor({ timeout: 10000 })
  t.equal((await recStatus(rig))?.state, 'idle', 'recorder.status over NATS says idle')
  const session = JSON.parse(await readFile(join(sessionDir, 'session.json'), 'utf8')) as { id: string; name: string; state: string; segments: Array<{ file: string; bytes: number }> }
  t.equal(session.state, 'finalized', 'the session on disk is finalized')
  t.equal(session.name, 'e2e')
  t.ok(session.segments.length >= 1 && session.segments.every((s) => s.bytes > 0), `with ${session.segments.length} non-empty segment(s)`)
  const files = await readdir(sessionDir)
  t.ok(session.segments.every((s) => files.includes(s.file)), 'every listed segment file exists')
  t.equal(await page.getByTestId('record-error').isHidden(), true, 'still no error shown')

  // ---------------------------------------------------------------- (4) web restart → reconnect → resync
  // Keep the page off the server from the restart until a recording has started
  // over NATS, so the only way the page can learn of it is the resync.
  const before = (await rig.child('web')).restarts
  const socketsBefore = sockets.length
  holdOff = true
  const restart = await rig.cmd('supervisor', 'restart', { child: 'web' })
  t.ok(restart.ok, 'supervisor.restart{child: web} accepted')
  await page.locator('[data-testid="ws-status"][data-status="reconnecting"]').waitFor({ timeout: 10000 })
  t.pass('the page noticed the server went away')
  await waitFor(async () => {
    const c = await rig.child('web').catch(() => null)
    return c !== null && c.restarts > before && c.status === 'running'
  }, 20000, 'web restarted and running', 200)
  await waitFor(async () => (await fetch(`${base}/health`).catch(() => null))?.status === 200, 10000, 'web listening again')

  const started = await rig.cmd<{ id: string; dir: string }>('recorder', 'start', { name: 'while-away' })
  t.ok(started.ok, 'a recording started over NATS while the page is away')
  await waitFor(async () => (await recStatus(rig))?.state === 'recording', 15000, 'recorder recording', 200)
  t.equal(await page.getByTestId('record-status').getAttribute('data-state'), 'idle', 'the page, still away, shows the stale idle')
  // The page keeps retrying (0.5 s, 1 s, … backoff) while held off.
  await waitFor(() => sockets.length > socketsBefore, 10000, 'a reconnect attempt while held off', 100)
  t.ok(sockets.slice(socketsBefore).every((s) => !s.passedThrough), `the page kept trying to reconnect and was held off (${sockets.length - socketsBefore} attempt(s))`)
  t.equal(await page.getByTestId('record-status').getAttribute('data-state'), 'idle', 'and still shows the stale idle')

  holdOff = false
  const firstThrough = sockets.length
  await page.locator('[data-testid="ws-status"][data-status="open"]').waitFor({ timeout: 20000 })
  await page.locator('[data-testid="record-status"][data-state="recording"]').waitFor({ timeout: 10000 })
  await page.locator('[data-testid="actor-state-recorder"]', { hasText: 'recording' }).waitFor({ timeout: 10000 })
  t.pass('after the restart the page reconnected and shows recording')
  const live = sockets.slice(firstThrough).find((s) => s.passedThrough && s.received.length > 0)
  t.ok(live, 'a reconnect reached the restarted server')
  t.ok(live?.sent.some((m) => JSON.parse(m).type === 'sync_request'), 'the page sent sync_request after reconnecting')
  const syncs = (live?.received ?? []).map((m) => JSON.parse(m) as { type: string; state?: { children: Array<{ id: string; state: string }> } }).filter((m) => m.type === 'sync_response')
  t.ok(syncs.length >= 1, `the server answered with sync_response (${syncs.length})`)
  t.equal(syncs[0]?.state?.children.find((c) => c.id === 'recorder')?.state, 'recording', 'the first sync already carried recording: the resync, not a live item, brought it')
  t.equal(await page.getByTestId('actor-state-web').textContent(), 'listening', 'web: listening')
  t.equal(await page.getByTestId('actor-state-camera').textContent(), 'streaming', 'camera: streaming')
  // The video keeps going across the web restart (the media server did not move).
  const v0 = await videoTime(page)
  await waitFor(async () => (await videoTime(page)) > v0 + 1, 10000, 'the video still advances after the resync', 250)
  await shot(page, 'liveview-after-resync.png')

  const stopped = await rig.cmd<{ state: string }>('recorder', 'stop', {}, { timeoutMs: 20000 })
  t.ok(stopped.ok, 'the second recording stops')
  await page.locator('[data-testid="record-status"][data-state="idle"]').waitFor({ timeout: 10000 })

  t.same(pageErrors, [], 'no uncaught errors in the page')
  if (consoleProblems.length) t.comment(`page console: ${consoleProblems.join(' | ')}`)
})
