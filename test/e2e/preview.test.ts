import t from 'tap'
import { mkdir } from 'node:fs/promises'
import { join } from 'node:path'
import type { Page } from 'playwright-core'
import type { Config } from '../../infra/config/schema.js'
import { startTestRig } from '../helpers/rig.js'
import { governTo } from '../helpers/governor.js'
import { chromiumSkip, openBrowser } from '../helpers/browser.js'
import { waitFor } from '../helpers/wait.js'

/**
 * DESIGN.md §9.3 "Preview degradation is real", the page side, on a whole rig in real
 * Chromium at phone size (375×812). The governor is moved for real (disk thresholds around
 * the real free space, test/helpers/governor.ts):
 * - full: the mpegts.js player plays /live/cam.flv.
 * - DEGRADE (low): the player is gone, an <img data-testid="live-still"> shows a new still
 *   each second, and a message says the video is reduced, why, and that recording goes on.
 * - CRITICAL (off): neither video nor still, the message says live video is off and why.
 * - NORMAL: the player plays again.
 * Screenshots land in test-artifacts/e2e/ (preview-phone-low.png, preview-phone-off.png).
 */

const ARTIFACTS = join(process.cwd(), 'test-artifacts', 'e2e')
const PHONE = { width: 375, height: 812 }

/** The bits of the DOM elements read here (the project's tsconfig has no DOM lib). */
interface MediaEl {
  currentTime: number
  src: string
  naturalWidth: number
  hidden: boolean
}
const read = <T>(page: Page, testId: string, fn: (el: MediaEl) => T): Promise<T> =>
  page.getByTestId(testId).evaluate((el, f) => (0, eval)(f)(el), fn.toString()) as Promise<T>
const videoTime = (page: Page) => read(page, 'live-video', (v) => v.currentTime)
const still = (page: Page) => read(page, 'live-still', (i) => ({ src: i.src, naturalWidth: i.naturalWidth, hidden: i.hidden }))
const noSideScroll = (page: Page) =>
  page.evaluate('({ scroll: document.documentElement.scrollWidth, client: document.documentElement.clientWidth })') as Promise<{ scroll: number; client: number }>

