import { readFile, writeFile } from 'node:fs/promises'
import { join, relative } from 'node:path'
import { parseFlags } from './parseFlags.js'
import { repoRoot } from '../../test/helpers/natsServer.js'
import { writeDocs, type DocSection } from '../bench/report.js'
import { runBench } from '../bench/suite.js'
import { nameReaper } from '../procs.js'

const help = `usage: vigil bench [--only rtt,stall,record,restart,continuity,alerts,live,idle,footage,webhook,mqtt,told,upload,fleet] [--requests N] [--trials N]
                   [--restart-gap-s 61] [--idle-seconds S] [--idle-rigs 1,2,4] [--idle-camera 1280x720@15]
                   [--footage-trials 3] [--footage-seconds 6] [--alerts N] [--camera WxH@FPS] [--no-docs]
                   [--docs-sections rig,continuity]
                   [--live-readers 1,4] [--live-seconds 20]
                   vigil bench --docs-only [--note TEXT]   # rewrite the docs from bench/results/latest.json

Runs a rig on a real nats-server with the synthetic camera and measures: command round trip
(NATS vs a bare NATS echo vs HTTP), stall detection, recording start/stop, restart after
SIGKILL (vigil vs PM2 supervising the same ffmpeg command), continuity (camera ffmpeg
SIGKILL, media server SIGKILL and SIGSTOP mid-recording on a rig of its own: each fault's own
duration next to the footage it cost, by ffprobe and by session.json), alert throughput, idle CPU/RSS of
1, 2 and 4 rigs sharing one nats-server (--idle-camera, default 1280x720@15), and footage lost
when a real \`vigil start\` is SIGKILLed mid-recording, and the CPU of the live video through
the web server (GET /live/cam.flv) vs read from the media port, with --live-readers viewers
for --live-seconds each; upload MB/s into the recordings bucket (R1, R3) vs cp (upload); fleet: alerts/s from a rig into VIGIL_ALERTS as R1 and R3 on a
three-server cluster (up to 5000 of --alerts) and the pause after SIGKILLs of the stream's
leader (--trials kills). Parts: rtt, stall, record, restart, continuity, alerts, live, idle, footage, upload, fleet.
--trials is for stall, record, restart and continuity (per fault; each restart and continuity
trial first waits --restart-gap-s of stable streaming, so vigil's backoff is reset). A full
default run takes about 30 minutes (continuity alone: 3 faults × --trials × ~75 s). Progress on stderr; results to bench/results/<name>.json (and latest.json);
the "rig" and "continuity" sections of docs/BENCHMARKS.md are replaced (--docs-sections picks
which: a run of --only restart,continuity can leave the rig section's other tables alone). Never part of CI's pass/fail. Exit 1 if a
part failed.
`

