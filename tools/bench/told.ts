/**
 * How fast the person is told (DESIGN.md §9.2): one rig with the synthetic sound source
 * (a 1 s noise burst every 4 s), and three listeners of every sound event it raises:
 *
 * - the live page in headless Chromium (the event's row appears in the events list),
 * - a webhook receiver on loopback (the POST for `event.sound` arrives),
 * - `mosquitto_sub` on the embedded nats-server's MQTT listener (`vigil/<node>/event/sound`).
 *
 * Each latency runs from the moment the rig publishes the event (its feed, in this process)
 * to the moment the listener has it, all read off the same wall clock (the page's Date.now()
 * is the machine's). The detection itself (a burst must last `audio.minMs`, 300 ms by
 * default, to count) comes before that moment and is not in these figures.
 */
import { spawn, type ChildProcess } from 'node:child_process'
import { createServer, type Server } from 'node:http'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { chromium } from 'playwright-core'
import { startRig, type Rig } from '../../actors/rig/index.js'
import { ProcessOwner } from '../../infra/process.js'
import { silentLogger } from '../../infra/logger.js'
import { benchConfig, disownPid, ownDir, ownPid, waitFor } from './harness.js'
import { dist, type Dist } from './stats.js'

export interface ToldOptions {
  events: number
  log: (line: string) => void
}

export interface ToldResult {
  events: number
  /** ms from the rig's publish to the listener (`fromBurst`: from the burst's start); `missed`: events a listener never got. */
  page: Told
  webhook: Told
  mqtt: Told
}

type Told = Dist & { missed: number; fromBurst: Dist }

const CHROMIUM = process.env['CHROMIUM_PATH'] ?? '/usr/bin/chromium'

async function listen(server: Server): Promise<number> {
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  const addr = server.address()
  if (!addr || typeof addr === 'string') throw new Error('webhook receiver has no port')
  return addr.port
}

