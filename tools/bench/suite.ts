/**
 * `npm run bench`: vigil measured against its limits (bare NATS), its peers (HTTP)
 * and its budgets (stall 2 s, record start 1 s / stop 2 s). One real rig in this
 * process on a real nats-server with the synthetic camera; idle cost from rigs in
 * their own processes. Writes bench/results/<name>.json and a table in docs/BENCHMARKS.md.
 */
import { execFileSync } from 'node:child_process'
import { mkdir, readdir, readFile, stat, writeFile } from 'node:fs/promises'
import { Agent, request as httpRequest } from 'node:http'
import { cpus, loadavg } from 'node:os'
import { join } from 'node:path'
import { connect } from '@nats-io/transport-node'
import { startNatsServer, repoRoot } from '../../test/helpers/natsServer.js'
import { camStatus, CLK_TCK, descendants, isAlive, procTicks, ready, sleep, spawnRigProcess, startBenchRig, waitFor, type BenchRig, type CameraSize } from './harness.js'

export interface Dist {
  n: number
  p50: number
  p90: number
  p99: number
  min: number
  max: number
  mean: number
}

export function dist(samples: number[]): Dist {
  const s = [...samples].sort((a, b) => a - b)
  const at = (p: number) => s[Math.min(s.length - 1, Math.floor((p / 100) * s.length))] ?? 0
  const r = (n: number) => Math.round(n * 1000) / 1000
  return { n: s.length, p50: r(at(50)), p90: r(at(90)), p99: r(at(99)), min: r(s[0] ?? 0), max: r(s.at(-1) ?? 0), mean: r(s.reduce((a, b) => a + b, 0) / Math.max(1, s.length)) }
}

export interface BenchOptions {
  only?: string[]
  requests: number
  trials: number
  idleSeconds: number
  idleRigs: number[]
  alerts: number
  /** Stable streaming before each restart trial (the camera's backoff resets after 60 s). */
  restartGapMs: number
  camera: CameraSize
  log: (line: string) => void
}

type Results = Record<string, unknown>

// ---- 1. command round trip -------------------------------------------------------------------

async function roundTrip(r: BenchRig, natsUrl: string, o: BenchOptions): Promise<Results> {
  const N = o.requests
  // vigil: supervisor.status through the router.
  const sample = await r.cmd('supervisor', 'status')
  if (!sample.ok) throw new Error(`supervisor.status: ${sample.error.code}`)
  const replyBytes = Buffer.byteLength(JSON.stringify(sample))
  const time = async (fn: () => Promise<void>) => {
    const out: number[] = []
    for (let i = 0; i < 50; i++) await fn()
    for (let i = 0; i < N; i++) {
      const t0 = performance.now()
      await fn()
      out.push(performance.now() - t0)
    }
    return out
  }
  o.log(`  round trip: ${N} × supervisor.status over NATS`)
  let failed = 0
  const nats = await time(async () => {
    const x = await r.cmd('supervisor', 'status', {}, 5000)
    if (!x.ok) failed += 1
  })

  // The limit: a bare echo on the same server, same reply size, its own connections.
  o.log(`  round trip: ${N} × bare NATS request/reply echo (${replyBytes} B reply)`)
  const responder = await connect({ servers: natsUrl })
  const requester = await connect({ servers: natsUrl })
  const replyBody = new Uint8Array(replyBytes).fill(0x20)
  responder.subscribe('bench.echo', { callback: (_e, m) => void m.respond(replyBody) })
  await responder.flush()
  const reqBody = new TextEncoder().encode('{"args":{}}')
  const echo = await time(async () => {
    await requester.request('bench.echo', reqBody, { timeout: 5000 })
  })
  await requester.close()
  await responder.close()

  // The HTTP peer: GET /api/v1/state (the web API's read of the same supervisor state, plus
  // actor contexts and recent alerts), keep-alive, sequential like the NATS loop.
  const base = `http://127.0.0.1:${r.rig.ports.web}`
  const agent = new Agent({ keepAlive: true, maxSockets: 1 })
  const get = (path: string) =>
    new Promise<number>((resolve, reject) => {
      const req = httpRequest(new URL(path, base), { agent }, (res) => {
        res.resume()
        res.on('end', () => resolve(res.statusCode ?? 0))
      })
      req.on('error', reject)
      req.end()
    })
  let non2xx = 0
  o.log(`  round trip: ${N} × GET /api/v1/state over HTTP`)
  const http = await time(async () => {
    const code = await get('/api/v1/state')
    if (code < 200 || code >= 300) non2xx += 1
  })
  o.log(`  round trip: ${N} × GET /health over HTTP`)
  const health = await time(async () => {
    await get('/health')
  })
  agent.destroy()
  const d = { nats: dist(nats), echo: dist(echo), http: dist(http), health: dist(health) }
  o.log(`  → nats p50 ${d.nats.p50} ms p99 ${d.nats.p99} ms | echo p50 ${d.echo.p50} p99 ${d.echo.p99} | http state p50 ${d.http.p50} p99 ${d.http.p99}`)
  return { requests: N, replyBytes, failed, non2xx, ...d, samples: { nats, echo, http } }
}

