import { mkdir, readFile, writeFile } from 'node:fs/promises'
import { join, relative, resolve } from 'node:path'
import { fileURLToPath } from 'node:url'
import { parseFlags } from './parseFlags.js'
import { nameReaper } from '../procs.js'
import { writeSoakDocs } from '../soak/report.js'
import { DEFAULT_SOAK, rejudged, runSoak, type SoakResult } from '../soak/run.js'
import { NATS_CEILING_MB, SOAK_BOUNDS } from '../soak/trend.js'
import { DEFAULT_NATS_STORE, runNatsStore } from '../soak/natsStore.js'
import { writeNatsStoreDocs } from '../soak/natsStoreReport.js'

const repoRoot = resolve(fileURLToPath(import.meta.url), '../../..')

const help = `usage: vigil soak [--minutes 60] [--sample-s 60] [--read-s 5] [--warmup-min 5] [--camera 320x240@15]
                  [--record-s 20] [--viewers 3] [--churn-s 120] [--no-docs]
       vigil soak --docs-only bench/results/soak-<time>.json   # rewrite the docs section from a result
       vigil soak --nats-store [--seconds 240] [--rate 100]     # the nats-server's ceiling (below)

Runs a real \`vigil start\` for --minutes and uses it the whole time: record cycles (old
sessions deleted), WebSocket viewers coming and going, the live video watched, an audio or
camera ffmpeg SIGKILLed every --churn-s, log rotation. Every --read-s it reads the rig's RSS,
V8 heap, open fds, active handles and the processes under it, and each --sample-s keeps the
floor of those readings (what the rig holds when nothing passing is open); at the end it fits a slope per
hour to each series (after --warmup-min) and judges it against these bounds:
${SOAK_BOUNDS.map((b) => `  ${b.metric.padEnd(10)} ≤ ${b.maxPerHour} ${b.unit}`).join('\n')}
  nats-server RSS ≤ ${NATS_CEILING_MB} MB at every sample (a ceiling, not a slope: its memory follows its store blocks)
(judged only with at least 20 minutes of samples after the warm-up). Then SIGTERM: vigil must
exit 0 and leave no process. Progress on stderr; the result to bench/results/soak-<time>.json;
the "soak" section of docs/BENCHMARKS.md is replaced (--no-docs: not). Exit 1 if it failed.
Use a quiet machine: the load average is recorded with every sample.

--nats-store: a nats-server with vigil's streams and the vigil_rigs bucket, written the way a
rig writes them (a vigil_rigs put and a state message per round, an alert and an event every
10th) at --rate rounds/s for --seconds, as vigil runs it and under GOMEMLIMIT=16MiB; RSS every
2 s, CPU. Its top is where the soak's nats-server ceiling comes from. Result to
bench/results/nats-store-<time>.json and the "nats-server under a rig's writes" section.
`

const SIZE = /^(\d+)x(\d+)@(\d+)$/