export async function told(o: ToldOptions): Promise<ToldResult> {
  const published = new Map<string, number>()
  // When the burst began: the level stayed above the threshold `durationMs` before the event.
  const burstAt = new Map<string, number>()
  const seen = { page: new Map<string, number>(), webhook: new Map<string, number>(), mqtt: new Map<string, number>() }

  const receiver = createServer((req, res) => {
    let body = ''
    req.setEncoding('utf8').on('data', (c: string) => (body += c))
    req.on('end', () => {
      const at = Date.now()
      try {
        const id = (JSON.parse(body) as { id?: string }).id
        if (id && !seen.webhook.has(id)) seen.webhook.set(id, at)
      } catch {
        // not a JSON delivery: not ours to time
      }
      res.writeHead(204).end()
    })
  })
  const hookPort = await listen(receiver)

  const dataDir = await mkdtemp(join(tmpdir(), 'vigil-bench-told-'))
  ownDir(dataDir)
  const config = await benchConfig('told', 'nats://unused', dataDir, { width: 640, height: 360, fps: 15 }, (c) => {
    c.nats.servers = [] // the embedded server, for its MQTT listener
    c.nats.port = 0
    c.nats.mqttPort = 0
    c.audio.source = 'testsrc'
    c.audio.cooldownMs = 1000
    c.notify.webhooks = [{ url: `http://127.0.0.1:${hookPort}/hook`, events: ['event.sound'], format: 'json' }]
  })
  const processes = new ProcessOwner()
  let rig: Rig | undefined
  let sub: ChildProcess | undefined
  let browserDir: string | undefined
  const browser = { close: async () => {} }
  try {
    rig = await startRig({ config, log: silentLogger(), processes })
    const r = rig
    r.feed.subscribe((item) => {
      if (item.type !== 'event' || item.kind !== 'sound') return
      const id = item.payload['id']
      if (typeof id !== 'string') return
      published.set(id, Date.now())
      const lasted = item.payload['durationMs']
      if (typeof lasted === 'number') burstAt.set(id, Date.parse(item.at) - lasted)
    })
    await waitFor(() => r.supervisor.state() === 'running' && r.supervisor.children().every((c) => c.status === 'running'), 60_000, 'every child running', 100)
    const mqttPort = r.ports.mqtt
    if (!mqttPort) throw new Error('the rig has no MQTT port')

    // -v: "topic payload" per line, as soon as it arrives (stdout is a pipe: -l would not help, lines are flushed per message).
    sub = spawn('mosquitto_sub', ['-h', '127.0.0.1', '-p', String(mqttPort), '-t', 'vigil/told/event/sound', '-v', '-q', '0'], { stdio: ['ignore', 'pipe', 'pipe'] })
    ownPid(sub.pid)
    let buf = ''
    sub.stdout!.setEncoding('utf8').on('data', (c: string) => {
      const at = Date.now()
      buf += c
      let nl: number
      while ((nl = buf.indexOf('\n')) >= 0) {
        const line = buf.slice(0, nl)
        buf = buf.slice(nl + 1)
        const id = /"id":"([^"]+)"/.exec(line)?.[1]
        if (id && !seen.mqtt.has(id)) seen.mqtt.set(id, at)
      }
    })

    browserDir = await mkdtemp(join(tmpdir(), 'vigil-bench-chromium-'))
    ownDir(browserDir)
    const context = await chromium.launchPersistentContext(browserDir, {
      executablePath: CHROMIUM,
      headless: true,
      viewport: { width: 375, height: 812 },
      args: ['--no-sandbox', '--disable-gpu', '--disable-dev-shm-usage', '--disable-background-networking', '--disable-component-update', '--no-first-run', '--mute-audio'],
    })
    browser.close = () => context.close()
    const page = context.pages()[0] ?? (await context.newPage())
    await page.exposeFunction('benchRow', (id: string, at: number) => {
      if (!seen.page.has(id)) seen.page.set(id, at)
    })
    // A string, not a function: this file is compiled without the DOM's types.
    await page.addInitScript(`
      const watch = () => {
        const list = document.querySelector('[data-testid="events"]')
        if (!list) return void setTimeout(watch, 50)
        const seen = new Set()
        new MutationObserver(() => {
          const at = Date.now()
          for (const row of list.querySelectorAll('[data-kind="sound"][data-id]')) {
            if (seen.has(row.dataset.id)) continue
            seen.add(row.dataset.id)
            window.benchRow(row.dataset.id, at)
          }
        }).observe(list, { childList: true, subtree: true })
      }
      document.addEventListener('DOMContentLoaded', watch)
    `)
    await page.goto(`http://127.0.0.1:${r.ports.web}/`)
    await page.waitForSelector('[data-testid="events"]')

    // Events already listed when the page opened are not timed: count from the next one on.
    const startAt = Date.now()
    const timed = () => [...published.entries()].filter(([, at]) => at > startAt + 500)
    o.log(`  waiting for ${o.events} sound events (one every ~4 s)`)
    await waitFor(() => timed().length >= o.events, o.events * 4000 * 3 + 30_000, `${o.events} sound events`, 200)
    const ids = timed().slice(0, o.events)
    // Give the slowest listener its chance (webhook retries are not what is measured).
    await waitFor(() => ids.every(([id]) => seen.page.has(id) && seen.webhook.has(id) && seen.mqtt.has(id)), 10_000, 'every listener told', 100).catch(() => {})
    const spread = (m: Map<string, number>) => {
      const got = ids.filter(([id]) => m.has(id))
      const fromBurst = got.filter(([id]) => burstAt.has(id)).map(([id]) => m.get(id)! - burstAt.get(id)!)
      return { ...dist(got.map(([id, at]) => m.get(id)! - at)), missed: ids.length - got.length, fromBurst: dist(fromBurst) }
    }
    const result = { events: ids.length, page: spread(seen.page), webhook: spread(seen.webhook), mqtt: spread(seen.mqtt) }
    for (const k of ['page', 'webhook', 'mqtt'] as const) {
      const d = result[k]
      o.log(`  ${k}: from the event p50 ${d.p50} ms, max ${d.max} ms; from the burst p50 ${d.fromBurst.p50} ms, max ${d.fromBurst.max} ms; over ${d.n} events${d.missed ? `, ${d.missed} missed` : ''}`)
    }
    return result
  } finally {
    await browser.close().catch(() => {})
    if (sub?.pid) {
      sub.kill('SIGTERM')
      disownPid(sub.pid)
    }
    if (rig) {
      rig.requestShutdown('bench done')
      await rig.exited
    }
    processes.killAll()
    receiver.close()
    await rm(dataDir, { recursive: true, force: true })
    if (browserDir) await rm(browserDir, { recursive: true, force: true })
  }
}