// ---- 2. stall detection ----------------------------------------------------------------------

async function stall(r: BenchRig, o: BenchOptions): Promise<Results> {
  const alerts: Array<{ at: number; code: string; id: string }> = []
  const states: Array<{ at: number; state: string; since: string }> = []
  const sub = r.client.subscribe(`vigil.${r.node}.alert.>`, {
    callback: (_e, m) => {
      const a = JSON.parse(new TextDecoder().decode(m.data)) as { code: string; id: string }
      alerts.push({ at: Date.now(), code: a.code, id: a.id })
    },
  })
  const ssub = r.client.subscribe(`vigil.${r.node}.state.camera`, {
    callback: (_e, m) => {
      const s = JSON.parse(new TextDecoder().decode(m.data)) as { state: string; since: string }
      states.push({ at: Date.now(), state: s.state, since: s.since })
    },
  })
  const trials: Array<{ alertMs: number; stateMs: number; recoveredMs: number }> = []
  for (let i = 0; i < o.trials; i++) {
    const cam = await ready(r)
    await sleep(1500)
    const pid = cam.pids[0]!
    const from = alerts.length
    const stoppedAt = Date.now()
    process.kill(pid, 'SIGSTOP')
    try {
      await waitFor(() => alerts.slice(from).some((a) => a.code === 'camera.stalled'), 15000, 'camera.stalled alert', 5)
    } finally {
      if (isAlive(pid)) process.kill(pid, 'SIGCONT')
    }
    const alert = alerts.slice(from).find((a) => a.code === 'camera.stalled')!
    const st = states.find((s) => s.at >= stoppedAt && s.state === 'stalled')
    await ready(r, pid)
    const recoveredMs = Date.now() - stoppedAt
    const t = { alertMs: alert.at - stoppedAt, stateMs: st ? st.at - stoppedAt : -1, recoveredMs }
    trials.push(t)
    o.log(`  stall ${i + 1}/${o.trials}: alert ${t.alertMs} ms, stalled state ${t.stateMs} ms, streaming again (new pid) ${recoveredMs} ms`)
  }
  sub.unsubscribe()
  ssub.unsubscribe()
  return { budgetMs: 2000, trials, alert: dist(trials.map((t) => t.alertMs)), recovered: dist(trials.map((t) => t.recoveredMs)) }
}

// ---- 3. recording start / stop ---------------------------------------------------------------

async function mediaBytes(dir: string): Promise<number> {
  let n = 0
  for (const f of await readdir(dir).catch(() => [] as string[])) {
    if (f === 'session.json' || f.endsWith('.json')) continue
    n += (await stat(join(dir, f)).catch(() => ({ size: 0 }))).size
  }
  return n
}

async function recording(r: BenchRig, o: BenchOptions): Promise<Results> {
  await ready(r)
  await sleep(2000) // the media server holds a GOP
  const trials: Array<{ replyMs: number; firstBytesMs: number; stopMs: number; state: string }> = []
  for (let i = 0; i < o.trials; i++) {
    const t0 = performance.now()
    const started = await r.cmd<{ id: string; dir: string }>('recorder', 'start', { name: `bench-${i}` })
    const replyMs = performance.now() - t0
    if (!started.ok) throw new Error(`recorder.start: ${started.error.code} ${started.error.message}`)
    await waitFor(async () => (await mediaBytes(started.result.dir)) > 0, 10000, 'first bytes on disk', 5)
    const firstBytesMs = performance.now() - t0
    await sleep(2500)
    const t1 = performance.now()
    const stopped = await r.cmd<{ state: string }>('recorder', 'stop', {}, 15000)
    const stopMs = performance.now() - t1
    if (!stopped.ok) throw new Error(`recorder.stop: ${stopped.error.code} ${stopped.error.message}`)
    const t = { replyMs: Math.round(replyMs * 10) / 10, firstBytesMs: Math.round(firstBytesMs * 10) / 10, stopMs: Math.round(stopMs * 10) / 10, state: stopped.result.state }
    trials.push(t)
    o.log(`  record ${i + 1}/${o.trials}: start reply ${t.replyMs} ms, first bytes ${t.firstBytesMs} ms, stop → ${t.state} ${t.stopMs} ms`)
    await sleep(500)
  }
  return {
    startBudgetMs: 1000,
    stopBudgetMs: 2000,
    trials,
    startReply: dist(trials.map((t) => t.replyMs)),
    firstBytes: dist(trials.map((t) => t.firstBytesMs)),
    stop: dist(trials.map((t) => t.stopMs)),
  }
}