export async function run(argv: string[]): Promise<number> {
  const parsed = parseFlags(
    'soak',
    argv,
    {
      minutes: { type: 'string', default: String(DEFAULT_SOAK.minutes) },
      'sample-s': { type: 'string', default: String(DEFAULT_SOAK.sampleS) },
      'read-s': { type: 'string', default: String(DEFAULT_SOAK.readS) },
      'warmup-min': { type: 'string', default: String(DEFAULT_SOAK.warmupS / 60) },
      camera: { type: 'string', default: '320x240@15' },
      'record-s': { type: 'string', default: String(DEFAULT_SOAK.drivers.recordS) },
      viewers: { type: 'string', default: String(DEFAULT_SOAK.drivers.viewers) },
      'churn-s': { type: 'string', default: String(DEFAULT_SOAK.drivers.churnEveryS) },
      'no-docs': { type: 'boolean' },
      'docs-only': { type: 'string' },
      'nats-store': { type: 'boolean' },
      seconds: { type: 'string', default: String(DEFAULT_NATS_STORE.seconds) },
      rate: { type: 'string', default: String(DEFAULT_NATS_STORE.rate) },
      help: { type: 'boolean', short: 'h' },
    },
    help,
  )
  if ('exit' in parsed) return parsed.exit
  const { values } = parsed
  if (values['docs-only'] !== undefined) {
    const file = resolve(values['docs-only'])
    let result: SoakResult
    try {
      result = JSON.parse(await readFile(file, 'utf8')) as SoakResult
    } catch (err) {
      process.stderr.write(`vigil soak: --docs-only: cannot read ${file}: ${(err as Error).message}\n`)
      return 2
    }
    // Judged again by today's bounds: the samples are the measurement, the bounds may have moved since.
    const judged = rejudged(result)
    await writeSoakDocs(judged, relative(repoRoot, file), join(repoRoot, 'docs/BENCHMARKS.md'))
    process.stderr.write(`vigil soak: docs/BENCHMARKS.md "soak" section written from ${relative(repoRoot, file)} (judged by today's bounds: ${judged.problems.length === 0 ? 'PASS' : `FAIL: ${judged.problems.join('; ')}`})\n`)
    return 0
  }
  const num = (flag: string, min: number): number | null => {
    const raw = (values as Record<string, unknown>)[flag] as string
    const n = Number(raw)
    if (raw === '' || !Number.isFinite(n) || n < min) {
      process.stderr.write(`vigil soak: --${flag} wants a number ≥ ${min}, got ${JSON.stringify(raw)}\n`)
      return null
    }
    return n
  }
  if (values['nats-store']) {
    const seconds = num('seconds', 10)
    const rate = num('rate', 1)
    if (seconds === null || rate === null) return 2
    nameReaper('soak')
    const t0 = Date.now()
    const log = (line: string) => process.stderr.write(`${((Date.now() - t0) / 1000).toFixed(0).padStart(5)}s ${line}\n`)
    const result = await runNatsStore({ ...DEFAULT_NATS_STORE, seconds, rate: Math.floor(rate), log })
    const dir = join(repoRoot, 'bench/results')
    await mkdir(dir, { recursive: true })
    const file = join(dir, `nats-store-${result.startedAt.replace(/[:.]/g, '-')}.json`)
    await writeFile(file, `${JSON.stringify(result, null, 2)}\n`)
    log(`nats-store: result in ${relative(repoRoot, file)}`)
    if (!values['no-docs']) {
      await writeNatsStoreDocs(result, relative(repoRoot, file), join(repoRoot, 'docs/BENCHMARKS.md'))
      log('nats-store: docs/BENCHMARKS.md "nats-server under a rig\'s writes" section written')
    }
    const top = result.variants[0]!.maxRssMb
    if (top > NATS_CEILING_MB) {
      log(`nats-store: the top (${top.toFixed(1)} MB) is over the soak's ceiling (${NATS_CEILING_MB} MB): the ceiling no longer holds`)
      return 1
    }
    return 0
  }
  const minutes = num('minutes', 1)
  const sampleS = num('sample-s', 5)
  const readS = num('read-s', 1)
  const warmupMin = num('warmup-min', 0)
  const recordS = num('record-s', 2)
  const viewers = num('viewers', 0)
  const churnS = num('churn-s', 10)
  if (minutes === null || sampleS === null || readS === null || warmupMin === null || recordS === null || viewers === null || churnS === null) return 2
  const cam = SIZE.exec(values.camera!)
  if (!cam) {
    process.stderr.write(`vigil soak: --camera WxH@FPS, e.g. 320x240@15; got ${JSON.stringify(values.camera)}\n`)
    return 2
  }
  if (warmupMin >= minutes) {
    process.stderr.write(`vigil soak: --warmup-min ${warmupMin} leaves nothing of --minutes ${minutes} to fit\n`)
    return 2
  }

  nameReaper('soak')
  const t0 = Date.now()
  const log = (line: string) => process.stderr.write(`${((Date.now() - t0) / 1000).toFixed(0).padStart(5)}s ${line}\n`)
  const result = await runSoak(
    {
      minutes,
      sampleS,
      readS: Math.min(readS, sampleS),
      warmupS: warmupMin * 60,
      camera: { width: Number(cam[1]), height: Number(cam[2]), fps: Number(cam[3]) },
      drivers: { ...DEFAULT_SOAK.drivers, recordS, viewers: Math.floor(viewers), churnEveryS: churnS },
    },
    log,
  )
  const dir = join(repoRoot, 'bench/results')
  await mkdir(dir, { recursive: true })
  const file = join(dir, `soak-${result.startedAt.replace(/[:.]/g, '-')}.json`)
  await writeFile(file, `${JSON.stringify(result, null, 2)}\n`)
  const rel = relative(repoRoot, file)
  log(`soak: result in ${rel}`)
  if (!values['no-docs']) {
    await writeSoakDocs(result, rel, join(repoRoot, 'docs/BENCHMARKS.md'))
    log('soak: docs/BENCHMARKS.md "soak" section written')
  }
  for (const s of result.judgement.slopes)
    log(`soak: ${s.metric.padEnd(10)} ${s.perHour === null ? '—' : s.perHour.toFixed(2)} ${s.unit} (bound ${s.maxPerHour}) ${s.verdict}`)
  if (result.problems.length > 0) {
    log(`soak: FAILED\n  ${result.problems.join('\n  ')}`)
    return 1
  }
  log(result.judgement.judged ? 'soak: passed' : 'soak: finished (too short to judge the slopes)')
  return 0
}
