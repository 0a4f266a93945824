// vigil inspector: every supervised actor's statechart, drawn from the layout the
// server computed (elkjs, from the machine definitions), with the active states
// highlighted live. Plain JS and SVG, no dependencies: works on a closed network.

const SVG_NS = 'http://www.w3.org/2000/svg'
const POLL_MS = 500

/** child id → { section, svg, nodes: Map<id, g>, badges, instance, machine } */
const views = new Map()
let selected = null
let lastState = null
let loadingMachines = null
/** child id → recent events (oldest first), from /api/v1/inspect/events. */
const timelines = new Map()
let eventSeq = 0
const TIMELINE_MAX = 100

const $ = (id) => document.getElementById(id)

function svgEl(name, attrs = {}, parent) {
  const el = document.createElementNS(SVG_NS, name)
  for (const [k, v] of Object.entries(attrs)) el.setAttribute(k, String(v))
  if (parent) parent.appendChild(el)
  return el
}

function htmlEl(name, attrs = {}, text) {
  const el = document.createElement(name)
  for (const [k, v] of Object.entries(attrs)) el.setAttribute(k, String(v))
  if (text !== undefined) el.textContent = text
  return el
}

function depthOf(node, byId) {
  let d = 0
  for (let p = node.parent; p !== null && byId.has(p); p = byId.get(p).parent) d++
  return d
}

/** One machine's diagram: nested rounded boxes, arrows with event labels. */
function drawMachine(entry) {
  const layout = entry.layout
  const svg = svgEl('svg', {
    width: Math.ceil(layout.width),
    height: Math.ceil(layout.height),
    viewBox: `0 0 ${Math.ceil(layout.width)} ${Math.ceil(layout.height)}`,
    role: 'img',
    'aria-label': `statechart of ${entry.machine}`,
    'data-testid': `diagram-${entry.child}`,
  })
  const defs = svgEl('defs', {}, svg)
  const markerId = `arrow-${entry.child}`
  const marker = svgEl('marker', { id: markerId, viewBox: '0 0 10 10', refX: 9, refY: 5, markerWidth: 7, markerHeight: 7, orient: 'auto-start-reverse' }, defs)
  svgEl('path', { d: 'M 0 0 L 10 5 L 0 10 z' }, marker)

  const byId = new Map(layout.nodes.map((n) => [n.id, n]))
  const nodes = new Map()
  const sorted = [...layout.nodes].sort((a, b) => depthOf(a, byId) - depthOf(b, byId))
  for (const n of sorted) {
    const parent = n.parent === null ? null : byId.get(n.parent)
    const container = n.type === 'compound' || n.type === 'parallel'
    const classes = ['state', n.type]
    if (n.parent === null) classes.push('root')
    if (parent && parent.type === 'parallel') classes.push('region')
    const g = svgEl('g', { class: classes.join(' '), 'data-id': n.id, 'data-testid': `state-${entry.child}-${n.path || '(root)'}` }, svg)
    const title = svgEl('title', {}, g)
    title.textContent = `${n.id}${n.tags.length ? ` [${n.tags.join(', ')}]` : ''}`
    svgEl('rect', { class: 'box', x: n.x, y: n.y, width: n.width, height: n.height, rx: 8, ry: 8 }, g)
    if (n.type === 'final') svgEl('rect', { class: 'inner', x: n.x + 3, y: n.y + 3, width: n.width - 6, height: n.height - 6, rx: 6, ry: 6 }, g)
    const label = svgEl('text', container || n.parent === null
      ? { class: 'label', x: n.x + 10, y: n.y + 17 }
      : { class: 'label', x: n.x + n.width / 2, y: n.y + 21, 'text-anchor': 'middle' }, g)
    label.textContent = n.parent === null ? entry.machine : n.label
    n.internal.forEach((text, i) => {
      const t = svgEl('text', container
        ? { class: 'internal', x: n.x + 10, y: n.y + 31 + i * 14 }
        : { class: 'internal', x: n.x + n.width / 2, y: n.y + 35 + i * 14, 'text-anchor': 'middle' }, g)
      t.textContent = `↺ ${text}`
    })
    if (n.initial) {
      svgEl('circle', { class: 'initial-dot', cx: n.x - 10, cy: n.y + 8, r: 3.5 }, svg)
      svgEl('path', { class: 'initial-line', d: `M ${n.x - 10} ${n.y + 8} L ${n.x - 1} ${n.y + 8}`, stroke: 'currentColor', 'marker-end': `url(#${markerId})` }, svg)
    }
    nodes.set(n.id, g)
  }

  for (const e of layout.edges) {
    const g = svgEl('g', { class: `edge ${e.kind}`, 'data-id': e.id }, svg)
    for (const section of e.points) {
      if (section.length < 2) continue
      const d = section.map((p, i) => `${i === 0 ? 'M' : 'L'} ${p.x} ${p.y}`).join(' ')
      svgEl('path', { d, 'marker-end': `url(#${markerId})` }, g)
    }
    if (e.labelBox) {
      const t = svgEl('text', { x: e.labelBox.x, y: e.labelBox.y + e.labelBox.height - 3 }, g)
      t.textContent = e.label
    }
  }
  return { svg, nodes }
}

