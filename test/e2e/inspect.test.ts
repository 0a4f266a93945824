import t from 'tap'
import { mkdir } from 'node:fs/promises'
import { join } from 'node:path'
import type { Page } from 'playwright-core'
import { startTestRig, type TestRig } from '../helpers/rig.js'
import { chromiumSkip, openBrowser } from '../helpers/browser.js'
import { waitFor, isAlive } from '../helpers/wait.js'

/**
 * The inspector (/inspect) in real headless Chromium against the whole rig:
 * a statechart for every supervised child and the supervisor, drawn from the
 * machine definitions; the recorder's diagram highlights `recording` once a
 * recording is started over NATS; after the camera's ffmpeg is SIGKILLed the
 * camera's diagram passes through `reconnecting` and comes back to `streaming`.
 *
 * The page marks active states with the `active` class on
 * `<g data-testid="state-<child>-<path>">` inside `<svg data-testid="diagram-<child>">`,
 * refreshed from /api/v1/inspect/state every 500 ms. Every change of the
 * camera's highlighted set is recorded in the page by a MutationObserver and
 * reported to the test through an exposed function, so a state that is shown
 * for a single poll is not missed.
 * Screenshots land in test-artifacts/e2e/inspect-*.png (whole page, and the
 * recorder and camera sections alone while recording / reconnecting).
 */

const ARTIFACTS = join(process.cwd(), 'test-artifacts', 'e2e')

interface CameraStatus {
  state: string
  pids: number[]
  attempt: number
}
interface RecStatus {
  state: string
  session: null | { id: string; name: string; dir: string; bytes: number }
}

async function cameraStatus(rig: TestRig): Promise<CameraStatus | null> {
  const r = await rig.cmd<CameraStatus>('camera', 'status', {}, { timeoutMs: 3000 })
  return r.ok ? r.result : null
}
async function recStatus(rig: TestRig): Promise<RecStatus | null> {
  const r = await rig.cmd<RecStatus>('recorder', 'status', {}, { timeoutMs: 3000 })
  return r.ok ? r.result : null
}

/** The state paths highlighted in one child's diagram ('(root)' for the machine itself). */
function activePaths(page: Page, child: string): Promise<string[]> {
  return page.evaluate(
    `[...document.querySelectorAll('[data-testid="diagram-${child}"] g.state.active')].map((g) => g.getAttribute('data-testid').slice(${`state-${child}-`.length}))`,
  ) as Promise<string[]>
}

/** Waits until `path` is highlighted in `child`'s diagram. */
async function waitActive(page: Page, child: string, path: string, timeout: number): Promise<void> {
  await page.locator(`[data-testid="diagram-${child}"] g.state.active[data-testid="state-${child}-${path}"]`).waitFor({ state: 'attached', timeout })
}

