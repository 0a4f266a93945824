/**
 * Live video through the web origin (GET /live/cam.flv, proxied by the web server) against
 * reading the media server's HTTP-FLV port directly (signed, as the rig's own readers do):
 * CPU of the bench process (supervisor + web server: the rig runs in it) and of the media
 * server child, from /proc/<pid>/stat, over the same window with the same readers.
 *
 * The readers run in a child process of their own (plain node, no tsx), so their cost is
 * not counted as the rig's; a run with no reader gives the baseline (camera frames, motion,
 * snapshots all pass through the supervisor process whatever the video does).
 */
import { spawn } from 'node:child_process'
import { signedFlvUrl } from '../../actors/media/urls.js'
import { CLK_TCK, procTicks, type BenchRig } from './harness.js'

export interface LiveVideoOptions {
  readers: number[]
  seconds: number
  log: (line: string) => void
}

interface Sample {
  mode: 'none' | 'direct' | 'proxy'
  readers: number
  seconds: number
  /** CPU seconds per wall second (1.0 = one core busy). */
  supervisorCpu: number
  mediaCpu: number
  rigCpu: number
  readersCpu: number
  mbPerReader: number
}

// Counts bytes on N HTTP streams; prints the total when told to stop (stdin closes).
const READER = `
const http = require('node:http')
const urls = JSON.parse(process.env.BENCH_URLS)
let bytes = 0, open = 0, failed = 0
for (const url of urls) {
  http.get(url, { agent: false }, (res) => {
    if (res.statusCode !== 200) { failed++; res.resume(); return }
    open++
    res.on('data', (c) => { bytes += c.length })
    res.on('error', () => {})
  }).on('error', () => { failed++ })
}
process.stdin.on('data', () => process.stdout.write(JSON.stringify({ bytes, open, failed }) + '\\n'))
process.stdin.on('end', () => process.exit(0))
`

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms))

async function mediaPid(r: BenchRig): Promise<number> {
  const s = await r.cmd<{ children: Array<{ id: string; pids: number[] }> }>('supervisor', 'status', {}, 3000)
  const pid = s.ok ? s.result.children.find((c) => c.id === 'media')?.pids[0] : undefined
  if (!pid) throw new Error('media server pid unknown')
  return pid
}

async function measure(r: BenchRig, mode: Sample['mode'], readers: number, seconds: number): Promise<Sample> {
  const web = `http://127.0.0.1:${r.rig.ports.web}/live/cam.flv`
  // Signed per reader like the rig's own clients; 60 s is plenty: it is checked at connect.
  const urls = mode === 'none' ? [] : Array.from({ length: readers }, () => (mode === 'proxy' ? web : signedFlvUrl({ httpPort: r.rig.ports.flv }, r.rig.mediaSigner)))
  const child = spawn(process.execPath, ['-e', READER], { env: { ...process.env, BENCH_URLS: JSON.stringify(urls) }, stdio: ['pipe', 'pipe', 'inherit'] })
  const lines: string[] = []
  child.stdout.setEncoding('utf8')
  child.stdout.on('data', (c: string) => lines.push(...c.split('\n').filter(Boolean)))
  const counts = async () => {
    const n = lines.length
    child.stdin.write('\n')
    for (let i = 0; i < 200 && lines.length === n; i++) await sleep(10)
    return JSON.parse(lines.at(-1) ?? '{"bytes":0,"open":0,"failed":0}') as { bytes: number; open: number; failed: number }
  }
  try {
    const media = await mediaPid(r)
    // Settle: connections open, the GOP cache is flushed to every reader.
    await sleep(3000)
    const c0 = await counts()
    if (mode !== 'none' && (c0.open !== readers || c0.failed > 0)) throw new Error(`${mode}: ${c0.open}/${readers} readers open, ${c0.failed} failed`)
    const [s0, m0, k0] = await Promise.all([procTicks(process.pid), procTicks(media), procTicks(child.pid!)])
    const t0 = performance.now()
    await sleep(seconds * 1000)
    const [s1, m1, k1] = await Promise.all([procTicks(process.pid), procTicks(media), procTicks(child.pid!)])
    const wall = (performance.now() - t0) / 1000
    const c1 = await counts()
    if (!s0 || !s1 || !m0 || !m1 || !k0 || !k1) throw new Error('a process went away during the sample')
    const cpu = (a: { ticks: number }, b: { ticks: number }) => (b.ticks - a.ticks) / CLK_TCK / wall
    const supervisorCpu = cpu(s0, s1)
    const mediaCpu = cpu(m0, m1)
    return {
      mode,
      readers: mode === 'none' ? 0 : readers,
      seconds: Math.round(wall * 10) / 10,
      supervisorCpu,
      mediaCpu,
      rigCpu: supervisorCpu + mediaCpu,
      readersCpu: cpu(k0, k1),
      mbPerReader: readers > 0 && mode !== 'none' ? (c1.bytes - c0.bytes) / readers / 1e6 : 0,
    }
  } finally {
    child.stdin.end()
    if (child.exitCode === null) await new Promise<void>((r) => child.once('exit', () => r()))
  }
}

const pct = (x: number) => `${(x * 100).toFixed(1)}%`

export async function liveVideo(r: BenchRig, o: LiveVideoOptions): Promise<Record<string, unknown>> {
  const samples: Sample[] = []
  const run = async (mode: Sample['mode'], n: number) => {
    const s = await measure(r, mode, n, o.seconds)
    samples.push(s)
    o.log(`  live ${mode.padEnd(6)} ×${String(s.readers).padStart(2)}: supervisor ${pct(s.supervisorCpu)}, media ${pct(s.mediaCpu)}, rig ${pct(s.rigCpu)} of a core; ${s.mbPerReader.toFixed(1)} MB per reader in ${s.seconds} s`)
  }
  await run('none', 0)
  // Side by side, alternating, so drift on a shared machine hits both modes alike.
  for (const n of o.readers) {
    await run('direct', n)
    await run('proxy', n)
  }
  await run('none', 0)
  const base = samples.filter((s) => s.mode === 'none')
  const baseline = base.reduce((a, s) => a + s.rigCpu, 0) / base.length
  const ratios = o.readers.map((n) => {
    const d = samples.find((s) => s.mode === 'direct' && s.readers === n)!
    const p = samples.find((s) => s.mode === 'proxy' && s.readers === n)!
    return {
      readers: n,
      rigCpuRatio: p.rigCpu / d.rigCpu,
      // What the video itself costs above the no-reader baseline, proxied vs direct.
      videoCostDirect: d.rigCpu - baseline,
      videoCostProxy: p.rigCpu - baseline,
    }
  })
  for (const x of ratios) o.log(`  live ×${x.readers}: rig CPU proxy/direct ${x.rigCpuRatio.toFixed(2)}×; video cost above baseline ${pct(x.videoCostDirect)} direct, ${pct(x.videoCostProxy)} proxied`)
  return { seconds: o.seconds, baselineRigCpu: baseline, samples, ratios }
}
