import t from 'tap'
import { mkdir, stat } from 'node:fs/promises'
import { join } from 'node:path'
import type { Page } from 'playwright-core'
import { hashPassword } from '../../actors/web/security/passwords.js'
import { startTestRig, type TestRig } from '../helpers/rig.js'
import { chromiumSkip, openBrowser } from '../helpers/browser.js'
import { loginCookie, rawRequest } from '../helpers/webRig.js'
import { waitFor } from '../helpers/wait.js'

/**
 * DESIGN.md §9.2 "The person is told", the page side, on one whole rig (real camera
 * ffmpeg with testsrc2 and its noise bursts, motion, the audio meter, the recorder) in
 * real Chromium at 375×812 and 1280×800: motion and sound reach the events list within
 * seconds, a sound burst makes a browser notification, the list survives a reload (from
 * GET /api/v1/events), nothing scrolls sideways on a phone, a recording plays in the
 * recordings page and an operator deletes it while a viewer is refused.
 * Screenshots land in test-artifacts/e2e/.
 */

const ARTIFACTS = join(process.cwd(), 'test-artifacts', 'e2e')
const VIEWER = { name: 'grandma', password: 'correct horse battery staple' }
const OPERATOR = { name: 'parent', password: 'another long passphrase 42' }
const PHONE = { width: 375, height: 812 }
const DESKTOP = { width: 1280, height: 800 }

interface RecStatus {
  state: string
  session: null | { id: string; dir: string; bytes: number; segments: number }
}

interface SeenRow {
  id: string
  kind: string
  at: string
  seenAt: number
}

async function recStatus(rig: TestRig): Promise<RecStatus | null> {
  const r = await rig.cmd<RecStatus>('recorder', 'status', {}, { timeoutMs: 3000 })
  return r.ok ? r.result : null
}

const exists = (p: string) => stat(p).then(() => true, () => false)

/** Rows the page showed, with when each id first appeared (the init script's observer). */
const seenRows = (page: Page) => page.evaluate('window.__rows || []') as Promise<SeenRow[]>
const notifications = (page: Page) => page.evaluate('window.__notifications || []') as Promise<Array<{ title: string; body: string }>>
const noSideScroll = (page: Page) =>
  page.evaluate('({ scroll: document.documentElement.scrollWidth, client: document.documentElement.clientWidth })') as Promise<{ scroll: number; client: number }>
const rowIds = (page: Page) => page.locator('[data-testid="events"] li').evaluateAll((els) => els.map((el) => (el as unknown as { dataset: { id: string } }).dataset.id))

