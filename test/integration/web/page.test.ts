import t from 'tap'
import { existsSync } from 'node:fs'
import { mkdir } from 'node:fs/promises'
import { join } from 'node:path'
import { chromium, type Browser, type Page } from 'playwright-core'
import { startWebRig } from '../../helpers/webRig.js'
import { waitFor } from '../../helpers/wait.js'

/**
 * The live view in real Chromium against a rig without camera or media: actor
 * states, alerts, the record buttons (progress, 409, 507 with the free space),
 * and the resync after the web server restarts. The video itself needs the
 * media server and is the e2e test's job (test/e2e/).
 */

const CHROMIUM = process.env['CHROMIUM_PATH'] ?? '/usr/bin/chromium'
const ARTIFACTS = join(process.cwd(), 'test-artifacts', 'web')

const skip = existsSync(CHROMIUM) ? false : `no Chromium at ${CHROMIUM} (set CHROMIUM_PATH)`

t.test('the live view', { skip }, async (t) => {
  await mkdir(ARTIFACTS, { recursive: true })
  const rig = await startWebRig({ backoffMs: 100 })
  t.teardown(() => rig.stop())
  const browser: Browser = await chromium.launch({ executablePath: CHROMIUM, args: ['--no-sandbox', '--autoplay-policy=no-user-gesture-required'] })
  t.teardown(() => browser.close())
  const page: Page = await browser.newPage({ viewport: { width: 1280, height: 800 } })
  const pageErrors: string[] = []
  page.on('pageerror', (err) => pageErrors.push(err.message))

  await page.goto(rig.baseUrl)
  await page.getByTestId('ws-status').and(page.locator('[data-status="open"]')).waitFor()
  t.equal(await page.getByTestId('node-name').textContent(), 'webtest')
  t.equal(await page.getByTestId('actor-state-camera').textContent(), 'streaming')
  t.equal(await page.getByTestId('actor-state-web').textContent(), 'listening')
  t.equal(await page.getByTestId('supervisor-state').getAttribute('data-state'), 'running')
  t.equal(await page.getByTestId('live-video').count(), 1)

  rig.feed.next({ type: 'state', actor: 'camera', state: 'stalled', at: new Date().toISOString(), details: {} })
  await page.locator('[data-testid="actor-state-camera"]', { hasText: 'stalled' }).waitFor()
  t.equal(await page.getByTestId('actor-state-camera').getAttribute('data-health'), 'trouble', 'and marked as trouble')

  rig.feed.next({ type: 'alert', alert: rig.alerts.add({ severity: 'critical', source: 'camera', code: 'camera.stalled', message: 'no frame for 2 s' }) })
  await page.locator('[data-testid="alert"][data-code="camera.stalled"]').waitFor()
  t.pass('a live alert is shown')

  rig.recorder.delayMs = 400
  await page.getByTestId('record-name').fill('nap')
  await page.getByTestId('record-start').click()
  await page.locator('[data-testid="record-status"][data-state="starting"]').waitFor()
  t.ok(await page.getByTestId('record-start').isDisabled(), 'buttons are disabled while the command runs')
  await waitFor(() => rig.recorder.session !== null, 5000, 'the recording started')
  t.equal(rig.recorder.session?.name, 'nap')
  t.ok(rig.recorder.session?.idempotencyKey, 'the page sends an idempotency key')
  await page.locator('[data-testid="record-start"]:enabled').waitFor()
  rig.recorder.delayMs = 0

  await page.getByTestId('record-start').click()
  await page.locator('[data-testid="record-error"]', { hasText: 'ALREADY_RECORDING' }).waitFor()
  t.pass('409 is shown')

  await page.getByTestId('record-stop').click()
  await waitFor(() => rig.recorder.session === null, 5000, 'the recording stopped')
  t.equal(await page.getByTestId('record-error').isHidden(), true, 'the error is cleared by the next success')

  rig.recorder.freeBytes = 512 * 1024 ** 2
  await page.getByTestId('record-start').click()
  const diskFull = page.locator('[data-testid="record-error"]', { hasText: 'Disk full' })
  await diskFull.waitFor()
  t.match(await diskFull.textContent(), /only 512\.0 MiB free \(recording needs 2\.0 GiB\)/, '507 shows the free space')
  await page.screenshot({ path: join(ARTIFACTS, 'live-view-disk-full.png'), fullPage: true })
  rig.recorder.freeBytes = 50 * 1024 ** 3

  // The web server restarts under the page: the socket drops, the page reconnects,
  // asks for a sync and shows the state as it is now, not as it was.
  const listens = rig.listens
  rig.supervisor.restart('web')
  await page.locator('[data-testid="ws-status"][data-status="reconnecting"]').waitFor()
  rig.alerts.add({ severity: 'warning', source: 'audio', code: 'audio.down', message: 'raised while the page was away' })
  await waitFor(() => rig.listens > listens, 10000, 'web restarted')
  await page.locator('[data-testid="ws-status"][data-status="open"]').waitFor({ timeout: 15000 })
  await page.locator('[data-testid="alert"][data-code="audio.down"]').waitFor()
  t.pass('after the restart the page resynced (an alert raised while away is shown)')
  t.equal(await page.getByTestId('actor-state-web').textContent(), 'listening')
  t.equal(await page.getByTestId('actor-state-camera').textContent(), 'streaming', 'the true state, not the stale live item')
  await page.screenshot({ path: join(ARTIFACTS, 'live-view-resynced.png'), fullPage: true })

  t.same(pageErrors, [], 'no uncaught errors in the page')
})