function badge(cls, testid) {
  return htmlEl('span', { class: `badge ${cls}`, 'data-testid': testid })
}

function addView(entry) {
  const section = htmlEl('section', { class: 'machine', 'data-child': entry.child, 'data-testid': `machine-${entry.child}` })
  const h2 = htmlEl('h2')
  h2.appendChild(htmlEl('span', { class: 'name' }, entry.child))
  const badges = {
    state: badge('state', `state-of-${entry.child}`),
    restarts: badge('restarts', `restarts-of-${entry.child}`),
    gen: badge('gen', `gen-of-${entry.child}`),
  }
  for (const b of Object.values(badges)) h2.appendChild(b)
  section.appendChild(h2)
  const scroll = htmlEl('div', { class: 'scroll' })
  const { svg, nodes } = drawMachine(entry)
  scroll.appendChild(svg)
  section.appendChild(scroll)
  section.addEventListener('click', () => select(entry.child))
  $('machines').appendChild(section)
  const view = { section, nodes, badges, instance: undefined, machine: entry.machine }
  views.set(entry.child, view)
  return view
}

async function loadMachines() {
  loadingMachines ??= (async () => {
    try {
      const res = await fetch('/api/v1/inspect/machines', { cache: 'no-store' })
      if (!res.ok) throw new Error(`machines: HTTP ${res.status}`)
      const { machines } = await res.json()
      $('loading')?.remove()
      for (const entry of machines) {
        const have = views.get(entry.child)
        if (have && have.machine === entry.machine) continue
        if (have) have.section.remove()
        addView(entry)
      }
    } finally {
      loadingMachines = null
    }
  })()
  return loadingMachines
}

function select(child) {
  selected = child
  for (const [id, v] of views) v.section.classList.toggle('selected', id === selected)
  renderPanel()
}

function renderPanel() {
  if (!selected || !lastState) return
  const item = selected === 'supervisor'
    ? { child: 'supervisor', state: lastState.supervisor.state, value: lastState.supervisor.value, context: null }
    : lastState.children.find((c) => c.child === selected)
  if (!item) return
  $('panel-title').textContent = `Context: ${selected}`
  $('panel-hint').hidden = true
  const meta = $('panel-meta')
  meta.replaceChildren()
  const rows = [
    ['state', item.state],
    ['value', JSON.stringify(item.value)],
    ...(item.restarts === undefined ? [] : [['restarts', String(item.restarts)], ['gen', String(item.gen ?? '–')], ['instance', item.instance ?? '–']]),
    ...(item.lastExit ? [['last exit', `${item.lastExit.reason} (${item.lastExit.at})`]] : []),
    ...(item.nextRetryAt ? [['next retry', item.nextRetryAt]] : []),
  ]
  for (const [k, v] of rows) {
    meta.appendChild(htmlEl('dt', {}, k))
    meta.appendChild(htmlEl('dd', {}, v))
  }
  $('panel-context').textContent = item.context === null ? '(no context)' : JSON.stringify(item.context, null, 2)
  renderTimeline()
}

