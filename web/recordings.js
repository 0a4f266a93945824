/* vigil recordings page: plain JS, no build step. The list is GET /api/v1/recordings; a
 * session is several self-contained fragmented-MP4 segments, played in order in one
 * <video> (the next src on `ended`); downloads are one file per segment; deleting is
 * DELETE /api/v1/recordings/<id>, an operator's (the server answers 403 to a viewer). */
'use strict'
;(function () {
  const $ = (id) => document.getElementById(id)
  // An event session's pre-roll (pre-*) plays first: the listing is sorted by name.
  const SEGMENT = /^(?:pre|seg)-\d+\.mp4$/

  function toLogin() {
    location.replace('/login')
  }

  const formatBytes = window.vigilFormat.bytes

  function formatDuration(ms) {
    if (typeof ms !== 'number' || !Number.isFinite(ms)) return null
    const s = Math.round(ms / 1000)
    const h = Math.floor(s / 3600)
    const m = Math.floor((s % 3600) / 60)
    const sec = s % 60
    return h > 0 ? `${h} h ${String(m).padStart(2, '0')} min` : m > 0 ? `${m} min ${String(sec).padStart(2, '0')} s` : `${sec} s`
  }

  function durationOf(s) {
    if (s.state === 'recording') return 'recording…'
    const d = formatDuration(s.durationMs)
    if (d) return d
    // Interrupted sessions have no monotonic duration: the wall clock is the best we know.
    if (s.startedAt && s.stoppedAt) return `about ${formatDuration(Date.parse(s.stoppedAt) - Date.parse(s.startedAt))}`
    return 'unknown'
  }

  function gapsOf(s) {
    const gaps = Array.isArray(s.gaps) ? s.gaps : []
    if (gaps.length === 0) return 'none'
    const ms = gaps.reduce((n, g) => n + (typeof g.ms === 'number' ? g.ms : 0), 0)
    return `${gaps.length} (${(ms / 1000).toFixed(1)} s lost)`
  }

  function triggerOf(s) {
    if (!s.trigger || typeof s.trigger.kind !== 'string') return 'manual'
    return s.trigger.at ? `${s.trigger.kind} at ${new Date(s.trigger.at).toLocaleTimeString()}` : s.trigger.kind
  }

  // ---------------------------------------------------------------- player

  const player = { queue: [], index: 0, id: null }

  function playSession(s) {
    const segs = s.files.filter((f) => SEGMENT.test(f.name))
    if (segs.length === 0) return rowError(s.id, 'no segment to play yet')
    player.queue = segs
    player.index = 0
    player.id = s.id
    $('player-panel').hidden = false
    loadSegment(`${s.name || s.id}`)
    $('player-panel').scrollIntoView({ behavior: 'smooth', block: 'start' })
  }

  function loadSegment(title) {
    const v = $('player')
    const seg = player.queue[player.index]
    v.dataset.playing = player.id
    v.dataset.segment = seg.name
    v.src = seg.url
    $('player-title').textContent = `${title || $('player-title').dataset.name} — segment ${player.index + 1} of ${player.queue.length}`
    if (title) $('player-title').dataset.name = title
    void v.play().catch(() => {})
  }

  $('player').addEventListener('ended', () => {
    if (player.index + 1 >= player.queue.length) return
    player.index += 1
    loadSegment(null)
  })

  // ---------------------------------------------------------------- list

  let sessions = []

  function rowError(id, text) {
    const row = document.querySelector(`[data-session="${CSS.escape(id)}"] [data-testid="row-error"]`)
    if (!row) return
    row.textContent = text || ''
    row.hidden = !text
  }

  function field(dl, name, value, testid) {
    const dt = document.createElement('dt')
    dt.textContent = name
    const dd = document.createElement('dd')
    dd.textContent = value
    if (testid) dd.setAttribute('data-testid', testid)
    dl.append(dt, dd)
  }

  function button(text, testid, onClick, cls) {
    const b = document.createElement('button')
    b.type = 'button'
    b.textContent = text
    b.setAttribute('data-testid', testid)
    if (cls) b.className = cls
    b.addEventListener('click', onClick)
    return b
  }

  function renderRow(s) {
    const card = document.createElement('article')
    card.className = 'card session'
    card.dataset.session = s.id
    card.dataset.state = s.state || 'unknown'
    const h = document.createElement('h3')
    h.textContent = s.name || s.id
    const dl = document.createElement('dl')
    field(dl, 'start', s.startedAt ? new Date(s.startedAt).toLocaleString() : 'unknown', 'start')
    field(dl, 'duration', durationOf(s), 'duration')
    field(dl, 'size', `${formatBytes(s.bytes)} in ${s.segments} segment${s.segments === 1 ? '' : 's'}`, 'size')
    field(dl, 'state', s.state || 'unknown (no session.json)', 'state')
    field(dl, 'gaps', gapsOf(s), 'gaps')
    field(dl, 'trigger', triggerOf(s), 'trigger')
    const buttons = document.createElement('div')
    buttons.className = 'buttons'
    buttons.append(button('▶ Play', 'play', () => playSession(s)))
    if (s.owned) {
      const del = button('Delete', 'delete', () => void deleteSession(s), 'danger')
      // The server refuses it too (409); the button says so first.
      if (s.state === 'recording') {
        del.disabled = true
        del.title = 'being recorded: stop it first'
      }
      buttons.append(del)
    }
    const files = document.createElement('details')
    const summary = document.createElement('summary')
    summary.textContent = 'download'
    files.append(summary)
    for (const f of s.files) {
      const a = document.createElement('a')
      a.href = f.url
      a.download = `${s.id}-${f.name}`
      a.textContent = `${f.name} (${formatBytes(f.bytes)})`
      files.append(a)
    }
    const err = document.createElement('p')
    err.className = 'error'
    err.setAttribute('data-testid', 'row-error')
    err.setAttribute('role', 'alert')
    err.hidden = true
    card.append(h, dl, buttons, files, err)
    return card
  }

  function render() {
    $('sessions').replaceChildren(...sessions.map(renderRow))
    $('list-status').textContent = sessions.length === 0 ? 'no recordings yet' : `${sessions.length} session${sessions.length === 1 ? '' : 's'}`
  }

  function listError(text) {
    $('list-error').textContent = text || ''
    $('list-error').hidden = !text
  }

  async function load() {
    let res
    try {
      res = await fetch('/api/v1/recordings', { cache: 'no-store', credentials: 'same-origin' })
    } catch (err) {
      return listError(`vigil is not reachable (${err.message})`)
    }
    if (res.status === 401) return toLogin()
    const body = await res.json().catch(() => null)
    if (!res.ok || !body || !Array.isArray(body.sessions)) return listError(`could not list recordings (HTTP ${res.status})`)
    listError('')
    sessions = body.sessions
    render()
    document.body.dataset.loaded = 'true'
  }

  async function deleteSession(s) {
    if (!window.confirm(`Delete “${s.name || s.id}” (${s.startedAt ? new Date(s.startedAt).toLocaleString() : s.id})? This cannot be undone.`)) return
    // 10 s a try, 3 tries, one key for the click: a retry whose first 204 was lost gets 204, not 404.
    const res = await window.vigilApi.call(`/api/v1/recordings/${encodeURIComponent(s.id)}`, {
      method: 'DELETE',
      headers: { 'X-Idempotency-Key': window.vigilApi.newKey() },
      credentials: 'same-origin',
    })
    if (res.status === 0) return rowError(s.id, res.body.error.message)
    if (res.status === 401) return toLogin()
    if (res.status === 204) {
      if (player.id === s.id) {
        $('player').removeAttribute('src')
        $('player').load()
        $('player-panel').hidden = true
        player.id = null
      }
      sessions = sessions.filter((x) => x.id !== s.id)
      return render()
    }
    const e = res.body && res.body.error
    const why = res.status === 403 ? 'only an operator may delete recordings' : e ? `${e.code}: ${e.message}` : `HTTP ${res.status}`
    rowError(s.id, why)
  }

  $('refresh').addEventListener('click', () => void load())
  $('logout').addEventListener('click', async () => {
    try {
      await fetch('/api/v1/logout', { method: 'POST', credentials: 'same-origin' })
    } finally {
      toLogin()
    }
  })
  void load()
})()