t.test('the person is told: events, notifications, recordings, on a phone and a desktop', { skip: chromiumSkip }, async (t) => {
  await mkdir(ARTIFACTS, { recursive: true })
  const users = [
    { name: VIEWER.name, passwordHash: await hashPassword(VIEWER.password), role: 'viewer' as const },
    { name: OPERATOR.name, passwordHash: await hashPassword(OPERATOR.password), role: 'operator' as const },
  ]
  const rig = await startTestRig(t, {
    node: 'nursery',
    configure: (c) => {
      c.web.users = users
      // testsrc2 moves all the time: motion after 3 frames, again 3 s after each cooldown.
      c.motion.cooldownMs = 3000
      // The synthetic sound has a 0.6 s burst every 10 s (about -11 dBFS over a -43 dBFS tone).
      c.audio.cooldownMs = 1000
      // Short segments: the page plays a session's segments one after another.
      c.recorder.segmentS = 2
    },
  })
  const startedAt = Date.now()
  await rig.ready(undefined, 60000)
  t.comment(`rig ready in ${((Date.now() - startedAt) / 1000).toFixed(1)} s`)
  const base = `http://127.0.0.1:${rig.rig.ports.web}`

  const { page, context, pageErrors, consoleProblems } = await openBrowser(t, { viewport: PHONE })
  await context.grantPermissions(['notifications'], { origin: base })
  // Records every Notification the page makes, and still makes the real one.
  // (A string: the project's tsconfig has no DOM lib.)
  await context.addInitScript({
    content: `
      (() => {
        const made = []
        window.__notifications = made
        window.Notification = new Proxy(window.Notification, {
          construct(target, args) {
            made.push({ title: args[0], body: (args[1] && args[1].body) || '', at: Date.now() })
            return Reflect.construct(target, args)
          },
        })
        // When each event row first appeared (the list re-renders; an id counts once).
        const rows = []
        window.__rows = rows
        const seen = new Set()
        document.addEventListener('DOMContentLoaded', () => {
          const list = document.getElementById('events')
          if (!list) return
          new MutationObserver(() => {
            for (const li of list.querySelectorAll('li')) {
              const id = li.dataset.id
              if (seen.has(id)) continue
              seen.add(id)
              const time = li.querySelector('time')
              rows.push({ id, kind: li.dataset.kind, at: time ? time.dateTime : '', seenAt: Date.now() })
            }
          }).observe(list, { childList: true })
        })
      })()
    `,
  })

  // ---------------------------------------------------------------- log in as the operator
  await page.goto(`${base}/`)
  await page.waitForURL(/\/login$/)
  await page.getByTestId('login-user').fill(OPERATOR.name)
  await page.getByTestId('login-password').fill(OPERATOR.password)
  await page.getByTestId('login-submit').click()
  await page.waitForURL(`${base}/`)
  await page.locator('[data-testid="ws-status"][data-status="open"]').waitFor({ timeout: 15000 })
  const pageOpenedAt = Date.now()

  await page.getByTestId('notify-toggle').click()
  await page.locator('[data-testid="notify-toggle"][data-enabled="true"]').waitFor({ timeout: 5000 })
  t.pass('notifications opted into (permission granted by the test)')

  // A recording runs while the events come in: the recordings page plays it later.
  await page.getByTestId('record-name').fill('nap')
  await page.getByTestId('record-start').click()
  await page.locator('[data-testid="record-status"][data-state="recording"]').waitFor({ timeout: 15000 })

  // ---------------------------------------------------------------- (1) events at 375×812
  // Sound bursts come every 10 s of stream time: 30 s covers three; motion comes within a second or two.
  const liveRow = async (kind: string, after: number) => (await seenRows(page)).find((r) => r.kind === kind && Date.parse(r.at) >= after)
  await waitFor(async () => (await liveRow('motion', pageOpenedAt - 1000)) !== undefined, 30000, 'a motion row', 100)
  await waitFor(async () => (await liveRow('sound', pageOpenedAt - 1000)) !== undefined, 30000, 'a sound row', 100)
  const lag = (r: SeenRow) => r.seenAt - Date.parse(r.at)
  const phoneRows = (await seenRows(page)).filter((r) => Date.parse(r.at) >= pageOpenedAt - 1000)
  for (const r of phoneRows) t.comment(`${r.kind} at ${r.at}: in the list ${lag(r)} ms later`)
  for (const kind of ['motion', 'sound']) {
    const first = phoneRows.find((r) => r.kind === kind)!
    t.ok(lag(first) < 5000, `${kind} appears in the events list within seconds of happening (${lag(first)} ms)`)
  }
  t.ok(await page.locator('[data-testid="events"] li[data-kind="sound"] .detail', { hasText: /dBFS/ }).first().isVisible(), 'a sound row shows its level')
  t.ok(await page.locator('[data-testid="events"] li[data-kind="motion"] .detail', { hasText: /score 0\.\d+/ }).first().isVisible(), 'a motion row shows its score')

  // The snapshot follows its motion: a thumbnail served through /snapshots/ (authenticated).
  await waitFor(
    () => page.locator('[data-testid="events"] li[data-kind="motion"] img.thumb').evaluateAll((els) => els.some((el) => (el as unknown as { naturalWidth: number }).naturalWidth > 0)),
    15000,
    'a motion thumbnail loaded',
    100,
  )
  t.match(await page.locator('[data-testid="events"] li[data-kind="motion"] img.thumb').first().getAttribute('src'), /^\/snapshots\/snap-\d{8}T\d{9}Z-\d+\.jpg$/, 'the motion row shows its snapshot')

  // ---------------------------------------------------------------- (2) a notification on a sound burst
  await waitFor(async () => (await notifications(page)).some((n) => n.title.startsWith('Sound')), 30000, 'a sound notification', 100)
  const notes = await notifications(page)
  t.comment(`notifications: ${notes.map((n) => `${n.title} (${n.body})`).join(' | ')}`)
  t.ok(notes.some((n) => n.title === 'Sound at nursery' && /dBFS/.test(n.body)), 'a notification was created for the sound burst, while the page is in view')
  t.ok(await page.getByTestId('notify-status').isHidden(), 'no notification failure shown')

  // ---------------------------------------------------------------- (3) unmute, level meter
  await page.getByTestId('unmute').click()
  t.equal(await page.getByTestId('live-video').evaluate((v) => (v as unknown as { muted: boolean }).muted), false, 'unmuted')
  await waitFor(async () => (await page.getByTestId('level-meter').getAttribute('data-db')) !== null, 10000, 'the level meter runs', 100)
  t.comment(`level meter: ${await page.getByTestId('level-text').textContent()}`)
  t.pass('the level meter follows the sound')

  // ---------------------------------------------------------------- (4) phone layout
  const phoneScroll = await noSideScroll(page)
  t.ok(phoneScroll.scroll <= phoneScroll.client, `no horizontal scroll at 375 px (scrollWidth ${phoneScroll.scroll} ≤ clientWidth ${phoneScroll.client})`)
  await page.screenshot({ path: join(ARTIFACTS, 'told-phone-live.png'), fullPage: true })

  // ---------------------------------------------------------------- (5) the list survives a reload
  const before = await rowIds(page)
  t.ok(before.length >= 2, `${before.length} rows before the reload`)
  await page.reload()
  await page.locator('[data-testid="ws-status"][data-status="open"]').waitFor({ timeout: 15000 })
  await waitFor(async () => (await rowIds(page)).length >= before.length, 10000, 'rows after the reload', 100)
  const after = await rowIds(page)
  t.ok(before.every((id) => after.includes(id)), 'every row from before the reload is listed again (from GET /api/v1/events)')
  const api = (await page.evaluate(`fetch('/api/v1/events?limit=200').then((r) => r.json())`)) as { events: Array<{ id: string; kind: string; at: string }> }
  t.ok(before.every((id) => api.events.some((e) => e.id === id)), 'the rig keeps them')
  t.ok(api.events.every((e, i) => i === 0 || e.at <= api.events[i - 1]!.at), 'newest first')
  t.equal(await page.locator('[data-testid="notify-toggle"][data-enabled="true"]').count(), 1, 'the opt-in is remembered')

  // ---------------------------------------------------------------- (6) the recording
  await waitFor(async () => ((await recStatus(rig))?.session?.segments ?? 0) >= 3, 30000, 'three segments recorded', 250)
  const session = (await recStatus(rig))!.session!
  await page.getByTestId('record-stop').click()
  await page.locator('[data-testid="record-status"][data-state="idle"]').waitFor({ timeout: 20000 })

  // ---------------------------------------------------------------- (7) the recordings page at 375×812
  await page.goto(`${base}/recordings`)
  const row = page.locator(`[data-session="${session.id}"]`)
  await row.waitFor({ timeout: 10000 })
  t.equal(await row.getByTestId('state').textContent(), 'finalized', 'the row says finalized')
  t.match(await row.getByTestId('trigger').textContent(), /^manual( at |$)/, 'started by hand: trigger manual (with its time)')
  t.match(await row.getByTestId('duration').textContent(), /\d+ s|min/, 'with its duration')
  t.match(await row.getByTestId('size').textContent(), /(KiB|MiB) in \d+ segments?/, 'and its size')
  t.equal(await row.getByTestId('gaps').textContent(), 'none')
  await row.getByTestId('play').click()
  const player = page.getByTestId('player')
  const playerTime = () => player.evaluate((v) => (v as unknown as { currentTime: number }).currentTime)
  await waitFor(async () => (await playerTime()) > 1, 20000, 'the recording plays in the page', 100)
  t.pass(`the recording plays in the page (currentTime ${(await playerTime()).toFixed(2)} s)`)
  // The next segment follows on `ended`, in the same <video>.
  await waitFor(async () => (await player.getAttribute('data-segment')) === 'seg-00002.mp4' && (await playerTime()) > 0.2, 20000, 'the second segment plays after the first', 100)
  t.pass('the second segment plays after the first ended')
  t.match(await page.getByTestId('player-title').textContent(), /segment 2 of \d+/)
  const recScroll = await noSideScroll(page)
  t.ok(recScroll.scroll <= recScroll.client, `no horizontal scroll on the recordings page at 375 px (${recScroll.scroll} ≤ ${recScroll.client})`)
  await page.screenshot({ path: join(ARTIFACTS, 'told-phone-recordings.png'), fullPage: true })

  // A viewer may watch and list, never delete.
  const viewer = await loginCookie(base, { user: VIEWER.name, password: VIEWER.password })
  const refused = await rawRequest(base, `/api/v1/recordings/${session.id}`, { method: 'DELETE', headers: { cookie: viewer } })
  t.equal(refused.status, 403, 'a viewer gets 403')
  t.ok(await exists(session.dir), 'and the session stays')

  // ---------------------------------------------------------------- (8) 1280×800
  await page.setViewportSize(DESKTOP)
  await page.goto(`${base}/`)
  await page.locator('[data-testid="ws-status"][data-status="open"]').waitFor({ timeout: 15000 })
  const desktopFrom = Date.now()
  await waitFor(async () => (await liveRow('motion', desktopFrom - 1000)) !== undefined, 30000, 'a new motion row at 1280', 100)
  await waitFor(async () => (await liveRow('sound', desktopFrom - 1000)) !== undefined, 30000, 'a new sound row at 1280', 100)
  for (const kind of ['motion', 'sound']) {
    const r = (await liveRow(kind, desktopFrom - 1000))!
    t.ok(lag(r) < 5000, `at 1280×800 too: ${kind} in the list ${lag(r)} ms after it happened`)
  }
  await page.locator('[data-testid="events"] li[data-kind="motion"] img.thumb').first().waitFor({ timeout: 15000 })
  const desk = await noSideScroll(page)
  t.ok(desk.scroll <= desk.client, `no horizontal scroll at 1280 px (${desk.scroll} ≤ ${desk.client})`)
  await page.screenshot({ path: join(ARTIFACTS, 'told-desktop-live.png') })

  await page.goto(`${base}/recordings`)
  await row.waitFor({ timeout: 10000 })
  await row.getByTestId('play').click()
  await waitFor(async () => (await playerTime()) > 0.5, 20000, 'the recording plays at 1280', 100)
  await page.screenshot({ path: join(ARTIFACTS, 'told-desktop-recordings.png'), fullPage: true })

  // The operator deletes it in the page (after the browser's confirm).
  page.once('dialog', (d) => void d.accept())
  await row.getByTestId('delete').click()
  await row.waitFor({ state: 'detached', timeout: 10000 })
  t.pass('the row is gone')
  t.notOk(await exists(session.dir), 'and so is the session dir')
  const listed = (await page.evaluate(`fetch('/api/v1/recordings').then((r) => r.json())`)) as { sessions: Array<{ id: string }> }
  t.notOk(listed.sessions.some((s) => s.id === session.id), 'and the listing')

  t.same(pageErrors, [], 'no uncaught errors in the page')
  if (consoleProblems.length) t.comment(`page console: ${consoleProblems.join(' | ')}`)
  t.comment(`whole test ${((Date.now() - startedAt) / 1000).toFixed(1)} s after the rig start`)
})
