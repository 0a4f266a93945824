import t from 'tap'
import { readdir } from 'node:fs/promises'
import { join } from 'node:path'
import type { Route } from 'playwright-core'
import { startTestRig, type TestRig } from '../helpers/rig.js'
import { chromiumSkip, openBrowser } from '../helpers/browser.js'
import { waitFor } from '../helpers/wait.js'

/**
 * DESIGN.md §9.5 in the page: Record and Stop over a link that loses the first response.
 * The first POST reaches the rig (which runs it) but its response never reaches the page
 * (route.fetch(), then route.abort()). The page must try again with the same
 * X-Idempotency-Key and end showing the outcome, not ALREADY_RECORDING / NOT_RECORDING.
 */

t.setTimeout(180_000)

const recStatus = async (rig: TestRig) => {
  const r = await rig.cmd<{ state: string; session: { id: string; bytes: number } | null }>('recorder', 'status')
  return r.ok ? r.result : null
}

t.test('Record and Stop with their first response lost: one session, no error shown', { skip: chromiumSkip }, async (t) => {
  const rig = await startTestRig(t, { node: 'badlink' })
  await rig.ready(['media', 'camera', 'recorder', 'web'], 60000)
  const base = `http://127.0.0.1:${rig.rig.ports.web}`
  const { page } = await openBrowser(t)

  // Every recorder POST the page makes, with its key; the first of each verb loses its response.
  const posts: Array<{ verb: string; key: string | undefined; dropped: boolean }> = []
  await page.route(/\/api\/v1\/recorder\/(start|stop)$/, async (route: Route) => {
    const req = route.request()
    const verb = new URL(req.url()).pathname.split('/').pop()!
    const first = !posts.some((p) => p.verb === verb)
    posts.push({ verb, key: req.headers()['x-idempotency-key'], dropped: first })
    if (!first) return route.continue()
    await route.fetch() // the rig gets it and runs it …
    await route.abort('connectionreset') // … and the page never hears back
  })

  await page.goto(base)
  await page.locator('[data-testid="actor-state-recorder"]', { hasText: 'idle' }).waitFor({ timeout: 15000 })

  await page.getByTestId('record-name').fill('flaky')
  const retried = page.waitForResponse((res) => res.url().endsWith('/api/v1/recorder/start'), { timeout: 20000 })
  await page.getByTestId('record-start').click()
  t.equal((await retried).status(), 200, 'the retry got 200')
  await page.locator('[data-testid="record-status"][data-state="recording"]').waitFor({ timeout: 15000 })
  await page.locator('[data-testid="record-start"]:not([disabled]), [data-testid="record-stop"]:not([disabled])').first().waitFor({ timeout: 10000 })
  t.equal(await page.getByTestId('record-error').isHidden(), true, `no error shown (${await page.getByTestId('record-error').textContent()})`)
  const starts = posts.filter((p) => p.verb === 'start')
  t.equal(starts.length, 2, 'two tries of the one click')
  t.ok(starts[0]!.key && starts[0]!.key === starts[1]!.key, 'with one idempotency key')
  const recording = await recStatus(rig)
  t.equal(recording?.state, 'recording')

  await waitFor(async () => ((await recStatus(rig))?.session?.bytes ?? 0) > 0, 30000, 'recorded bytes', 250)
  const stopped = page.waitForResponse((res) => res.url().endsWith('/api/v1/recorder/stop'), { timeout: 20000 })
  await page.getByTestId('record-stop').click()
  t.equal((await stopped).status(), 200, 'the stop\'s retry got 200 (the first stop\'s reply), not 409 NOT_RECORDING')
  await page.locator('[data-testid="record-status"][data-state="idle"]').waitFor({ timeout: 20000 })
  t.equal(await page.getByTestId('record-error').isHidden(), true, 'no error shown after the stop either')
  const stops = posts.filter((p) => p.verb === 'stop')
  t.equal(stops.length, 2)
  t.ok(stops[0]!.key && stops[0]!.key === stops[1]!.key && stops[0]!.key !== starts[0]!.key, 'one key per click')

  const sessions = (await readdir(join(rig.dataDir, 'recordings'))).filter((d) => /^\d{8}T\d{6}Z-/.test(d))
  t.same(sessions, [recording!.session!.id], 'one session: the start ran once')
})