function shortValue(value) {
  if (typeof value === 'string') return value
  if (value === null || value === undefined) return ''
  return JSON.stringify(value)
}

function renderTimeline() {
  const list = $('timeline')
  const events = timelines.get(selected) ?? []
  const items = []
  let instance = null
  for (const e of events) {
    const li = htmlEl('li', { 'data-type': e.type })
    if (instance !== null && e.instance !== instance) li.classList.add('restart')
    instance = e.instance
    li.appendChild(htmlEl('span', { class: 'time' }, e.at.slice(11, 23)))
    li.appendChild(htmlEl('span', { class: 'type' }, e.type))
    if (e.count > 1) li.appendChild(htmlEl('span', { class: 'count' }, `×${e.count}`))
    const to = shortValue(e.value)
    if (to) li.appendChild(htmlEl('span', { class: 'to' }, `→ ${to}`))
    const payload = e.payload && Object.keys(e.payload).length ? JSON.stringify(e.payload) : ''
    if (payload || e.source) li.appendChild(htmlEl('span', { class: 'payload' }, `${e.source ? `from ${e.source} ` : ''}${payload}`))
    items.push(li)
  }
  // Newest first.
  list.replaceChildren(...items.reverse())
}

async function pollEvents() {
  const res = await fetch(`/api/v1/inspect/events?since=${eventSeq}`, { cache: 'no-store' })
  if (!res.ok) throw new Error(`events: HTTP ${res.status}`)
  const body = await res.json()
  for (const e of body.events) {
    const list = timelines.get(e.child) ?? []
    // A folded run comes back with a new seq: replace the entry it grew from.
    const last = list.at(-1)
    if (last && last.instance === e.instance && last.type === e.type && last.firstAt === e.firstAt) list.pop()
    list.push(e)
    if (list.length > TIMELINE_MAX) list.splice(0, list.length - TIMELINE_MAX)
    timelines.set(e.child, list)
  }
  eventSeq = body.seq
}

function highlight(view, active) {
  const on = new Set(active)
  for (const [id, g] of view.nodes) g.classList.toggle('active', on.has(id))
}

function applyState(state) {
  lastState = state
  const sup = $('supervisor-state')
  sup.textContent = `supervisor: ${state.supervisor.state}`
  const supView = views.get('supervisor')
  if (supView) {
    highlight(supView, state.supervisor.active)
    supView.badges.state.textContent = state.supervisor.state
  }
  let missing = false
  for (const c of state.children) {
    const view = views.get(c.child)
    if (!view || (c.machine && view.machine !== c.machine)) {
      if (c.machine) missing = true
      continue
    }
    highlight(view, c.active)
    view.section.classList.toggle('down', c.instance === null)
    view.section.dataset.state = c.state
    view.badges.state.textContent = c.state
    view.badges.restarts.textContent = `restarts: ${c.restarts}`
    view.badges.restarts.dataset.count = String(c.restarts)
    view.badges.gen.textContent = `instance #${c.gen ?? '?'}`
    if (view.instance !== undefined && c.instance !== null && c.instance !== view.instance) {
      // A new actor instance (the supervisor restarted it): flash the diagram.
      view.section.classList.remove('restarted')
      void view.section.offsetWidth
      view.section.classList.add('restarted')
    }
    if (c.instance !== null) view.instance = c.instance
  }
  if (missing) void loadMachines().catch(() => {})
  renderPanel()
}

async function poll() {
  const status = $('poll-status')
  try {
    if (views.size === 0) await loadMachines()
    const res = await fetch('/api/v1/inspect/state', { cache: 'no-store' })
    if (!res.ok) throw new Error(`state: HTTP ${res.status}`)
    applyState(await res.json())
    await pollEvents()
    renderTimeline()
    status.textContent = 'live'
    status.dataset.status = 'ok'
  } catch (err) {
    status.textContent = `offline (${err.message})`
    status.dataset.status = 'error'
  } finally {
    setTimeout(poll, POLL_MS)
  }
}

void poll()
