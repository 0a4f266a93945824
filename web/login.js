/* vigil login: trades a user name and password (or the web token) for the
 * HttpOnly session cookie, then goes to the live view. The page never keeps a
 * credential itself. */
'use strict'
;(function () {
  const $ = (id) => document.getElementById(id)

  function showError(text) {
    const el = $('login-error')
    el.textContent = text || ''
    el.hidden = !text
  }

  async function login(ev) {
    ev.preventDefault()
    const token = $('login-token').value.trim()
    const body = token ? { token } : { user: $('login-user').value.trim(), password: $('login-password').value }
    if (!token && (!body.user || !body.password)) return showError('Enter a user name and password, or the web token.')
    $('login-submit').disabled = true
    showError('')
    let res
    try {
      res = await fetch('/api/v1/login', { method: 'POST', headers: { 'Content-Type': 'application/json' }, body: JSON.stringify(body), credentials: 'same-origin' })
    } catch (err) {
      $('login-submit').disabled = false
      return showError(`vigil is not reachable (${err.message})`)
    }
    $('login-submit').disabled = false
    if (res.ok) {
      location.replace('/')
      return
    }
    if (res.status === 429) {
      const wait = Number(res.headers.get('Retry-After'))
      return showError(`Too many failed attempts: try again in ${Number.isFinite(wait) && wait > 0 ? `${wait} s` : 'a while'}.`)
    }
    let message = `login failed (HTTP ${res.status})`
    try {
      const json = await res.json()
      if (json && json.error && json.error.message) message = json.error.message
    } catch {
      // Not JSON: the status says enough.
    }
    $('login-password').value = ''
    showError(message)
  }

  $('login-form').addEventListener('submit', login)
  $('login-user').focus()
})()
