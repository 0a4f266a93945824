/**
 * `npm run bench`: vigil measured against its limits (bare NATS), its peers (HTTP)
 * and its budgets (stall 2 s, record start 1 s / stop 2 s). One real rig in this
 * process on a real nats-server with the synthetic camera; idle cost from rigs in
 * their own processes. Writes bench/results/<name>.json and a table in docs/BENCHMARKS.md.
 */
import { mkdir, readdir, readFile, stat, writeFile } from 'node:fs/promises'
import { Agent, request as httpRequest } from 'node:http'
import { cpus, loadavg } from 'node:os'
import { join, relative } from 'node:path'
import { connect } from '@nats-io/transport-node'
import { command } from '../../infra/nats/client.js'
import { DEFAULT_MOTION } from '../../actors/camera/ffmpegArgs.js'
import { footage } from './footage.js'
import { startNatsServer, repoRoot } from '../../test/helpers/natsServer.js'
import { CAMERA_DEFAULTS } from '../../machines/camera.machine.js'
import { DEFAULT_APP, rtmpUrl, signedRtmpUrl } from '../../actors/media/urls.js'
import { redactCredentials } from '../../infra/redaction.js'
import { liveVideo } from './liveVideo.js'
import { webhookLatency } from './webhook.js'
import { mqttLatency } from './mqtt.js'
import { uploadThroughput } from './upload.js'
import { fleetBench } from './fleet.js'
import { told } from './told.js'
import { continuity } from './continuity.js'
import { resolveFfmpeg } from '../../infra/binaries.js'
import { camStatus, CLK_TCK, descendants, findChild, isAlive, ownDir, procTicks, ready, sleep, spawnRigProcess, startBenchRig, waitFor, type BenchRig, type CameraSize } from './harness.js'
import { PM2_STREAM, pm2Ready, pruneOutputs, startPm2Camera, type Pm2Camera } from './pm2.js'

import { dist, type Dist } from './stats.js'
// Re-exported: bench entries and their callers read the spread from here too.
export { dist, type Dist }

