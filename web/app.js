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
  /** Rows in the events list (the server keeps the last 200). */
  const MAX_EVENTS = 50
  /** Kinds that ring the person (with critical alerts), when they opted in. */
  const NOTIFY_KINDS = new Set(['motion', 'sound'])
  const NOTIFY_KEY = 'vigil.notify'

  const view = {
    node: '',
    supervisor: '',
    /** id → { state, status, restarts } */
    actors: new Map(),
    alerts: [],
    /** Newest first: { id, kind, at, … } as GET /api/v1/events gives them. */
    events: [],
    busy: null,
    /** The rig's preview level (the governor's): full = live video, low = a still per second, off = nothing live. */
    preview: { level: 'full', reason: '', since: null },
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
    // The preview message says whether the recording goes on.
    renderPreviewMessage()
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
    // On every (re)connect: what happened meanwhile comes from the rig's ring, not the socket.
    void loadEvents()
    applyPreview(s.preview || { level: 'full', reason: '', since: null })
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
    if (item.actor === 'media' && status === 'running' && (!prev || prev.status !== 'running') && view.preview.level === 'full') restartVideo(500)
  }

  function applyAlert(alert) {
    if (alert.severity === 'critical') notify(`${view.node || 'vigil'}: ${alert.code}`, alert.message, `alert-${alert.id}-${alert.count}`)
    const i = view.alerts.findIndex((a) => a.id === alert.id)
    if (i >= 0) view.alerts.splice(i, 1)
    view.alerts.unshift(alert)
    view.alerts.length = Math.min(view.alerts.length, MAX_ALERTS)
    renderAlerts()
  }


  // ---------------------------------------------------------------- events

  function eventDetail(e) {
    if (e.kind === 'motion') return typeof e.score === 'number' ? `score ${e.score.toFixed(3)}` : ''
    if (e.kind === 'sound') {
      const level = typeof e.db === 'number' ? `${e.db.toFixed(1)} dBFS` : ''
      const long = typeof e.durationMs === 'number' ? ` for ${(e.durationMs / 1000).toFixed(1)} s` : ''
      return level + long
    }
    if (e.kind === 'recording.started' || e.kind === 'recording.stopped') return typeof e.name === 'string' ? e.name : ''
    return ''
  }

  function renderEvents() {
    const rows = view.events.slice(0, MAX_EVENTS).map((e) => {
      const li = document.createElement('li')
      li.dataset.kind = e.kind
      li.dataset.id = e.id
      const at = document.createElement('time')
      at.dateTime = e.at
      at.textContent = new Date(e.at).toLocaleTimeString()
      const kind = document.createElement('span')
      kind.className = 'kind'
      kind.textContent = e.kind
      const detail = document.createElement('span')
      detail.className = 'detail'
      detail.textContent = eventDetail(e)
      li.append(at, kind, detail)
      if (e.kind === 'motion' && e.snapshot && typeof e.snapshot.url === 'string') {
        const a = document.createElement('a')
        a.href = e.snapshot.url
        a.target = '_blank'
        a.rel = 'noopener'
        const img = document.createElement('img')
        img.className = 'thumb'
        img.setAttribute('data-testid', 'event-thumb')
        img.alt = 'motion snapshot'
        img.loading = 'lazy'
        img.src = e.snapshot.url
        a.append(img)
        li.append(a)
      }
      return li
    })
    $('events').replaceChildren(...rows)
    $('events-empty').hidden = rows.length > 0
  }

  /** The rig's recent events; live ones that arrived while it answered are kept. */
  async function loadEvents() {
    let res
    try {
      res = await fetch(`/api/v1/events?limit=${MAX_EVENTS}`, { cache: 'no-store', credentials: 'same-origin' })
    } catch {
      return
    }
    if (res.status === 401) return toLogin()
    if (!res.ok) return
    const body = await res.json().catch(() => null)
    if (!body || !Array.isArray(body.events)) return
    const known = new Set(body.events.map((e) => e.id))
    const live = view.events.filter((e) => !known.has(e.id))
    view.events = live.concat(body.events).sort((a, b) => (a.at < b.at ? 1 : a.at > b.at ? -1 : 0)).slice(0, MAX_EVENTS)
    renderEvents()
  }

  function applyEvent(msg) {
    const p = msg.payload || {}
    if (msg.kind === 'snapshot.saved') {
      // The thumbnail of the motion it was taken for (same `at`), as the rig's ring does.
      const m = view.events.find((e) => e.kind === 'motion' && e.at === p.at)
      if (m && typeof p.file === 'string') {
        m.snapshot = { file: p.file, url: `/snapshots/${encodeURIComponent(p.file)}` }
        renderEvents()
      }
      return
    }
    if (msg.kind === 'segment.closed' || typeof p.id !== 'string') return
    if (view.events.some((e) => e.id === p.id)) return
    const e = Object.assign({}, p, { id: p.id, kind: msg.kind, at: typeof p.at === 'string' ? p.at : msg.at })
    view.events.unshift(e)
    view.events.length = Math.min(view.events.length, MAX_EVENTS)
    renderEvents()
    if (NOTIFY_KINDS.has(e.kind)) notify(`${e.kind === 'motion' ? 'Motion' : 'Sound'} at ${view.node || 'vigil'}`, `${eventDetail(e)} · ${new Date(e.at).toLocaleTimeString()}`, e.id)
  }

  // ---------------------------------------------------------------- notifications

  // Opt-in, per browser (localStorage), and only with the browser's permission. Shown also
  // while the page is in view: a parent glancing at another tab or at the video may miss a row.
  let notifyOn = false

  function notifySupported() {
    return typeof window.Notification === 'function'
  }

  function renderNotify(text) {
    const b = $('notify-toggle')
    b.dataset.enabled = String(notifyOn)
    b.setAttribute('aria-pressed', String(notifyOn))
    b.textContent = notifyOn ? 'Notify: on' : 'Notify: off'
    const st = $('notify-status')
    st.textContent = text || ''
    st.hidden = !text
  }

  async function toggleNotify() {
    if (notifyOn) {
      notifyOn = false
      localStorage.removeItem(NOTIFY_KEY)
      return renderNotify('')
    }
    if (!notifySupported()) return renderNotify('this browser cannot show notifications (on a phone: add the page to the home screen, over HTTPS)')
    let permission = Notification.permission
    if (permission === 'default') permission = await Notification.requestPermission()
    if (permission !== 'granted') return renderNotify('notifications are blocked for this site in the browser’s settings')
    notifyOn = true
    localStorage.setItem(NOTIFY_KEY, 'on')
    renderNotify('')
  }

  function notify(title, body, tag) {
    if (!notifyOn || !notifySupported() || Notification.permission !== 'granted') return
    try {
      const n = new Notification(title, { body, tag })
      n.onclick = () => window.focus()
    } catch (err) {
      // Android Chrome allows notifications only from a service worker: say so once.
      notifyOn = false
      renderNotify(`notifications failed: ${err.message}`)
    }
  }

  // ---------------------------------------------------------------- sound

  // Unmuting routes the video's sound through an AnalyserNode (made on the first click: an
  // AudioContext needs a gesture) whose RMS drives the meter. A muted element feeds silence.
  let audio = null

  let metering = false

  function toggleSound() {
    const v = $('live-video')
    v.muted = !v.muted
    if (v.paused && !v.muted) void v.play().catch(() => {})
    soundChanged()
  }

  /** Also after the video's own controls unmuted it. */
  function soundChanged() {
    const v = $('live-video')
    if (!v.muted) {
      if (!audio) {
        const Ctx = window.AudioContext || window.webkitAudioContext
        if (Ctx) {
          const ctx = new Ctx()
          const analyser = ctx.createAnalyser()
          analyser.fftSize = 2048
          ctx.createMediaElementSource(v).connect(analyser)
          analyser.connect(ctx.destination)
          audio = { ctx, analyser, buf: new Float32Array(analyser.fftSize) }
        }
      }
      if (audio) void audio.ctx.resume()
      if (!metering && audio) {
        metering = true
        requestAnimationFrame(meterFrame)
      }
    }
    renderSound()
  }

  function renderSound() {
    const v = $('live-video')
    const b = $('unmute')
    b.textContent = v.muted ? 'Unmute' : 'Mute'
    b.setAttribute('aria-pressed', String(!v.muted))
    if (v.muted) {
      $('level-meter').value = -60
      $('level-text').textContent = 'muted'
    }
  }

  function meterFrame() {
    const v = $('live-video')
    if (v.muted || !audio) {
      metering = false
      return renderSound()
    }
    audio.analyser.getFloatTimeDomainData(audio.buf)
    let sum = 0
    for (const x of audio.buf) sum += x * x
    const rms = Math.sqrt(sum / audio.buf.length)
    const db = rms > 0 ? Math.max(-60, 20 * Math.log10(rms)) : -60
    $('level-meter').value = db
    $('level-meter').dataset.db = db.toFixed(1)
    $('level-text').textContent = db <= -60 ? 'silence' : `${db.toFixed(0)} dBFS`
    requestAnimationFrame(meterFrame)
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
      else if (msg.type === 'event') applyEvent(msg)
      else if (msg.type === 'preview') applyPreview({ level: msg.level, reason: msg.reason, since: msg.at })
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

  const idempotencyKey = window.vigilApi.newKey

  const formatBytes = window.vigilFormat.bytes

  function describeError(status, error) {
    if (!error) return `request failed (HTTP ${status})`
    if (error.code === 'DISK_FULL') {
      const d = error.details || {}
      const need = typeof d.minFreeBytes === 'number' ? ` (recording needs ${formatBytes(d.minFreeBytes)})` : ''
      return `Disk full: only ${formatBytes(d.freeBytes)} free${need}`
    }
    return `${error.code}: ${error.message}`
  }

  // 10 s a try, 3 tries (format.js vigilApi); the headers carry the click's idempotency key.
  async function post(path, body, headers) {
    const h = Object.assign({ 'Content-Type': 'application/json' }, headers)
    const reply = await window.vigilApi.call(path, { method: 'POST', headers: h, body: JSON.stringify(body), credentials: 'same-origin' })
    if (!reply.body) reply.body = { ok: false, error: { code: 'INTERNAL', message: `HTTP ${reply.status} without a JSON body` } }
    return reply
  }

  async function recorderCommand(verb) {
    if (view.busy) return
    view.busy = verb === 'start' ? 'starting' : 'stopping'
    showError('')
    renderRecorder()
    const name = $('record-name').value.trim()
    // One key per click, the same on every try of it: a retry gets the first try's reply.
    const key = { 'X-Idempotency-Key': idempotencyKey() }
    const reply =
      verb === 'start'
        ? await post('/api/v1/recorder/start', name ? { name } : {}, key)
        : await post('/api/v1/recorder/stop', {}, key)
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
    // Below full the server refuses the stream (503): asking would only fail and retry.
    if (view.preview.level !== 'full') return
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

  // ---------------------------------------------------------------- preview level

  // DESIGN.md §9.3: under resource pressure the rig's governor lowers what viewers get.
  // full: the live video. low: one still per second from live/still.jpg instead (the server
  // refuses the video stream). off: neither; a message says why. The recording is never
  // touched by this, so the message says whether it goes on.
  const STILL_EVERY_MS = 1000
  let stillTimer = null
  let stillUrl = null
  /** Bumped when stills stop: a fetch still under way finds itself stale and drops its picture. */
  let stillRun = 0
  let stillsOn = false

  function applyPreview(p) {
    const level = p.level === 'low' || p.level === 'off' ? p.level : 'full'
    const was = view.preview.level
    view.preview = { level, reason: p.reason || '', since: p.since || null }
    const video = $('live-video')
    video.hidden = level !== 'full'
    $('sound-bar').hidden = level !== 'full'
    renderPreviewMessage()
    if (level === 'full') {
      stopStills()
      $('video-status').hidden = false
      // Back to full (or the first sync): the player starts again.
      if (!player || was !== 'full') restartVideo(0)
      return
    }
    // The stream is refused or was ended by the server: drop the player (and its retries).
    clearTimeout(videoTimer)
    destroyPlayer()
    if (!video.muted) {
      video.muted = true
      renderSound()
    }
    if (level === 'low') {
      $('video-status').hidden = false
      startStills()
    } else {
      stopStills()
      $('video-status').hidden = true
    }
  }

  function renderPreviewMessage() {
    const el = $('preview-message')
    const { level, reason, since } = view.preview
    el.hidden = level === 'full'
    el.dataset.level = level
    if (level === 'full') return
    const rec = view.actors.get('recorder')
    const recording = rec ? `${rec.state === 'recording' ? 'Recording goes on.' : `The recorder is ${rec.state}.`}` : ''
    const why = reason ? `The rig is at ${reason}` : 'The rig is short of resources'
    const at = since ? ` since ${new Date(since).toLocaleTimeString()}` : ''
    $('preview-title').textContent = level === 'off' ? 'Live video is off' : 'Live video is reduced to one still per second'
    $('preview-detail').textContent = `${why}${at}. ${recording}`.trim()
  }

  function startStills() {
    if (stillsOn) return
    stillsOn = true
    stillRun += 1
    loadStill(stillRun)
  }

  function stopStills() {
    stillsOn = false
    stillRun += 1
    clearTimeout(stillTimer)
    const img = $('live-still')
    img.hidden = true
    img.removeAttribute('src')
    if (stillUrl) URL.revokeObjectURL(stillUrl)
    stillUrl = null
  }

  /** One still; the next is asked only once this one loaded or failed, so requests never pile up. */
  async function loadStill(run) {
    const started = Date.now()
    let problem = null
    try {
      const res = await fetch(new URL(`live/still.jpg?n=${started}`, document.baseURI).href, { cache: 'no-store', credentials: 'same-origin' })
      if (res.status === 401) return toLogin()
      if (res.ok) {
        const blob = await res.blob()
        if (run !== stillRun) return
        await showStill(blob, run)
      } else {
        const body = await res.json().catch(() => null)
        problem = body && body.error ? body.error.message : `HTTP ${res.status}`
      }
    } catch (err) {
      problem = `vigil is not reachable (${err.message})`
    }
    if (run !== stillRun) return
    if (problem) {
      // An old picture shown as live would say all is calm when nothing is known.
      $('live-still').hidden = true
      videoStatus(`no picture: ${problem}; retrying`)
    }
    stillTimer = setTimeout(() => loadStill(run), Math.max(0, STILL_EVERY_MS - (Date.now() - started)))
  }

  function showStill(blob, run) {
    return new Promise((resolve) => {
      const url = URL.createObjectURL(blob)
      const img = $('live-still')
      img.onload = () => {
        if (run !== stillRun) {
          URL.revokeObjectURL(url)
          return resolve()
        }
        if (stillUrl) URL.revokeObjectURL(stillUrl)
        stillUrl = url
        img.hidden = false
        videoStatus(`still updated ${new Date().toLocaleTimeString()}`)
        resolve()
      }
      img.onerror = () => {
        URL.revokeObjectURL(url)
        videoStatus('the still could not be shown; retrying')
        resolve()
      }
      img.src = url
    })
  }

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

  $('notify-toggle').addEventListener('click', () => void toggleNotify())
  $('unmute').addEventListener('click', toggleSound)
  $('live-video').addEventListener('volumechange', soundChanged)

  notifyOn = localStorage.getItem(NOTIFY_KEY) === 'on' && notifySupported() && Notification.permission === 'granted'
  renderNotify('')
  renderRecorder()
  renderEvents()
  connect()
})()
