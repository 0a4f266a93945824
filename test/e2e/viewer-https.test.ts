import t from 'tap'
import { createHash, createPublicKey } from 'node:crypto'
import { mkdir, mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import type { Page } from 'playwright-core'
import { hashPassword } from '../../actors/web/security/passwords.js'
import { loadWebTls } from '../../actors/web/security/tls.js'
import { startTestRig } from '../helpers/rig.js'
import { chromiumSkip, openBrowser } from '../helpers/browser.js'
import { waitFor } from '../helpers/wait.js'

/**
 * Issue 13, "Shown by": the whole rig served over HTTPS with the certificate vigil makes
 * for itself, in real Chromium that trusts exactly that certificate (its public key, not
 * "ignore every error"), logged in as a viewer: the live video plays through the web
 * origin, and Record is refused. Screenshots land in test-artifacts/e2e/.
 */

const ARTIFACTS = join(process.cwd(), 'test-artifacts', 'e2e')
const VIEWER = { name: 'grandma', password: 'correct horse battery staple' }

interface VideoEl {
  currentTime: number
  paused: boolean
  readyState: number
  videoWidth: number
}
const video = <T>(page: Page, read: (v: VideoEl) => T): Promise<T> => page.getByTestId('live-video').evaluate((el, fn) => (0, eval)(fn)(el), read.toString()) as Promise<T>

/** Chromium's --ignore-certificate-errors-spki-list takes the base64 SHA-256 of the certificate's public key. */
const spkiHash = (certPem: string) => createHash('sha256').update(createPublicKey(certPem).export({ type: 'spki', format: 'der' })).digest('base64')

t.test('over HTTPS with its own certificate, a viewer watches the live video and cannot record', { skip: chromiumSkip }, async (t) => {
  await mkdir(ARTIFACTS, { recursive: true })
  const tlsDir = await mkdtemp(join(tmpdir(), 'vigil-e2e-tls-'))
  t.teardown(() => rm(tlsDir, { recursive: true, force: true }))
  // The certificate `web.tls: "auto"` makes on a network bind, made here for a loopback one.
  const made = await loadWebTls({ kind: 'self-signed', dir: tlsDir }, { bindHost: '127.0.0.1' })
  t.ok(made, 'a self-signed certificate was made')
  const passwordHash = await hashPassword(VIEWER.password)
  const rig = await startTestRig(t, {
    node: 'e2ehttps',
    configure: (c) => {
      c.web.tls = { cert: join(tlsDir, 'cert.pem'), key: join(tlsDir, 'key.pem') }
      c.web.users = [{ name: VIEWER.name, passwordHash, role: 'viewer' }]
    },
  })
  await rig.ready(undefined, 60000)
  const base = `https://127.0.0.1:${rig.rig.ports.web}`
  const { page, pageErrors } = await openBrowser(t, { args: [`--ignore-certificate-errors-spki-list=${spkiHash(made!.cert)}`] })

  const videoRequests: string[] = []
  page.on('request', (req) => {
    if (/\.flv(\?|$)/.test(req.url())) videoRequests.push(req.url())
  })
  await page.goto(base)
  await page.waitForURL(/\/login$/)
  t.ok(page.url().startsWith('https://'), `the login page is served over HTTPS (${page.url()})`)
  await page.getByTestId('login-user').fill(VIEWER.name)
  await page.getByTestId('login-password').fill(VIEWER.password)
  await page.getByTestId('login-submit').click()
  await page.waitForURL(`${base}/`)
  t.pass('logged in as a viewer')

  // The video plays: its time advances by more than a second.
  await waitFor(() => video(page, (v) => !v.paused && v.readyState >= 3 && v.videoWidth > 0), 60000, 'the live video is playing', 200)
  const t0 = await video(page, (v) => v.currentTime)
  await waitFor(async () => (await video(page, (v) => v.currentTime)) > t0 + 1, 30000, 'the video time advances', 200)
  t.pass(`video time advanced from ${t0.toFixed(2)} s`)
  t.ok(videoRequests.length > 0 && videoRequests.every((u) => u === `${base}/live/cam.flv`), `the only video source is the web origin's /live/cam.flv (${videoRequests.join(', ')})`)
  await page.screenshot({ path: join(ARTIFACTS, 'https-viewer-live.png'), fullPage: true })

  // Record is refused: the page says so and the recorder stays idle.
  await page.getByTestId('record-start').click()
  await page.getByTestId('record-error').and(page.locator(':visible')).waitFor({ timeout: 30000 })
  const refusal = (await page.getByTestId('record-error').textContent()) ?? ''
  t.match(refusal, /FORBIDDEN|operator|not allowed|403/i, `the page shows the refusal: ${refusal}`)
  const status = await rig.cmd<{ state: string }>('recorder', 'status')
  t.equal(status.ok && status.result.state, 'idle', 'nothing is recording')
  await page.screenshot({ path: join(ARTIFACTS, 'https-viewer-record-refused.png'), fullPage: true })
  t.same(pageErrors, [], 'no script errors in the page')
})
