/* vigil live view: plain JS, no build step. Everything shown comes from the
 * server's sync (GET /api/v1/state shape) and the WebSocket's live items; the
 * page keeps no truth of its own, so after any reconnect it asks again. */
'use strict'
;(function () {
  const $ = (id) => document.getElementById(id)
  const SUPERVISION = new Set(['starting', 'stopping', 'restarting', 'held', 'failed', 'stopped', 'done'])
  /** States an operator should notice, whichever actor is in them. */
  const TROUBLE = new Set(['failed', 'restarting', 'held', 'stalled', 'device_error', 'reconnecting', 'disk_full', 'down'])
  const MAX_ALERTS = 50

  const view = {
    node: '',
    supervisor: '',
    /** id → { state, status, restarts } */
    actors: new Map(),
    alerts: [],
    busy: null,
  }

  // With auth on, the browser holds the HttpOnly session cookie from /login and sends it
  // on every request and the WebSocket; the page never sees a credential. Refused: log in.
  function toLogin() {
    location.replace('/login')
  }

  /** A WebSocket refusal is invisible to scripts: ask over HTTP whether the session is gone. */
  async function checkSession() {
    try {
      const res = await fetch('/api/v1/state', { cache: 'no-store', credentials: 'same-origin' })
      if (res.status === 401) toLogin()
    } catch {
      // Unreachable: the reconnect loop keeps trying.
    }
  }

  // ---------------------------------------------------------------- rendering

  function renderHeader() {
    $('node-name').textContent = view.node
    const sup = $('supervisor-state')
    sup.textContent = view.supervisor ? `supervisor: ${view.supervisor}` : '…'
    sup.dataset.state = view.supervisor
  }

  function renderActors() {
    const body = $('actor-states').tBodies[0]
    const rows = []
    for (const [id, a] of view.actors) {
      const tr = document.createElement('tr')
      tr.setAttribute('data-testid', `actor-${id}`)
      tr.dataset.actor = id
      tr.dataset.state = a.state
      const name = document.createElement('td')
      name.textContent = id
      const state = document.createElement('td')
      state.className = 'state'
      state.dataset.status = a.status
      state.dataset.health = TROUBLE.has(a.state) || TROUBLE.has(a.status) ? 'trouble' : a.status === 'running' ? 'ok' : 'transition'
      state.setAttribute('data-testid', `actor-state-${id}`)
      state.textContent = a.state
      const restarts = document.createElement('td')
      restarts.textContent = String(a.restarts ?? 0)
      tr.append(name, state, restarts)
      rows.push(tr)
    }
    body.replaceChildren(...rows)
    renderRecorder()
  }

  function renderAlerts() {
    const list = $('alerts')
    const items = view.alerts.map((a) => {
      const li = document.createElement('li')
      li.setAttribute('data-testid', 'alert')
      li.dataset.code = a.code
      li.dataset.severity = a.severity
      const sev = document.createElement('span')
      sev.className = 'sev'
      sev.textContent = a.severity
      const msg = document.createElement('span')
      msg.textContent = `${a.code}: ${a.message}${a.count > 1 ? ` (×${a.count})` : ''}`
      const at = document.createElement('time')
      at.dateTime = a.at
      at.textContent = new Date(a.at).toLocaleTimeString()
      li.append(sev, msg, at)
      return li
    })
    list.replaceChildren(...items)
    $('alerts-empty').hidden = items.length > 0
  }

  function renderRecorder() {
    const rec = view.actors.get('recorder')
    const status = $('record-status')
    const state = view.busy ?? (rec ? rec.state : 'not running')
    status.dataset.state = state
    status.textContent = `recorder: ${state}${view.busy ? '…' : ''}`
    $('record-start').disabled = view.busy !== null
    $('record-stop').disabled = view.busy !== null
  }

  function showError(text) {
    const el = $('record-error')
    el.textContent = text || ''
    el.hidden = !text
  }

  function setWsStatus(status) {
    const el = $('ws-status')
    el.dataset.status = status
    el.textContent = status === 'open' ? 'live' : status
  }

  function videoStatus(text) {
    $('video-status').textContent = text
  }

  // ---------------------------------------------------------------- state

  function applySync(s) {
    view.node = s.node
    view.supervisor = s.supervisor
    view.actors = new Map(s.children.map((c) => [c.id, { state: c.state, status: c.status, restarts: c.restarts }]))
    view.alerts = (s.alerts || []).slice(0, MAX_ALERTS)
    renderHeader()
    renderActors()
    renderAlerts()
    if (!player) restartVideo(0)
  }

  function applyState(item) {
    if (item.actor === 'supervisor') {
      view.supervisor = item.state
      renderHeader()
      return
    }
    const prev = view.actors.get(item.actor)
    const status = SUPERVISION.has(item.state) ? item.state : 'running'
    const restarts = item.details && typeof item.details.restarts === 'number' ? item.details.restarts : prev ? prev.restarts : 0
    view.actors.set(item.actor, { state: item.state, status, restarts })
    renderActors()
    // The media server came back: the old HTTP-FLV connection is dead, open a new one.
    if (item.actor === 'media' && status === 'running' && (!prev || prev.status !== 'running')) restartVideo(500)
  }

  function applyAlert(alert) {
    const i = view.alerts.findIndex((a) => a.id === alert.id)
    if (i >= 0) view.alerts.splice(i, 1)
    view.alerts.unshift(alert)
    view.alerts.length = Math.min(view.alerts.length, MAX_ALERTS)
    renderAlerts()
  }

  // ---------------------------------------------------------------- WebSocket

  let ws = null
  let attempt = 0
  let everOpen = false

  function connect() {
    const scheme = location.protocol === 'https:' ? 'wss:' : 'ws:'
    setWsStatus(everOpen ? 'reconnecting' : 'connecting')
    ws = new WebSocket(`${scheme}//${location.host}/api/v1/ws`, ['vigil'])
    let opened = false
    ws.onopen = () => {
      opened = true
      attempt = 0
      setWsStatus('open')
      // The server sends a sync on connect; asking again after a reconnect is the
      // contract (DESIGN.md §5) and costs one message.
      if (everOpen) ws.send(JSON.stringify({ type: 'sync_request' }))
      everOpen = true
    }
    ws.onmessage = (ev) => {
      let msg
      try {
        msg = JSON.parse(ev.data)
      } catch {
        return
      }
      if (msg.type === 'sync_response') applySync(msg.state)
      else if (msg.type === 'state') applyState(msg)
      else if (msg.type === 'alert') applyAlert(msg.alert)
      else if (msg.type === 'error') console.warn('vigil websocket:', msg.code, msg.message)
    }
    ws.onclose = () => {
      ws = null
      if (!opened) void checkSession()
      setWsStatus('reconnecting')
      // 0.5 s, 1 s, 2 s … capped at 10 s, with jitter so many pages do not return in step.
      const delay = Math.min(10000, 500 * 2 ** attempt) * (0.8 + Math.random() * 0.4)
      attempt += 1
      setTimeout(connect, delay)
    }
  }

  // ---------------------------------------------------------------- recorder

  function idempotencyKey() {
    if (window.crypto && typeof window.crypto.randomUUID === 'function') return window.crypto.randomUUID()
    return `${Date.now().toString(36)}-${Math.random().toString(36).slice(2)}`
  }

  function formatBytes(n) {
    if (typeof n !== 'number' || !Number.isFinite(n)) return 'unknown'
    const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB']
    let i = 0
    while (n >= 1024 && i < units.length - 1) {
      n /= 1024
      i += 1
    }
    return `${n.toFixed(i === 0 ? 0 : 1)} ${units[i]}`
  }

  function describeError(status, error) {
    if (!error) return `request failed (HTTP ${status})`
    if (error.code === 'DISK_FULL') {
      const d = error.details || {}
      const need = typeof d.minFreeBytes === 'number' ? ` (recording needs ${formatBytes(d.minFreeBytes)})` : ''
      return `Disk full: only ${formatBytes(d.freeBytes)} free${need}`
    }
    return `${error.code}: ${error.message}`
  }

  async function post(path, body, headers) {
    const h = Object.assign({ 'Content-Type': 'application/json' }, headers)
    let res
    try {
      res = await fetch(path, { method: 'POST', headers: h, body: JSON.stringify(body), credentials: 'same-origin' })
    } catch (err) {
      return { status: 0, body: { ok: false, error: { code: 'UNAVAILABLE', message: `vigil is not reachable (${err.message})` } } }
    }
    let json
    try {
      json = await res.json()
    } catch {
      json = { ok: false, error: { code: 'INTERNAL', message: `HTTP ${res.status} without a JSON body` } }
    }
    return { status: res.status, body: json }
  }

  async function recorderCommand(verb) {
    if (view.busy) return
    view.busy = verb === 'start' ? 'starting' : 'stopping'
    showError('')
    renderRecorder()
    const name = $('record-name').value.trim()
    const reply =
      verb === 'start'
        ? await post('/api/v1/recorder/start', name ? { name } : {}, { 'X-Idempotency-Key': idempotencyKey() })
        : await post('/api/v1/recorder/stop', {})
    view.busy = null
    if (reply.status === 401) return toLogin()
    if (!reply.body.ok) showError(describeError(reply.status, reply.body.error))
    else if (verb === 'start' && view.actors.has('recorder')) view.actors.get('recorder').state = 'recording'
    renderRecorder()
  }

  // ---------------------------------------------------------------- video

  let player = null
  let videoTimer = null
  let lastTime = -1
  let stuckChecks = 0

  // The web server's own route (same origin, same auth): nothing in the page's URL chooses
  // another source, and the media server's port is never reached from a browser.
  const LIVE_VIDEO_URL = new URL('live/cam.flv', document.baseURI).href

  function destroyPlayer() {
    if (!player) return
    try {
      player.pause()
      player.unload()
      player.detachMediaElement()
      player.destroy()
    } catch {
      // A player that already failed may throw on teardown; it is being replaced anyway.
    }
    player = null
  }

  function restartVideo(delayMs) {
    destroyPlayer()
    clearTimeout(videoTimer)
    videoTimer = setTimeout(startVideo, delayMs)
  }

  function startVideo() {
    const mpegts = window.mpegts
    if (!mpegts) return videoStatus('mpegts.js did not load')
    if (!mpegts.getFeatureList().mseLivePlayback) return videoStatus('this browser cannot play the live stream (no Media Source Extensions)')
    const url = LIVE_VIDEO_URL
    const video = $('live-video')
    videoStatus(`connecting to ${url}`)
    player = mpegts.createPlayer(
      { type: 'flv', isLive: true, url },
      { enableWorker: false, lazyLoad: false, liveBufferLatencyChasing: true, autoCleanupSourceBuffer: true },
    )
    player.on(mpegts.Events.ERROR, (type, detail) => {
      videoStatus(`stream error (${type}: ${detail}); retrying`)
      restartVideo(2000)
    })
    player.on(mpegts.Events.LOADING_COMPLETE, () => {
      videoStatus('stream ended; retrying')
      restartVideo(1000)
    })
    player.attachMediaElement(video)
    player.load()
    const playing = player.play()
    if (playing && typeof playing.catch === 'function') {
      // NotAllowedError: autoplay refused; an AbortError only means the player was replaced.
      playing.catch((err) => {
        if (err && err.name === 'NotAllowedError') videoStatus('press play to start the video')
      })
    }
  }

  // A live stream that silently stops delivering (media restarted under us) does not
  // always raise an error: if time has not moved for ~10 s while playing, reconnect.
  setInterval(() => {
    const video = $('live-video')
    if (!player || video.paused) return
    if (video.currentTime === lastTime) stuckChecks += 1
    else {
      stuckChecks = 0
      if (video.currentTime > 0) videoStatus('live')
    }
    lastTime = video.currentTime
    if (stuckChecks >= 5) {
      stuckChecks = 0
      videoStatus('stream stalled; reconnecting')
      restartVideo(0)
    }
  }, 2000)

  // ---------------------------------------------------------------- wiring

  $('record-start').addEventListener('click', () => recorderCommand('start'))
  $('record-stop').addEventListener('click', () => recorderCommand('stop'))
  $('record-form').addEventListener('submit', (ev) => {
    ev.preventDefault()
    recorderCommand('start')
  })
  $('logout').addEventListener('click', async () => {
    try {
      await fetch('/api/v1/logout', { method: 'POST', credentials: 'same-origin' })
    } finally {
      toLogin()
    }
  })

  renderRecorder()
  connect()
})()