// ---- 4. restart latency ----------------------------------------------------------------------

async function restart(r: BenchRig, o: BenchOptions): Promise<Results> {
  const trials: number[] = []
  for (let i = 0; i < o.trials; i++) {
    const cam = await ready(r)
    // The camera's reconnect backoff (250 ms · 2^n) resets after 60 s of stable streaming:
    // wait that out so every trial is a first fault, not the n-th in a row.
    if (o.restartGapMs > 0) o.log(`  restart ${i + 1}/${o.trials}: ${Math.round(o.restartGapMs / 1000)} s of stable streaming first (backoff reset)`)
    await sleep(Math.max(1500, o.restartGapMs))
    const pid = cam.pids[0]!
    const killedAt = performance.now()
    process.kill(pid, 'SIGKILL')
    let back = await camStatus(r)
    await waitFor(async () => {
      back = await camStatus(r)
      return back?.state === 'streaming' && back.pids.length > 0 && back.pids[0] !== pid
    }, 30000, 'camera streaming with a new pid', 10)
    const ms = Math.round(performance.now() - killedAt)
    trials.push(ms)
    o.log(`  restart ${i + 1}/${o.trials}: SIGKILL ${pid} → streaming as ${back!.pids[0]} in ${ms} ms`)
  }
  let pm2: string
  try {
    execFileSync('pm2', ['--version'], { stdio: 'pipe' })
    pm2 = 'installed but not compared yet'
  } catch {
    pm2 = 'not installed (npm has pm2 7.0.4); PM2 side not measured'
  }
  return { at: new Date().toISOString(), gapMs: o.restartGapMs, trials, dist: dist(trials), pm2 }
}

// ---- 5. idle cost ----------------------------------------------------------------------------

async function idle(natsUrl: string, o: BenchOptions): Promise<Results> {
  const runs: Results[] = []
  for (const count of o.idleRigs) {
    o.log(`  idle: starting ${count} rig process(es) on one nats-server, camera ${o.camera.width}x${o.camera.height}@${o.camera.fps}`)
    const procs = await Promise.all(Array.from({ length: count }, (_, i) => spawnRigProcess(`idle${count}x${i}`, natsUrl, o.camera)))
    try {
      await sleep(5000)
      const snap = async () => {
        const per = []
        for (const p of procs) {
          const self = await procTicks(p.pid)
          let tree = self?.ticks ?? 0
          let treeRss = self?.rssKb ?? 0
          for (const d of await descendants(p.pid)) {
            const s = await procTicks(d)
            tree += s?.ticks ?? 0
            treeRss += s?.rssKb ?? 0
          }
          per.push({ ticks: self?.ticks ?? 0, rssKb: self?.rssKb ?? 0, tree, treeRss })
        }
        return { at: performance.now(), per }
      }
      const a = await snap()
      const rss: number[] = []
      for (let s = 0; s < o.idleSeconds; s += 2) {
        await sleep(2000)
        const x = await snap()
        rss.push(...x.per.map((p) => p.rssKb))
      }
      const b = await snap()
      const secs = (b.at - a.at) / 1000
      const perRig = procs.map((_, i) => ({
        cpuPct: Math.round(((b.per[i]!.ticks - a.per[i]!.ticks) / CLK_TCK / secs) * 1000) / 10,
        treeCpuPct: Math.round(((b.per[i]!.tree - a.per[i]!.tree) / CLK_TCK / secs) * 1000) / 10,
        rssMb: Math.round(b.per[i]!.rssKb / 102.4) / 10,
        treeRssMb: Math.round(b.per[i]!.treeRss / 102.4) / 10,
      }))
      const sum = (k: keyof (typeof perRig)[number]) => Math.round(perRig.reduce((n, p) => n + p[k], 0) * 10) / 10
      const run = { rigs: count, seconds: Math.round(secs * 10) / 10, perRig, total: { cpuPct: sum('cpuPct'), treeCpuPct: sum('treeCpuPct'), rssMb: sum('rssMb'), treeRssMb: sum('treeRssMb') }, maxRssMb: Math.round(Math.max(...rss) / 102.4) / 10 }
      o.log(`  idle ${count} rig(s): supervisor ${run.total.cpuPct}% CPU, ${run.total.rssMb} MB RSS; with children ${run.total.treeCpuPct}% CPU, ${run.total.treeRssMb} MB`)
      runs.push(run)
    } finally {
      await Promise.all(procs.map((p) => p.stop()))
    }
  }
  return { camera: o.camera, seconds: o.idleSeconds, runs }
}