export interface BenchOptions {
  only?: string[]
  requests: number
  trials: number
  idleSeconds: number
  idleRigs: number[]
  /** The idle rigs' camera (default the default config's 1280x720@15). */
  idleCamera: CameraSize
  /** footage: trials (default: trials) and seconds recorded before the supervisor's SIGKILL. */
  footageTrials: number
  footageSeconds: number
  alerts: number
  /** Stable streaming before each restart trial (the camera's backoff resets after 60 s). */
  restartGapMs: number
  /** live: reader counts to compare (each direct then proxied) and seconds per sample. */
  liveReaders: number[]
  liveSeconds: number
  camera: CameraSize
  /** mqtt: sound events measured (one per 4 s burst). */
  mqttEvents: number
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
  // The limit: a bare echo on the same server, same reply size, its own connections.
  // Taken in turns with the command (one command, one echo, …), so whatever else the box
  // and this process do meanwhile (the rig's camera, motion, a GC) falls on both alike.
  o.log(`  round trip: ${N} × supervisor.status over NATS, in turns with ${N} × a bare NATS request/reply echo (${replyBytes} B reply)`)
  const responder = await connect({ servers: natsUrl })
  const requester = await connect({ servers: natsUrl })
  const replyBody = new Uint8Array(replyBytes).fill(0x20)
  responder.subscribe('bench.echo', { callback: (_e, m) => void m.respond(replyBody) })
  await responder.flush()
  const reqBody = new TextEncoder().encode('{"args":{}}')
  let failed = 0
  const nats: number[] = []
  const echo: number[] = []
  for (let i = 0; i < N + 50; i++) {
    const t0 = performance.now()
    const x = await r.cmd('supervisor', 'status', {}, 5000)
    const t1 = performance.now()
    await requester.request('bench.echo', reqBody, { timeout: 5000 })
    const t2 = performance.now()
    if (i < 50) continue
    if (!x.ok) failed += 1
    nats.push(t1 - t0)
    echo.push(t2 - t1)
  }
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

const round1 = (n: number) => Math.round(n * 10) / 10

async function mediaBytes(dir: string, only?: RegExp): Promise<number> {
  let n = 0
  for (const f of await readdir(dir).catch(() => [] as string[])) {
    if (f === 'session.json' || f.endsWith('.json') || (only && !only.test(f))) continue
    n += (await stat(join(dir, f)).catch(() => ({ size: 0 }))).size
  }
  return n
}

async function recording(r: BenchRig, o: BenchOptions): Promise<Results> {
  await ready(r)
  await sleep(2000) // the media server holds a GOP, the warm-start buffer a closed second
  const trials: Array<{ replyMs: number; firstBytesMs: number; recorderBytesMs: number; warmMs: number; recorderPreRollMs: number | null; stopMs: number; state: string }> = []
  for (let i = 0; i < o.trials; i++) {
    const t0 = performance.now()
    const started = await r.cmd<{ id: string; dir: string }>('recorder', 'start', { name: `bench-${i}` })
    const replyMs = performance.now() - t0
    if (!started.ok) throw new Error(`recorder.start: ${started.error.code} ${started.error.message}`)
    const dir = started.result.dir
    await waitFor(async () => (await mediaBytes(dir)) > 0, 10000, 'first bytes on disk', 5)
    const firstBytesMs = performance.now() - t0
    // The recorder ffmpeg's own output (seg-*), beside the warm start's buffered second (pre-*).
    await waitFor(async () => (await mediaBytes(dir, /^seg-/)) > 0, 10000, 'the recorder ffmpeg\'s first bytes', 5)
    const recorderBytesMs = performance.now() - t0
    await sleep(2500)
    const t1 = performance.now()
    const stopped = await r.cmd<{ state: string }>('recorder', 'stop', {}, 15000)
    const stopMs = performance.now() - t1
    if (!stopped.ok) throw new Error(`recorder.stop: ${stopped.error.code} ${stopped.error.message}`)
    const file = JSON.parse(await readFile(join(dir, 'session.json'), 'utf8')) as { preRollMs?: number | null; preRollFiles?: Array<{ ms: number }> }
    const t = {
      replyMs: round1(replyMs),
      firstBytesMs: round1(firstBytesMs),
      recorderBytesMs: round1(recorderBytesMs),
      warmMs: (file.preRollFiles ?? []).reduce((n, f) => n + f.ms, 0),
      recorderPreRollMs: file.preRollMs ?? null,
      stopMs: round1(stopMs),
      state: stopped.result.state,
    }
    trials.push(t)
    o.log(
      `  record ${i + 1}/${o.trials}: start reply ${t.replyMs} ms, first bytes ${t.firstBytesMs} ms (warm start ${t.warmMs} ms buffered), recorder ffmpeg's first bytes ${t.recorderBytesMs} ms (its footage from ${t.recorderPreRollMs ?? '?'} ms before the command), stop → ${t.state} ${t.stopMs} ms`,
    )
    await sleep(500)
  }
  return {
    startBudgetMs: 500,
    stopBudgetMs: 600,
    trials,
    startReply: dist(trials.map((t) => t.replyMs)),
    firstBytes: dist(trials.map((t) => t.firstBytesMs)),
    recorderBytes: dist(trials.map((t) => t.recorderBytesMs)),
    stop: dist(trials.map((t) => t.stopMs)),
  }
}

// ---- 4. restart latency: vigil vs PM2 ------------------------------------------------------------

interface RestartTrial {
  /** SIGKILL → a new process with the camera's argv exists (/proc). */
  newPidMs: number
  /** SIGKILL → producing: vigil's camera.status `streaming` with the new pid / PM2's ffmpeg wrote its first whole grey frame. */
  producingMs: number
  pid: number
}

/** Polls (5 ms) for the new pid and for "producing" in parallel, from `killedAt`. */
async function measureRestart(killedAt: number, newPid: () => Promise<number | null>, producing: (pid: number) => Promise<boolean>, what: string): Promise<RestartTrial> {
  let pid: number | null = null
  let newPidMs = -1
  const deadline = Date.now() + 60000
  for (;;) {
    if (pid === null) {
      pid = await newPid()
      if (pid !== null) newPidMs = performance.now() - killedAt
    }
    if (pid !== null && (await producing(pid))) return { newPidMs: round1(newPidMs), producingMs: round1(performance.now() - killedAt), pid }
    if (Date.now() > deadline) throw new Error(`${what}: not producing again within 60 s (new pid: ${pid ?? 'none'})`)
    await sleep(5)
  }
}

async function restart(r: BenchRig, o: BenchOptions): Promise<Results> {
  const vigil: RestartTrial[] = []
  const pm2: RestartTrial[] = []
  const ffmpeg = await resolveFfmpeg()
  if (!ffmpeg) throw new Error('ffmpeg not found (npm run ensure-binaries)')
  const cam0 = await ready(r)
  // The publisher's argv ends `-flvflags no_duration_filesize <rtmp url>`: only the camera's
  // ffmpeg has that (the recorder and audio meter read the same URL as input).
  const cameraMarker = `no_duration_filesize ${rtmpUrl({ rtmpPort: r.rig.ports.rtmp })}`
  // PM2 restarts its ffmpeg with the same argv, so its signature must outlive the whole run.
  const pm2Url = signedRtmpUrl({ rtmpPort: r.rig.ports.rtmp }, r.rig.mediaSigner, DEFAULT_APP, PM2_STREAM, 24 * 3600)
  o.log(`  restart: starting PM2 (PM2_HOME in a temp dir) with the camera's ffmpeg command → ${redactCredentials(pm2Url)}`)
  // PM2 is the peer, not the subject: if it cannot run here, vigil is still measured.
  let peer: Pm2Camera | null = null
  let peerInfo: Results | null = null
  let peerError: string | null = null
  let pm2Pid = 0
  let settings: Awaited<ReturnType<Pm2Camera['describe']>> | undefined
  const dropPeer = async (err: unknown) => {
    peerError = (err as Error).message
    o.log(`  ✗ restart: PM2 side dropped: ${peerError}`)
    await stopPeer()
  }
  const stopPeer = async () => {
    if (!peer) return
    const p = peer
    peer = null
    const reaped = await p.stop()
    peerInfo = { name: 'PM2', version: p.version, stream: PM2_STREAM, settings, reaped, argv: p.argv }
    o.log(`  restart: pm2 kill; daemon ${p.daemonPid} ${reaped.daemonGone ? 'gone' : 'STILL ALIVE'}, its ffmpeg ${reaped.appGone ? 'gone' : 'STILL ALIVE'}`)
  }
  try {
    try {
      peer = await startPm2Camera({ ffmpegPath: ffmpeg.path, source: r.config.camera.source, width: r.config.camera.width, height: r.config.camera.height, fps: r.config.camera.fps, rtmpUrl: pm2Url })
      pm2Pid = await pm2Ready(peer)
      settings = await peer.describe()
      o.log(`  restart: PM2 ${peer.version} daemon ${peer.daemonPid}, ffmpeg ${pm2Pid} producing (restart_delay ${settings.restartDelay}, exp backoff ${settings.expBackoff ?? 'off'})`)
    } catch (err) {
      await dropPeer(err)
    }
    // vigil's camera pid from /proc too (a child of this process, the camera's stream key in argv).
    if (!(await findChild(process.pid, cameraMarker))) throw new Error(`camera ffmpeg (argv with ${cameraMarker}) is not a child of the bench process`)
    void cam0
    for (let i = 0; i < o.trials; i++) {
      // vigil: its camera's reconnect backoff (250 ms · 2^n) resets after 60 s of stable
      // streaming: wait that out so every trial is a first fault, not the n-th in a row.
      const cam = await ready(r)
      if (o.restartGapMs > 0) o.log(`  restart ${i + 1}/${o.trials}: ${Math.round(o.restartGapMs / 1000)} s of stable streaming first (vigil's backoff reset)`)
      await sleep(Math.max(1500, o.restartGapMs))
      const pid = cam.pids[0]!
      const killedAt = performance.now()
      process.kill(pid, 'SIGKILL')
      const v = await measureRestart(
        killedAt,
        () => findChild(process.pid, cameraMarker, pid),
        async (np) => {
          const s = await camStatus(r).catch(() => null)
          return s?.state === 'streaming' && s.pids[0] === np
        },
        'vigil camera',
      )
      vigil.push(v)
      o.log(`  restart ${i + 1}/${o.trials} vigil: SIGKILL ${pid} → new pid ${v.pid} in ${v.newPidMs} ms, streaming in ${v.producingMs} ms`)

      // PM2: its ffmpeg has been up for the whole gap (past min_uptime 1 s: a normal restart).
      const cur: Pm2Camera | null = peer
      if (!cur) continue
      try {
        pm2Pid = (await cur.appPid()) ?? pm2Pid
        if (!(await cur.producing(pm2Pid))) pm2Pid = await pm2Ready(cur)
        await sleep(1500)
        const old = pm2Pid
        const t0 = performance.now()
        process.kill(old, 'SIGKILL')
        const p = await measureRestart(t0, () => cur.appPid(old), (np) => cur.producing(np), 'PM2 ffmpeg')
        pm2.push(p)
        pm2Pid = p.pid
        await pruneOutputs(cur, pm2Pid)
        o.log(`  restart ${i + 1}/${o.trials} PM2:   SIGKILL ${old} → new pid ${p.pid} in ${p.newPidMs} ms, first frame in ${p.producingMs} ms`)
      } catch (err) {
        await dropPeer(err)
      }
    }
    const last: Pm2Camera | null = peer
    if (last) settings = await last.describe().catch(() => settings)
  } finally {
    await stopPeer()
  }
  const d = {
    vigil: { newPid: dist(vigil.map((t) => t.newPidMs)), producing: dist(vigil.map((t) => t.producingMs)) },
    pm2: { newPid: dist(pm2.map((t) => t.newPidMs)), producing: dist(pm2.map((t) => t.producingMs)) },
  }
  const ratio = (a: number, b: number) => (b > 0 ? Math.round((a / b) * 100) / 100 : null)
  const ratios = {
    newPidP50: ratio(d.vigil.newPid.p50, d.pm2.newPid.p50),
    producingP50: ratio(d.vigil.producing.p50, d.pm2.producing.p50),
    producingP90: ratio(d.vigil.producing.p90, d.pm2.producing.p90),
  }
  if (pm2.length > 0) o.log(`  → vigil/PM2 p50: new pid ${ratios.newPidP50}×, producing ${ratios.producingP50}×`)
  return {
    at: new Date().toISOString(),
    gapMs: o.restartGapMs,
    camera: { width: r.config.camera.width, height: r.config.camera.height, fps: r.config.camera.fps, source: r.config.camera.source },
    vigilBackoff: { camera: CAMERA_DEFAULTS.backoff, supervisor: r.config.supervisor.backoff },
    peer: peerInfo,
    peerError,
    // The earlier shape (vigil only, ms to streaming) stays for older readers.
    trials: vigil.map((t) => Math.round(t.producingMs)),
    dist: d.vigil.producing,
    vigilTrials: vigil,
    pm2Trials: pm2,
    ...d,
    ratios,
  }
}

// ---- 5. idle cost ----------------------------------------------------------------------------

/** Busy and total jiffies of the whole machine (/proc/stat): everyone's load, not only ours. */
async function machineTicks(): Promise<{ busy: number; total: number }> {
  const line = (await readFile('/proc/stat', 'utf8')).split('\n')[0]!
  const v = line.trim().split(/\s+/).slice(1).map(Number)
  const idleT = (v[3] ?? 0) + (v[4] ?? 0)
  const total = v.reduce((a, b) => a + b, 0)
  return { busy: total - idleT, total }
}

async function idle(natsUrl: string, o: BenchOptions): Promise<Results> {
  const runs: Results[] = []
  const cores = cpus().length
  const cam = o.idleCamera
  const nc = await connect({ servers: natsUrl, name: 'bench-idle' })
  try {
    for (const count of o.idleRigs) {
      o.log(`  idle: starting ${count} rig process(es) on one nats-server, camera ${cam.width}x${cam.height}@${cam.fps}`)
      const settled = await Promise.allSettled(Array.from({ length: count }, (_, i) => spawnRigProcess(`idle${count}x${i}`, natsUrl, cam)))
      const procs = settled.flatMap((x) => (x.status === 'fulfilled' ? [x.value] : []))
      try {
        const failed = settled.find((x) => x.status === 'rejected')
        if (failed) throw (failed as PromiseRejectedResult).reason
        await sleep(5000)
        const frames = async () =>
          Promise.all(
            procs.map(async (p) => {
              const r = await command<{ framesSeen: number; state: string }>(nc, p.node, 'camera', 'status', {}, { timeoutMs: 5000 }).catch(() => null)
              return r?.ok ? r.result : { framesSeen: NaN, state: 'no reply' }
            }),
          )
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
          return { at: performance.now(), per, machine: await machineTicks(), load: loadavg()[0]! }
        }
        const fa = await frames()
        const a = await snap()
        const rss: number[] = []
        const loads: number[] = [a.load]
        for (let s = 0; s < o.idleSeconds; s += 2) {
          await sleep(2000)
          const x = await snap()
          rss.push(...x.per.map((p) => p.rssKb))
          loads.push(x.load)
        }
        const b = await snap()
        const fb = await frames()
        const secs = (b.at - a.at) / 1000
        // The camera delivers 5 grey frames/s (the motion branch) when it keeps up with real time.
        const perRig = procs.map((p, i) => {
          const fps = (fb[i]!.framesSeen - fa[i]!.framesSeen) / secs
          return {
            node: p.node,
            cpuPct: Math.round(((b.per[i]!.ticks - a.per[i]!.ticks) / CLK_TCK / secs) * 1000) / 10,
            treeCpuPct: Math.round(((b.per[i]!.tree - a.per[i]!.tree) / CLK_TCK / secs) * 1000) / 10,
            rssMb: Math.round(b.per[i]!.rssKb / 102.4) / 10,
            treeRssMb: Math.round(b.per[i]!.treeRss / 102.4) / 10,
            realtime: Number.isFinite(fps) ? Math.round((fps / DEFAULT_MOTION.fps) * 100) / 100 : null,
            cameraState: fb[i]!.state,
          }
        })
        const sum = (k: 'cpuPct' | 'treeCpuPct' | 'rssMb' | 'treeRssMb') => Math.round(perRig.reduce((n, p) => n + p[k], 0) * 10) / 10
        const machineBusyPct = Math.round(((b.machine.busy - a.machine.busy) / Math.max(1, b.machine.total - a.machine.total)) * 1000) / 10
        const total = { cpuPct: sum('cpuPct'), treeCpuPct: sum('treeCpuPct'), rssMb: sum('rssMb'), treeRssMb: sum('treeRssMb') }
        const minRealtime = Math.min(...perRig.map((p) => p.realtime ?? 0))
        const reasons: string[] = []
        if (machineBusyPct >= 90) reasons.push(`machine ${machineBusyPct} % busy`)
        if (total.treeCpuPct >= 0.9 * cores * 100) reasons.push(`rigs use ${total.treeCpuPct} % of ${cores * 100} %`)
        if (minRealtime < 0.95) reasons.push(`a camera at ${minRealtime}× real time`)
        if (perRig.some((p) => p.cameraState !== 'streaming')) reasons.push('a camera not streaming')
        const run = {
          rigs: count,
          seconds: Math.round(secs * 10) / 10,
          perRig,
          total,
          perRigMean: { cpuPct: Math.round((total.cpuPct / count) * 10) / 10, treeCpuPct: Math.round((total.treeCpuPct / count) * 10) / 10, rssMb: Math.round((total.rssMb / count) * 10) / 10, treeRssMb: Math.round((total.treeRssMb / count) * 10) / 10 },
          maxRssMb: Math.round(Math.max(...rss) / 102.4) / 10,
          loadavg1: { start: Math.round(loads[0]! * 100) / 100, max: Math.round(Math.max(...loads) * 100) / 100, end: Math.round(b.load * 100) / 100 },
          machineBusyPct,
          minRealtime,
          saturated: reasons.length > 0,
          saturation: reasons,
        }
        o.log(
          `  idle ${count} rig(s): supervisor ${run.total.cpuPct}% CPU, ${run.total.rssMb} MB RSS; with children ${run.total.treeCpuPct}% CPU, ${run.total.treeRssMb} MB;` +
            ` per rig ${run.perRigMean.cpuPct}% / ${run.perRigMean.treeCpuPct}% tree; load ${run.loadavg1.max}, machine ${machineBusyPct}% busy, camera ≥ ${minRealtime}× real time${run.saturated ? ` — SATURATED (${reasons.join('; ')})` : ''}`,
        )
        runs.push(run)
      } finally {
        await Promise.all(procs.map((p) => p.stop()))
      }
    }
  } finally {
    await nc.close().catch(() => {})
  }
  // Growth: the per-rig cost at n rigs against the 1-rig run.
  const one = runs.find((r) => r['rigs'] === 1) as { perRigMean: Record<string, number> } | undefined
  for (const r of runs as Array<{ perRigMean: Record<string, number>; growth?: Record<string, number | null> }>) {
    const g = (k: string) => (one && one.perRigMean[k]! > 0 ? Math.round((r.perRigMean[k]! / one.perRigMean[k]!) * 100) / 100 : null)
    r.growth = { cpuPct: g('cpuPct'), treeCpuPct: g('treeCpuPct'), rssMb: g('rssMb'), treeRssMb: g('treeRssMb') }
  }
  return { camera: cam, seconds: o.idleSeconds, cores, runs }
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
  const needRig = ['rtt', 'stall', 'record', 'restart', 'alerts', 'live'].some(want)
  o.log(`bench: starting nats-server${needRig ? ` and a rig (camera ${o.camera.width}x${o.camera.height}@${o.camera.fps})` : ''}`)
  const nats = await startNatsServer()
  ownDir(nats.dir) // removed by nats.stop(); on Ctrl-C by the reaper (the server dies with us: pdeathsig)
  let rig: BenchRig | undefined
  try {
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
    await step('live', 'live video: GET /live/cam.flv through the web server vs the media port, CPU', () => liveVideo(rig!, { readers: o.liveReaders, seconds: o.liveSeconds, log: o.log }))
    if (rig) {
      await rig.stop()
      rig = undefined
    }
    await step('continuity', 'continuity: camera SIGKILL, media SIGKILL, media SIGSTOP mid-recording → the fault\'s own duration vs the footage it cost (own rig)', () =>
      continuity({ natsUrl: nats.url, camera: o.camera, trials: o.trials, gapMs: o.restartGapMs, log: o.log }),
    )
    await step('webhook', 'webhooks: sound burst → POST at a local receiver (own rig, synthetic audio)', () => webhookLatency(nats.url, { events: 20, log: o.log }) as unknown as Promise<Results>)
    await step('idle', 'idle cost: supervisor CPU and RSS, 1…n rigs on one nats-server', () => idle(nats.url, o))
    await step('mqtt', 'sound burst → MQTT message at mosquitto_sub (embedded nats-server MQTT listener)', () => mqttLatency({ events: o.mqttEvents, log: o.log }))
    await step('told', 'the person told: one sound event → the page (Chromium), a webhook, MQTT, each timed', () => told({ events: o.mqttEvents, log: o.log }) as unknown as Promise<Results>)
    await step('upload', 'off-box copies: upload MB/s into vigil_recordings (R1, R3) vs cp -r of the same files', () => uploadThroughput({ segments: 10, log: o.log }))
    await step('fleet', 'fleet: alerts/s into R1 and R3 on a 3-server cluster, failover pause after a stream leader SIGKILL', () => fleetBench({ alerts: Math.min(o.alerts, 5000), kills: o.trials, log: o.log }) as unknown as Promise<Results>)
    await step('footage', 'footage lost: SIGKILL a real `vigil start` mid-recording, ffprobe the segments', () => footage({ trials: o.footageTrials, recordS: o.footageSeconds, log: o.log }))
  } finally {
    if (rig) await rig.stop().catch(() => {})
    await nats.stop()
  }
  ;(results['env'] as Results)['seconds'] = Math.round((performance.now() - started) / 1000)
  ;(results['env'] as Results)['loadavgEnd'] = loadavg()
  const dir = join(repoRoot, 'bench/results')
  await mkdir(dir, { recursive: true })
  const file = join(dir, `rig-${new Date().toISOString().replace(/[:.]/g, '-')}.json`)
  // The continuity section stands on its own in the docs: it carries this run's env, file and
  // restart-vs-PM2 figures (only when restart ran in this same run).
  const c = results['continuity'] as Results | undefined
  if (c) Object.assign(c, { env: results['env'], file: relative(repoRoot, file), ...(results['restart'] ? { restart: results['restart'] } : {}) })
  await writeFile(file, `${JSON.stringify(results, null, 2)}\n`)
  return { results, file }
}

export async function readResults(file: string): Promise<Results> {
  return JSON.parse(await readFile(file, 'utf8')) as Results
}