t.test('the inspector in Chromium: diagrams, live states, restarts through reconnecting', { skip: chromiumSkip }, async (t) => {
  await mkdir(ARTIFACTS, { recursive: true })
  const rig = await startTestRig(t, {
    node: 'e2e-inspect',
    configure: (c) => {
      c.camera.width = 320
      c.camera.height = 240
    },
  })
  await rig.ready(undefined, 60000)
  const base = `http://127.0.0.1:${rig.rig.ports.web}`
  t.comment(`web ${base}`)

  const { page, pageErrors, consoleProblems } = await openBrowser(t, { viewport: { width: 1600, height: 1000 } })

  // Every change of the camera's highlighted states, as the page shows them.
  const cameraHistory: Array<{ at: number; paths: string[] }> = []
  let reconnectShot: Promise<unknown> | null = null
  await page.exposeFunction('__vigilCameraActive', (paths: string[]) => {
    cameraHistory.push({ at: Date.now(), paths })
    if (paths.includes('reconnecting') && !reconnectShot) {
      // The page keeps showing this until its next poll (≥ 500 ms): time for a picture.
      reconnectShot = page.locator('[data-testid="machine-camera"]').screenshot({ path: join(ARTIFACTS, 'inspect-camera-reconnecting.png') }).catch((err: unknown) => {
        t.comment(`reconnecting screenshot failed: ${String(err)}`)
      })
    }
  })

  await page.goto(`${base}/inspect`)
  await page.locator('[data-testid="poll-status"][data-status="ok"]').waitFor({ timeout: 15000 })

  // ---------------------------------------------------------------- (1) a diagram per actor
  const status = await rig.cmd<{ state: string; children: Array<{ id: string; state: string; status: string }> }>('supervisor', 'status')
  t.ok(status.ok, 'supervisor.status answers')
  const ids = status.ok ? status.result.children.map((c) => c.id) : []
  t.comment(`supervisor.status children: ${ids.join(', ')}`)
  for (const id of ['camera', 'recorder', 'media', 'web']) t.ok(ids.includes(id), `the rig supervises ${id}`)
  for (const id of [...ids, 'supervisor']) {
    const diagram = page.getByTestId(`diagram-${id}`)
    await diagram.waitFor({ timeout: 15000 })
    const states = await page.locator(`[data-testid="diagram-${id}"] g.state`).count()
    const box = await diagram.boundingBox()
    t.ok(states >= 2 && box !== null && box.width > 50 && box.height > 30, `a diagram for ${id}: ${states} states, ${Math.round(box?.width ?? 0)}×${Math.round(box?.height ?? 0)} px`)
  }
  t.equal(await page.locator('svg[data-testid^="diagram-"]').count(), ids.length + 1, 'one diagram per child plus the supervisor, and no others')
  // The diagrams come from the machine definitions: states known from them are there.
  for (const path of ['idle', 'recording', 'capturing', 'capturing.streaming', 'reconnecting']) {
    const child = path === 'idle' || path === 'recording' ? 'recorder' : 'camera'
    t.equal(await page.getByTestId(`state-${child}-${path}`).count(), 1, `${child}'s diagram has the state ${path}`)
  }
  t.equal(await page.locator('svg[data-testid="diagram-camera"] g.edge').count() > 0, true, "the camera's diagram has transitions")

  await waitActive(page, 'camera', 'capturing.streaming', 15000)
  await waitActive(page, 'recorder', 'idle', 15000)
  t.pass('camera shown streaming, recorder shown idle')
  t.equal(await page.getByTestId('state-of-camera').textContent(), 'streaming', 'camera badge: streaming')
  t.match(await page.getByTestId('supervisor-state').textContent(), /supervisor: running/, 'header: supervisor running')
  await page.screenshot({ path: join(ARTIFACTS, 'inspect-overview.png'), fullPage: true })

  // ---------------------------------------------------------------- (2) recording over NATS
  const started = await rig.cmd<{ id: string; dir: string }>('recorder', 'start', { name: 'insp' })
  t.ok(started.ok, `recorder.start{name: insp} over NATS${started.ok ? '' : `: ${started.error.code} ${started.error.message}`}`)
  await waitActive(page, 'recorder', 'recording', 15000)
  t.pass("the recorder's diagram highlights recording")
  const recActive = await activePaths(page, 'recorder')
  t.notOk(recActive.includes('idle'), `idle is no longer highlighted (active: ${recActive.join(', ')})`)
  t.equal(await page.getByTestId('machine-recorder').getAttribute('data-state'), 'recording', 'the recorder section says recording')
  t.equal((await recStatus(rig))?.state, 'recording', 'recorder.status over NATS agrees')
  await page.getByTestId('machine-recorder').click()
  await page.locator('[data-testid="context-json"]', { hasText: 'insp' }).waitFor({ timeout: 5000 })
  t.pass("clicking the recorder shows its context, with the session named insp")
  await page.getByTestId('machine-recorder').scrollIntoViewIfNeeded()
  await page.screenshot({ path: join(ARTIFACTS, 'inspect-recording.png'), fullPage: true })
  await page.getByTestId('machine-recorder').screenshot({ path: join(ARTIFACTS, 'inspect-recorder-recording.png') })

  // ---------------------------------------------------------------- (3) kill the camera's ffmpeg
  await page.evaluate(`(() => {
    const svg = document.querySelector('[data-testid="diagram-camera"]')
    const prefix = 'state-camera-'
    const read = () => [...svg.querySelectorAll('g.state.active')].map((g) => g.getAttribute('data-testid').slice(prefix.length))
    let last = ''
    const report = () => {
      const paths = read()
      const key = paths.join('|')
      if (key === last) return
      last = key
      window.__vigilCameraActive(paths)
    }
    new MutationObserver(report).observe(svg, { subtree: true, attributes: true, attributeFilter: ['class'] })
    report()
  })()`)
  await waitFor(() => cameraHistory.length > 0, 5000, 'the observer reports the camera')
  t.ok(cameraHistory.at(-1)?.paths.includes('capturing.streaming'), 'the observer sees the camera streaming')

  // The first SIGKILL after a stable stream reconnects at once (DESIGN.md §9.5), so
  // `reconnecting` lasts a moment and the page, polling every 500 ms, may miss it. Each
  // further kill within the camera's 60 s stability window waits longer (250, 500,
  // 1000 ms), which the page cannot miss; so kill again until the page has shown it.
  const cameraSection = page.getByTestId('machine-camera')
  await cameraSection.click()
  let seenAfterKill = false
  let kills = 0
  for (let attempt = 1; attempt <= 4 && !seenAfterKill; attempt++) {
    const cam = await cameraStatus(rig)
    const pid = cam?.pids[0]
    t.ok(cam?.state === 'streaming' && pid !== undefined && isAlive(pid), `kill ${attempt}: camera streaming with ffmpeg pid ${pid} (attempt counter ${cam?.attempt})`)
    if (pid === undefined) break
    const killedAt = Date.now()
    process.kill(pid, 'SIGKILL')
    kills++
    await waitFor(() => !isAlive(pid), 5000, `ffmpeg ${pid} gone`)
    // Back to streaming with a new ffmpeg, as the camera and the page see it.
    await waitFor(async () => {
      const s = await cameraStatus(rig)
      return s?.state === 'streaming' && s.pids.length > 0 && !s.pids.includes(pid)
    }, 30000, 'the camera streaming again with a new ffmpeg', 100)
    // Let the page poll a few more times so it has caught up with the camera.
    await new Promise((r) => setTimeout(r, 1500))
    await waitActive(page, 'camera', 'capturing.streaming', 15000)
    const after = cameraHistory.filter((h) => h.at >= killedAt)
    t.comment(`kill ${attempt}: highlighted sequence ${after.map((h) => `[${h.paths.filter((p) => p !== '(root)').join(', ')}]@+${h.at - killedAt}ms`).join(' → ')}`)
    seenAfterKill = after.some((h) => h.paths.includes('reconnecting'))
    if (!seenAfterKill) t.comment(`kill ${attempt}: the page's polls fell either side of reconnecting; killing again (longer backoff)`)
  }
  t.ok(seenAfterKill, `the camera's diagram passed through reconnecting (after ${kills} kill(s))`)
  const lastKillIdx = cameraHistory.findLastIndex((h) => h.paths.includes('reconnecting'))
  const following = cameraHistory.slice(lastKillIdx + 1)
  t.ok(following.some((h) => h.paths.includes('capturing.streaming')), 'and then back to capturing.streaming')
  t.notOk(cameraHistory[lastKillIdx]?.paths.includes('capturing.streaming'), 'streaming was not highlighted while reconnecting was')
  await waitActive(page, 'camera', 'capturing.streaming', 15000)
  t.equal(await page.getByTestId('state-of-camera').textContent(), 'streaming', 'camera badge: streaming again')
  // The side panel's timeline (XState inspection events) shows the transition too.
  await page.locator('[data-testid="timeline"] li', { hasText: '→ reconnecting' }).first().waitFor({ state: 'attached', timeout: 5000 })
  t.pass("the camera's event timeline lists a transition to reconnecting")
  if (reconnectShot) await reconnectShot
  await page.screenshot({ path: join(ARTIFACTS, 'inspect-camera-back.png'), fullPage: true })

  // ---------------------------------------------------------------- stop the recording
  // A session with no media is removed at stop; let some bytes through first.
  await waitFor(async () => ((await recStatus(rig))?.session?.bytes ?? 0) > 0, 30000, 'recorded bytes', 250)
  const stopped = await rig.cmd<{ state: string }>('recorder', 'stop', {}, { timeoutMs: 20000 })
  t.ok(stopped.ok, 'recorder.stop over NATS')
  await waitActive(page, 'recorder', 'idle', 20000)
  t.pass("the recorder's diagram is back to idle")
  t.equal((await recStatus(rig))?.state, 'idle', 'recorder.status says idle')

  t.same(pageErrors, [], 'no uncaught errors in the page')
  if (consoleProblems.length) t.comment(`page console: ${consoleProblems.join(' | ')}`)
})