export async function run(argv: string[]): Promise<number> {
  const parsed = parseFlags(
    'bench',
    argv,
    {
      only: { type: 'string' },
      requests: { type: 'string', default: '1000' },
      trials: { type: 'string', default: '5' },
      'idle-seconds': { type: 'string', default: '20' },
      'idle-rigs': { type: 'string', default: '1,2,4' },
      'idle-camera': { type: 'string', default: '1280x720@15' },
      'footage-trials': { type: 'string', default: '3' },
      'footage-seconds': { type: 'string', default: '6' },
      alerts: { type: 'string', default: '10000' },
      'restart-gap-s': { type: 'string', default: '61' },
      camera: { type: 'string', default: '640x360@15' },
      'live-readers': { type: 'string', default: '1,4' },
      'live-seconds': { type: 'string', default: '20' },
      'no-docs': { type: 'boolean' },
      'docs-sections': { type: 'string', default: 'rig,continuity' },
      'docs-only': { type: 'boolean' },
      note: { type: 'string' },
      help: { type: 'boolean', short: 'h' },
    },
    help,
  )
  if ('exit' in parsed) return parsed.exit
  const { values } = parsed
  const cam = /^(\d+)x(\d+)@(\d+)$/.exec(values.camera!)
  const idleCam = /^(\d+)x(\d+)@(\d+)$/.exec(values['idle-camera']!)
  if (!cam || !idleCam) {
    process.stderr.write('vigil bench: --camera / --idle-camera WxH@FPS, e.g. 640x360@15\n')
    return 2
  }
  const numbers = { 'live-seconds': values['live-seconds'], requests: values.requests, trials: values.trials, 'idle-seconds': values['idle-seconds'], alerts: values.alerts, 'restart-gap-s': values['restart-gap-s'], 'footage-trials': values['footage-trials'], 'footage-seconds': values['footage-seconds'] }
  for (const [k, v] of Object.entries(numbers))
    if (!(Number(v) >= 0) || v === '') {
      process.stderr.write(`vigil bench: --${k} wants a number, got ${v}\n`)
      return 2
    }
  const known = ['rtt', 'stall', 'record', 'restart', 'continuity', 'alerts', 'live', 'idle', 'footage', 'webhook', 'mqtt', 'told', 'upload', 'fleet']
  const unknown = (values.only ?? '').split(',').map((x) => x.trim()).filter((x) => x && !known.includes(x))
  if (unknown.length > 0) {
    process.stderr.write(`vigil bench: --only: unknown part(s) ${unknown.join(', ')}; parts: ${known.join(', ')}\n`)
    return 2
  }
  const liveReaders = values['live-readers']!.split(',').map(Number)
  if (liveReaders.some((n) => !Number.isInteger(n) || n < 1)) {
    process.stderr.write('vigil bench: --live-readers wants counts like 1,4\n')
    return 2
  }
  const idleRigs = values['idle-rigs']!.split(',').map(Number)
  if (idleRigs.some((n) => !Number.isInteger(n) || n < 1)) {
    process.stderr.write('vigil bench: --idle-rigs wants counts like 1,2,4\n')
    return 2
  }
  const sections = values['docs-sections']!.split(',').map((x) => x.trim()).filter(Boolean)
  if (sections.some((x) => x !== 'rig' && x !== 'continuity')) {
    process.stderr.write('vigil bench: --docs-sections wants rig and/or continuity\n')
    return 2
  }
  const docSections = sections as DocSection[]
  const latestPath = join(repoRoot, 'bench/results/latest.json')
  if (values['docs-only']) {
    // Rewrites the docs section (and the plot) from bench/results/latest.json, optionally with a note on the machine.
    const latest = JSON.parse(await readFile(latestPath, 'utf8')) as Record<string, Record<string, unknown>>
    if (values.note) latest['env'] = { ...latest['env'], note: values.note }
    await writeFile(latestPath, `${JSON.stringify(latest, null, 2)}\n`)
    await writeDocs(latest, relative(repoRoot, latestPath), docSections)
    return 0
  }
  const t0 = Date.now()
  const log = (line: string) => process.stderr.write(`${((Date.now() - t0) / 1000).toFixed(1).padStart(6)}s ${line}\n`)
  nameReaper('bench')
  const { results, file } = await runBench({
    ...(values.only ? { only: values.only.split(',').map((s) => s.trim()) } : {}),
    requests: Number(values.requests),
    trials: Number(values.trials),
    idleSeconds: Number(values['idle-seconds']),
    idleRigs,
    idleCamera: { width: Number(idleCam[1]), height: Number(idleCam[2]), fps: Number(idleCam[3]) },
    footageTrials: Number(values['footage-trials']),
    footageSeconds: Number(values['footage-seconds']),
    alerts: Number(values.alerts),
    restartGapMs: Number(values['restart-gap-s']) * 1000,
    liveReaders,
    liveSeconds: Number(values['live-seconds']),
    camera: { width: Number(cam[1]), height: Number(cam[2]), fps: Number(cam[3]) },
    mqttEvents: 20,
    log,
  })
  const rel = relative(repoRoot, file)
  log(`results: ${rel}`)
  // --only re-measures some parts: the others are kept from the previous latest.json.
  const previous = values.only ? ((await readFile(latestPath, 'utf8').then((t) => JSON.parse(t) as Record<string, unknown>).catch(() => ({}))) as Record<string, unknown>) : {}
  const { env, ...parts } = results
  const merged: Record<string, unknown> = { ...previous, ...parts, env: previous['env'] ?? env }
  if (values.only) merged['partial'] = { ...((previous['partial'] as object | undefined) ?? {}), [rel]: { parts: Object.keys(parts), env } }
  await writeFile(latestPath, `${JSON.stringify(merged, null, 2)}\n`)
  if (!values['no-docs']) {
    await writeDocs(merged, values.only ? `${relative(repoRoot, latestPath)} (merged; see its "partial")` : rel, docSections)
    log(`docs/BENCHMARKS.md: ${docSections.join(', ')} section(s) written`)
  }
  const failed = Object.entries(results).filter(([, v]) => typeof v === 'object' && v !== null && 'error' in v)
  const total = (Date.now() - t0) / 1000
  log(`bench: done in ${Math.floor(total / 60)} min ${Math.round(total % 60)} s (${Object.keys(parts).join(', ')})${failed.length > 0 ? `; FAILED: ${failed.map(([k]) => k).join(', ')}` : ''}`)
  return failed.length > 0 ? 1 : 0
}
