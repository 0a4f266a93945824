import t from 'tap'
import { existsSync } from 'node:fs'
import { mkdir, mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join, resolve } from 'node:path'
import { chromium } from 'playwright-core'
import { TOKEN, startInspectRig } from './rig.js'

const CHROMIUM = process.env['CHROMIUM_PATH'] ?? '/usr/bin/chromium'
const ARTIFACTS = resolve('test-artifacts/inspect')

t.test('/inspect in Chromium: a diagram per actor, live highlight, restarts', { skip: existsSync(CHROMIUM) ? false : `no Chromium at ${CHROMIUM}` }, async (t) => {
  const rig = await startInspectRig()
  t.teardown(() => rig.stop())
  await mkdir(ARTIFACTS, { recursive: true })
  const userDataDir = await mkdtemp(join(tmpdir(), 'vigil-inspect-chromium-'))
  const context = await chromium.launchPersistentContext(userDataDir, {
    executablePath: CHROMIUM,
    headless: true,
    viewport: { width: 1400, height: 1000 },
    // The rig has a web token: the inspector is behind it like every read (login itself: test/e2e).
    extraHTTPHeaders: { Authorization: `Bearer ${TOKEN}` },
    args: ['--no-sandbox', '--disable-gpu', '--disable-dev-shm-usage', '--disable-background-networking'],
  })
  t.teardown(async () => {
    await context.close()
    await rm(userDataDir, { recursive: true, force: true })
  })
  const page = context.pages()[0] ?? (await context.newPage())
  const problems: string[] = []
  page.on('pageerror', (err) => problems.push(err.message))
  page.on('console', (msg) => {
    // A missing resource is reported below with its URL (the browser's own /favicon.ico is no problem).
    if ((msg.type() === 'error' || msg.type() === 'warning') && !msg.text().startsWith('Failed to load resource')) problems.push(msg.text())
  })
  page.on('response', (res) => {
    if (res.status() >= 400 && !res.url().endsWith('/favicon.ico')) problems.push(`${res.status()} ${res.url()}`)
  })
  // Nothing may come from outside the rig's own origin (no CDN).
  const foreign: string[] = []
  page.on('request', (req) => {
    if (!req.url().startsWith(rig.url(''))) foreign.push(req.url())
  })

  await page.goto(rig.url('/inspect'))
  for (const child of ['supervisor', 'camera', 'web']) {
    await page.getByTestId(`diagram-${child}`).waitFor({ timeout: 10000 })
  }
  const receiving = page.getByTestId('state-camera-capturing.streaming.receiving')
  await t.resolves(receiving.and(page.locator('.active')).waitFor({ timeout: 5000 }), 'camera streaming is highlighted')
  t.equal(await page.getByTestId('poll-status').textContent(), 'live')
  await page.getByTestId('machine-camera').click()
  await page.screenshot({ path: join(ARTIFACTS, 'inspect-streaming.png'), fullPage: true })
  t.match(await page.getByTestId('context-json').textContent(), /"framesSeen": 1/, 'clicking a machine shows its context')

  await rig.dieIntoBackoff()
  await t.resolves(page.locator('[data-testid="state-camera-reconnecting"].active').waitFor({ timeout: 5000 }), 'camera reconnecting is highlighted')
  t.equal(await receiving.evaluate((el) => el.classList.contains('active')), false, 'streaming is not any more')
  await t.resolves(
    page.getByTestId('timeline').locator('li[data-type="FFMPEG.EXITED"]', { hasText: 'reconnecting' }).first().waitFor({ timeout: 5000 }),
    'the timeline shows the exit and the state it led to',
  )
  await page.screenshot({ path: join(ARTIFACTS, 'inspect-reconnecting.png'), fullPage: true })

  rig.supervisor.restart('camera')
  await t.resolves(page.locator('[data-testid="restarts-of-camera"]', { hasText: 'restarts: 1' }).waitFor({ timeout: 5000 }), 'the restart count is shown')
  await t.resolves(receiving.and(page.locator('.active')).waitFor({ timeout: 5000 }), 'the new instance streams')
  t.match(await page.getByTestId('gen-of-camera').textContent(), /instance #2/)
  await page.screenshot({ path: join(ARTIFACTS, 'inspect-restarted.png'), fullPage: true })

  t.same(foreign, [], 'no request left the rig')
  t.same(problems, [], 'no page errors')
})
