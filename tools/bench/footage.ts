/**
 * Footage lost when the supervisor dies mid-recording: a real `vigil start` (its own embedded
 * nats-server, default config: synthetic 1280x720@15 camera), a recording started over NATS,
 * SIGKILL of the supervisor after ~`recordS` seconds, then ffprobe of what the session dir
 * kept. Also checks that every process below the supervisor died with it (pdeathsig).
 */
import { execFile, spawn } from 'node:child_process'
import { mkdtemp, readdir, readFile, rm, stat } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { connect, type NatsConnection } from '@nats-io/transport-node'
import { resolveFfprobe } from '../../infra/binaries.js'
import { command } from '../../infra/nats/client.js'
import { freePort } from '../../infra/ports.js'
import { repoRoot } from '../../test/helpers/natsServer.js'
import { dist } from './stats.js'
import { isolatedVigilEnv } from '../vigilEnv.js'
import { cmdline, descendants, disownPid, isAlive, killAndWait, ownDir, ownPid, sleep, waitFor } from './harness.js'

export interface FootageOptions {
  trials: number
  /** Seconds of recording before the SIGKILL. */
  recordS: number
  log: (line: string) => void
}

export interface FootageTrial {
  /** recorder.start reply → SIGKILL. */
  recordedS: number
  /** First media bytes in the session dir → SIGKILL. */
  recordedFromFirstBytesS: number
  /** Video kept in the segments (ffprobe: last packet end − first packet start, summed). */
  keptS: number
  lostS: number
  lostFromFirstBytesS: number
  segments: Array<{ file: string; bytes: number; videoPackets: number; seconds: number; probeError: string | null }>
  sessionState: string | null
  descendantsBefore: number
  /** Descendants of the supervisor still alive 2 s after its SIGKILL (0 = pdeathsig worked). */
  survivors: Array<{ pid: number; argv: string }>
}

const round2 = (n: number) => Math.round(n * 100) / 100

function run(file: string, args: string[]): Promise<{ stdout: string; stderr: string; code: number }> {
  return new Promise((resolve) => {
    execFile(file, args, { maxBuffer: 64 * 1024 * 1024 }, (err, stdout, stderr) => {
      resolve({ stdout, stderr, code: err ? Number((err as NodeJS.ErrnoException).code ?? 1) || 1 : 0 })
    })
  })
}

/** Seconds of video in one (possibly truncated) fragmented MP4, from its packets. */
export async function probeSeconds(ffprobe: string, file: string): Promise<{ seconds: number; packets: number; error: string | null }> {
  const r = await run(ffprobe, ['-v', 'error', '-select_streams', 'v:0', '-show_entries', 'packet=pts_time,duration_time', '-of', 'csv=p=0', file])
  let lo = Infinity
  let hi = -Infinity
  let packets = 0
  for (const line of r.stdout.split('\n')) {
    const [pts, dur] = line.split(',').map(Number)
    if (pts === undefined || !Number.isFinite(pts)) continue
    packets += 1
    lo = Math.min(lo, pts)
    hi = Math.max(hi, pts + (Number.isFinite(dur) ? dur! : 0))
  }
  const error = r.code !== 0 || r.stderr.trim() ? r.stderr.trim().split('\n').slice(-2).join(' | ') || `exit ${r.code}` : null
  return { seconds: packets > 0 ? round2(hi - lo) : 0, packets, error }
}

async function mediaBytes(dir: string): Promise<number> {
  let n = 0
  for (const f of await readdir(dir).catch(() => [] as string[])) if (f.endsWith('.mp4')) n += (await stat(join(dir, f)).catch(() => ({ size: 0 }))).size
  return n
}

