import t from 'tap'
import { hashPassword } from '../../actors/web/security/passwords.js'
import { createSecurityState } from '../../actors/web/security/state.js'
import { chromiumSkip, openBrowser } from '../helpers/browser.js'
import { startWebRig } from '../helpers/webRig.js'
import { waitFor } from '../helpers/wait.js'

/**
 * The person's side of DESIGN.md §9.1 in real Chromium: the page sends a stranger to
 * /login, a viewer watches but cannot record, the cookie is out of the page's reach,
 * logout and a session ended on the server both lead back to the login page.
 */

const VIEWER = { name: 'grandma', password: 'correct horse battery staple' }
const OPERATOR = { name: 'parent', password: 'another long passphrase 42' }

t.test('log in, watch as a viewer, record as an operator, log out', { skip: chromiumSkip }, async (t) => {
  const security = createSecurityState()
  const rig = await startWebRig({
    security,
    users: [
      { name: VIEWER.name, passwordHash: await hashPassword(VIEWER.password), role: 'viewer' },
      { name: OPERATOR.name, passwordHash: await hashPassword(OPERATOR.password), role: 'operator' },
    ],
  })
  t.teardown(() => rig.stop())
  const { page, context, pageErrors } = await openBrowser(t)
  const logIn = async (user: { name: string; password: string }) => {
    await page.getByTestId('login-user').fill(user.name)
    await page.getByTestId('login-password').fill(user.password)
    await page.getByTestId('login-submit').click()
  }

  await page.goto(rig.baseUrl)
  await page.waitForURL(/\/login$/)
  t.pass('a stranger is sent to /login')

  await logIn({ name: VIEWER.name, password: 'not it' })
  await page.getByTestId('login-error').and(page.locator(':visible')).waitFor()
  t.match(await page.getByTestId('login-error').textContent(), /wrong/)

  await logIn(VIEWER)
  await page.waitForURL(`${rig.baseUrl}/`)
  await page.getByTestId('ws-status').and(page.locator('[data-status="open"]')).waitFor()
  t.equal(await page.getByTestId('node-name').textContent(), 'webtest', 'the viewer sees the rig, live over the WebSocket')
  t.notMatch(await page.evaluate<string>('document.cookie'), /vigil_session/, 'the session cookie is out of the page’s reach (HttpOnly)')
  const [cookie] = await context.cookies(rig.baseUrl)
  t.match(cookie, { name: 'vigil_session', httpOnly: true, sameSite: 'Strict', secure: false })

  await page.getByTestId('record-start').click()
  await page.locator('[data-testid="record-error"]', { hasText: 'FORBIDDEN' }).waitFor()
  t.equal(rig.recorder.session, null, 'a viewer cannot record')

  await page.getByTestId('logout').click()
  await page.waitForURL(/\/login$/)
  await page.goto(rig.baseUrl)
  await page.waitForURL(/\/login$/)
  t.pass('after logout the page is closed again')

  await logIn(OPERATOR)
  await page.waitForURL(`${rig.baseUrl}/`)
  await page.getByTestId('ws-status').and(page.locator('[data-status="open"]')).waitFor()
  await page.getByTestId('record-start').click()
  await waitFor(() => rig.recorder.session !== null, 5000, 'the operator’s recording started')

  // The session ends on the server (expiry, or logout elsewhere): the next command sends the page to /login.
  const [operatorCookie] = await context.cookies(rig.baseUrl)
  t.ok(security.sessions.end(operatorCookie!.value))
  await page.getByTestId('record-stop').click()
  await page.waitForURL(/\/login$/)
  t.not(rig.recorder.session, null, 'the refused stop did nothing')
  t.same(pageErrors, [], 'no script errors')
})