t.test('the page follows the preview level: video, a still per second, a message', { skip: chromiumSkip }, async (t) => {
  await mkdir(ARTIFACTS, { recursive: true })
  let config!: Config
  const rig = await startTestRig(t, {
    node: 'nursery',
    configure: (c) => {
      config = c
      c.governor.sampleMs = 300
      c.governor.diskBytes = { warn: 0, degrade: 0, critical: 0 }
    },
  })
  await rig.ready(undefined, 60000)
  const base = `http://127.0.0.1:${rig.rig.ports.web}`
  const { page, pageErrors, consoleProblems } = await openBrowser(t, { viewport: PHONE })
  const requests: Array<{ path: string; at: number }> = []
  page.on('request', (req) => {
    const path = new URL(req.url()).pathname
    if (path.startsWith('/live/')) requests.push({ path, at: Date.now() })
  })
  await page.goto(base)
  await page.locator('[data-testid="ws-status"][data-status="open"]').waitFor({ timeout: 15000 })

  // ---------------------------------------------------------------- full
  await waitFor(async () => (await videoTime(page)) > 0.5, 30000, 'the video plays at full', 250)
  t.ok(await page.getByTestId('live-video').isVisible(), 'full: the video is shown')
  t.ok(await page.getByTestId('preview-message').isHidden(), 'full: no message')
  t.ok(await page.getByTestId('live-still').isHidden(), 'full: no still')

  // ---------------------------------------------------------------- DEGRADE → low
  const rec = await rig.cmd('recorder', 'start', { name: 'nap' })
  t.ok(rec.ok, 'a recording runs')
  await page.locator('[data-testid="record-status"][data-state="recording"]').waitFor({ timeout: 15000 })
  await governTo(rig, config, 'DEGRADE')
  const lowAt = Date.now()
  const message = page.getByTestId('preview-message')
  await page.locator('[data-testid="preview-message"][data-level="low"]').waitFor({ state: 'visible', timeout: 10000 })
  const lowText = (await message.textContent()) ?? ''
  t.match(lowText, /Live video is reduced to one still per second/, 'low: the message says the video is reduced')
  t.match(lowText, /resource level DEGRADE \(disk [0-9.]+ GiB free\)/, 'and why (the level and its cause)')
  t.match(lowText, /Recording goes on\./, 'and that the recording goes on')
  t.ok(await page.getByTestId('live-video').isHidden(), 'low: the video is hidden')
  await page.getByTestId('live-still').waitFor({ state: 'visible', timeout: 10000 })
  const s1 = await still(page)
  t.ok(s1.naturalWidth > 0, `low: the still shows a picture (${s1.naturalWidth} px wide)`)
  await waitFor(async () => (await still(page)).src !== s1.src, 5000, 'the still is replaced', 100)
  const s2 = await still(page)
  t.ok(s2.naturalWidth > 0, 'the next still shows a picture too')
  // Over 3 s: about one still a second, never a pile of them.
  const from = Date.now()
  await new Promise((r) => setTimeout(r, 3000))
  const stills = requests.filter((r) => r.path === '/live/still.jpg' && r.at >= from).length
  t.ok(stills >= 2 && stills <= 4, `about one still per second (${stills} in 3 s)`)
  const flvAfter = requests.filter((r) => r.path === '/live/cam.flv' && r.at > lowAt + 500).length
  t.equal(flvAfter, 0, 'at low the page no longer asks for the video stream')
  const scroll = await noSideScroll(page)
  t.ok(scroll.scroll <= scroll.client, `no sideways scroll on a phone (${scroll.scroll} ≤ ${scroll.client})`)
  await page.screenshot({ path: join(ARTIFACTS, 'preview-phone-low.png'), fullPage: true })

  // ---------------------------------------------------------------- CRITICAL → off
  // The disk at CRITICAL also stops the recording (the governor's rule): the page says so.
  await governTo(rig, config, 'CRITICAL')
  await page.locator('[data-testid="preview-message"][data-level="off"]').waitFor({ state: 'visible', timeout: 10000 })
  await page.locator('[data-testid="record-status"][data-state="idle"]').waitFor({ timeout: 20000 })
  const offText = (await message.textContent()) ?? ''
  t.match(offText, /Live video is off/, 'off: the message says live video is off')
  t.match(offText, /resource level CRITICAL \(disk [0-9.]+ GiB free\)/, 'and why')
  t.match(offText, /The recorder is idle\./, 'and, truthfully, that nothing records now (the full disk stopped it)')
  t.ok(await page.getByTestId('live-video').isHidden(), 'off: no video')
  t.ok(await page.getByTestId('live-still').isHidden(), 'off: no still')
  const offFrom = Date.now()
  await new Promise((r) => setTimeout(r, 2500))
  t.equal(requests.filter((r) => r.at >= offFrom).length, 0, 'off: the page asks for neither video nor stills')
  await page.screenshot({ path: join(ARTIFACTS, 'preview-phone-off.png'), fullPage: true })

  // ---------------------------------------------------------------- NORMAL → full
  await governTo(rig, config, 'NORMAL')
  await page.getByTestId('preview-message').waitFor({ state: 'hidden', timeout: 10000 })
  await page.getByTestId('live-video').waitFor({ state: 'visible', timeout: 10000 })
  const v0 = await videoTime(page)
  await waitFor(async () => (await videoTime(page)) > v0 + 1, 30000, 'the player plays again at full', 250)
  t.pass('back at full the video plays again')
  t.ok(await page.getByTestId('live-still').isHidden(), 'and the still is gone')

  t.same(pageErrors, [], 'no uncaught errors in the page')
  // The 503s a refused stream or still may draw while the level changes under the page are expected.
  if (consoleProblems.length) t.comment(`page console: ${consoleProblems.join(' | ')}`)
})