// ---- 6. alert throughput ---------------------------------------------------------------------

async function alertThroughput(r: BenchRig, natsUrl: string, o: BenchOptions): Promise<Results> {
  const runs: Results[] = []
  for (const n of [1000, o.alerts]) {
    const sub = await connect({ servers: natsUrl })
    const seen = new Set<string>()
    let last = 0
    const tag = `b${Date.now()}`
    sub.subscribe(`vigil.${r.node}.alert.>`, {
      callback: (_e, m) => {
        const a = JSON.parse(new TextDecoder().decode(m.data)) as { id: string }
        if (a.id.startsWith(tag)) {
          seen.add(a.id)
          last = performance.now()
        }
      },
    })
    await sub.flush()
    const before = r.rig.bus.stats()
    const t0 = performance.now()
    for (let i = 0; i < n; i++) {
      r.rig.bus.publishAlert({ id: `${tag}-${i}`, severity: 'info', source: 'bench', code: 'bench.alert', message: `bench alert ${i}` })
      // Yield now and then, as a real rig does between events.
      if (i % 500 === 499) await new Promise((res) => setImmediate(res))
    }
    const published = performance.now() - t0
    await r.rig.bus.flush()
    let stable = 0
    let prevSize = -1
    while (seen.size < n && stable < 20) {
      await sleep(50)
      stable = seen.size === prevSize ? stable + 1 : 0
      prevSize = seen.size
    }
    const elapsed = (last - t0) / 1000
    const after = r.rig.bus.stats()
    await sub.close()
    const run = { alerts: n, delivered: seen.size, lost: n - seen.size, publishMs: Math.round(published), endToEndMs: Math.round(elapsed * 1000), perSecond: Math.round(seen.size / elapsed), bus: { before, after } }
    o.log(`  alerts ${n}: delivered ${seen.size} (lost ${run.lost}) in ${run.endToEndMs} ms → ${run.perSecond}/s`)
    runs.push(run)
  }
  return { runs }
}

// ---- run ------------------------------------------------------------------------------------------

export async function runBench(o: BenchOptions): Promise<{ results: Results; file: string }> {
  const want = (k: string) => !o.only || o.only.includes(k)
  const results: Results = {
    env: { node: process.version, cpus: cpus().length, cpu: cpus()[0]?.model ?? '?', at: new Date().toISOString(), camera: o.camera, loadavg: loadavg() },
  }
  const started = performance.now()
  o.log(`bench: starting nats-server and a rig (camera ${o.camera.width}x${o.camera.height}@${o.camera.fps})`)
  const nats = await startNatsServer()
  let rig: BenchRig | undefined
  try {
    const needRig = ['rtt', 'stall', 'record', 'restart', 'alerts'].some(want)
    if (needRig) {
      rig = await startBenchRig('bench', nats.url, o.camera)
      await ready(rig)
      o.log('bench: rig ready')
    }
    const step = async (key: string, title: string, fn: () => Promise<Results>) => {
      if (!want(key)) return
      o.log(`[${key}] ${title}`)
      try {
        results[key] = await fn()
      } catch (err) {
        o.log(`  ✗ ${key}: ${(err as Error).message}`)
        results[key] = { error: (err as Error).message }
      }
    }
    await step('rtt', 'command round trip: NATS vs bare echo vs HTTP', () => roundTrip(rig!, nats.url, o))
    await step('stall', 'stall detection: SIGSTOP camera ffmpeg → camera.stalled', () => stall(rig!, o))
    await step('record', 'recording start → first bytes, stop → finalized', () => recording(rig!, o))
    await step('restart', 'restart: SIGKILL camera ffmpeg → streaming with a new pid', () => restart(rig!, o))
    await step('alerts', 'alert throughput: bus → subscriber', () => alertThroughput(rig!, nats.url, o))
    if (rig) {
      await rig.stop()
      rig = undefined
    }
    await step('idle', 'idle cost: supervisor CPU and RSS', () => idle(nats.url, o))
  } finally {
    if (rig) await rig.stop().catch(() => {})
    await nats.stop()
  }
  ;(results['env'] as Results)['seconds'] = Math.round((performance.now() - started) / 1000)
  const dir = join(repoRoot, 'bench/results')
  await mkdir(dir, { recursive: true })
  const file = join(dir, `rig-${new Date().toISOString().replace(/[:.]/g, '-')}.json`)
  await writeFile(file, `${JSON.stringify(results, null, 2)}\n`)
  return { results, file }
}

export async function readResults(file: string): Promise<Results> {
  return JSON.parse(await readFile(file, 'utf8')) as Results
}