async function trial(i: number, ffprobe: string, o: FootageOptions): Promise<FootageTrial> {
  const dataDir = await mkdtemp(join(tmpdir(), 'vigil-bench-footage-'))
  ownDir(dataDir)
  const node = `footage${i}`
  const natsPort = await freePort()
  let out = ''
  const child = spawn(process.execPath, [join(repoRoot, 'bin/vigil.js'), 'start'], {
    cwd: dataDir,
    env: isolatedVigilEnv({ node, dataDir, natsPort }, { VIGIL_LOG_LEVEL: 'warn' }),
    stdio: ['ignore', 'pipe', 'pipe'],
  })
  ownPid(child.pid)
  const keep = (d: Buffer) => {
    out = (out + d.toString()).slice(-8000)
  }
  child.stdout!.on('data', keep)
  child.stderr!.on('data', keep)
  const exited = new Promise<void>((r) => child.once('exit', () => r()))
  let nc: NatsConnection | undefined
  let tree: number[] = []
  try {
    const url = `nats://127.0.0.1:${natsPort}`
    await waitFor(async () => {
      if (child.exitCode !== null) throw new Error(`vigil start exited with ${child.exitCode}: ${out.slice(-1500)}`)
      nc = await connect({ servers: url, timeout: 1000, maxReconnectAttempts: 0 }).catch(() => undefined)
      return nc !== undefined
    }, 60000, `vigil's nats-server on ${url}`, 200)
    const cmd = <T>(actor: string, verb: string, args: Record<string, unknown> = {}) => command<T>(nc!, node, actor, verb, args, { timeoutMs: 5000 })
    await waitFor(async () => {
      const s = await cmd<{ state: string; children: Array<{ status: string }> }>('supervisor', 'status')
      const c = await cmd<{ state: string }>('camera', 'status')
      return s.ok && s.result.state === 'running' && s.result.children.every((x) => x.status === 'running') && c.ok && c.result.state === 'streaming'
    }, 90000, 'vigil start: every child running, camera streaming', 200)
    await sleep(2000) // the media server holds a GOP
    const started = await cmd<{ id: string; dir: string }>('recorder', 'start', { name: `footage-${i}` })
    const t0 = performance.now()
    if (!started.ok) throw new Error(`recorder.start: ${started.error.code} ${started.error.message}`)
    const dir = started.result.dir
    await waitFor(async () => (await mediaBytes(dir)) > 0, 10000, 'first media bytes', 10)
    const tFirst = performance.now()
    await sleep(Math.max(0, o.recordS * 1000 - (performance.now() - t0)))
    tree = await descendants(child.pid!)
    const argvs = new Map<number, string>()
    for (const p of tree) argvs.set(p, (await cmdline(p)).slice(0, 120))
    await nc!.close().catch(() => {})
    nc = undefined
    const tKill = performance.now()
    child.kill('SIGKILL')
    await exited
    disownPid(child.pid)
    // pdeathsig: the kernel kills each child when the supervisor dies; give it 2 s.
    await waitFor(() => tree.every((p) => !isAlive(p)), 2000, 'children gone', 20).catch(() => {})
    const survivors = tree.filter(isAlive).map((pid) => ({ pid, argv: argvs.get(pid) ?? '' }))
    for (const s of survivors) await killAndWait(s.pid, 3000)
    const segments: FootageTrial['segments'] = []
    for (const f of (await readdir(dir)).filter((n) => n.endsWith('.mp4')).sort()) {
      const bytes = (await stat(join(dir, f))).size
      const p = await probeSeconds(ffprobe, join(dir, f))
      segments.push({ file: f, bytes, videoPackets: p.packets, seconds: p.seconds, probeError: p.error })
    }
    const session = await readFile(join(dir, 'session.json'), 'utf8').then((t) => JSON.parse(t) as { state?: string }).catch(() => null)
    const recordedS = round2((tKill - t0) / 1000)
    const recordedFromFirstBytesS = round2((tKill - tFirst) / 1000)
    const keptS = round2(segments.reduce((n, s) => n + s.seconds, 0))
    return {
      recordedS,
      recordedFromFirstBytesS,
      keptS,
      lostS: round2(recordedS - keptS),
      lostFromFirstBytesS: round2(recordedFromFirstBytesS - keptS),
      segments,
      sessionState: session?.state ?? null,
      descendantsBefore: tree.length,
      survivors,
    }
  } finally {
    await nc?.close().catch(() => {})
    if (child.exitCode === null && child.signalCode === null) {
      child.kill('SIGKILL')
      await exited
    }
    disownPid(child.pid)
    for (const p of tree) if (isAlive(p)) await killAndWait(p, 3000)
    await rm(dataDir, { recursive: true, force: true })
  }
}

export async function footage(o: FootageOptions): Promise<Record<string, unknown>> {
  const ffprobe = await resolveFfprobe()
  if (!ffprobe) throw new Error('ffprobe not found (npm run ensure-binaries, or FFPROBE_PATH)')
  const trials: FootageTrial[] = []
  for (let i = 0; i < o.trials; i++) {
    o.log(`  footage ${i + 1}/${o.trials}: vigil start (default config, 1280x720@15), record ${o.recordS} s, SIGKILL the supervisor`)
    const t = await trial(i, ffprobe.path, o)
    trials.push(t)
    const probeErrors = t.segments.filter((s) => s.probeError).length
    o.log(
      `  footage ${i + 1}/${o.trials}: recorded ${t.recordedS} s (${t.recordedFromFirstBytesS} s since first bytes), kept ${t.keptS} s in ${t.segments.length} segment(s)` +
        ` → lost ${t.lostS} s (${t.lostFromFirstBytesS} s); session.json state ${t.sessionState}; ${t.descendantsBefore} children, ${t.survivors.length} left after 2 s${probeErrors ? `; ffprobe complained on ${probeErrors} segment(s)` : ''}`,
    )
  }
  return {
    recordS: o.recordS,
    trials,
    recorded: dist(trials.map((t) => t.recordedS)),
    kept: dist(trials.map((t) => t.keptS)),
    lost: dist(trials.map((t) => t.lostS)),
    lostFromFirstBytes: dist(trials.map((t) => t.lostFromFirstBytesS)),
    survivors: trials.reduce((n, t) => n + t.survivors.length, 0),
  }
}
