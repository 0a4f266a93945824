/** Turns bench results into the docs/BENCHMARKS.md section and an SVG of the round-trip distributions. */
import { readFile, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { repoRoot } from '../../test/helpers/natsServer.js'
import type { Dist } from './suite.js'

type R = Record<string, any> // eslint-disable-line @typescript-eslint/no-explicit-any

const START = '<!-- bench:rig:start -->'
const END = '<!-- bench:rig:end -->'

const ms = (n: number | undefined) => (n === undefined ? '–' : n < 10 ? `${n.toFixed(2)} ms` : `${Math.round(n)} ms`)
const ratio = (a: number, b: number) => (b > 0 ? `${(a / b).toFixed(1)}×` : '–')

export function section(res: R, file: string): string {
  const env = res['env'] as R
  const lines: string[] = [START, '## rig', '']
  lines.push(
    'One rig in the bench process (real nats-server, node-media-server, camera and recorder ffmpeg, web',
    `server; synthetic camera ${env.camera.width}x${env.camera.height}@${env.camera.fps}), driven over NATS from a separate`,
    'connection. Idle cost comes from rigs in their own processes sharing that nats-server.',
    '',
    'Reproduce (about 3 minutes; `--only rtt,stall,record,restart,alerts,idle` picks parts):',
    '',
    '```',
    'npm run bench',
    'npm run bench -- --only rtt --requests 5000',
    '```',
    '',
    `${env.cpus} vCPU (${env.cpu}), Node ${env.node}, ${env.at}; raw numbers in \`bench/results/\` (this run: \`${file}\`).`,
    '',
    ...(env.note ? [String(env.note), ''] : []),
  )
  const rtt = res['rtt'] as R | undefined
  if (rtt && !rtt.error) {
    const row = (name: string, d: Dist, vs: string) => `| ${name} | ${ms(d.p50)} | ${ms(d.p90)} | ${ms(d.p99)} | ${ms(d.max)} | ${vs} |`
    lines.push(
      `### Command round trip (${rtt.requests} sequential requests after 50 warm-up, one in flight)`,
      '',
      '| path | p50 | p90 | p99 | max | p50 vs bare NATS |',
      '| --- | ---: | ---: | ---: | ---: | ---: |',
      row('bare NATS request/reply echo (the limit; same reply size)', rtt.echo, '1.0×'),
      row('`supervisor.status` over NATS (vigil command router)', rtt.nats, ratio(rtt.nats.p50, rtt.echo.p50)),
      row('`GET /api/v1/state` over HTTP keep-alive (web API)', rtt.http, ratio(rtt.http.p50, rtt.echo.p50)),
      row('`GET /health` over HTTP keep-alive', rtt.health, ratio(rtt.health.p50, rtt.echo.p50)),
      '',
      `The HTTP peer of \`supervisor.status\` is \`GET /api/v1/state\`: the web API has no`,
      `supervisor-status route, and the state snapshot is the read a client makes for the same`,
      `information (it carries more: actor contexts and recent alerts). Reply size of`,
      `supervisor.status: ${rtt.replyBytes} B. Failed NATS commands: ${rtt.failed}; non-2xx HTTP: ${rtt.non2xx}.`,
      '',
      '![round-trip distributions](bench-rtt.svg) (histogram of the 1000 samples per path, log-scale ms; `docs/bench-rtt.svg`, rewritten by each run)',
      '',
    )
  }
  const tbl = (head: string[], rows: string[][]) => [`| ${head.join(' | ')} |`, `| ${head.map((_, i) => (i === 0 ? '---' : '---:')).join(' | ')} |`, ...rows.map((r) => `| ${r.join(' | ')} |`)]
  const stall = res['stall'] as R | undefined
  const record = res['record'] as R | undefined
  const restart = res['restart'] as R | undefined
  lines.push('### Faults and recording, against the budgets', '')
  const rows: string[][] = []
  if (stall && !stall.error) {
    rows.push(['stall: SIGSTOP camera ffmpeg → `camera.stalled` alert received', String(stall.alert.n), ms(stall.alert.p50), ms(stall.alert.max), '2 000 ms', stall.trials.map((t: R) => t.alertMs).join(', ')])
    rows.push(['stall: SIGSTOP → camera streaming again (new ffmpeg)', String(stall.recovered.n), ms(stall.recovered.p50), ms(stall.recovered.max), '–', stall.trials.map((t: R) => t.recoveredMs).join(', ')])
  } else if (stall) rows.push(['stall', '0', '–', '–', '2 000 ms', `error: ${stall.error}`])
  if (record && !record.error) {
    rows.push(['record start: `recorder.start` sent → reply', String(record.startReply.n), ms(record.startReply.p50), ms(record.startReply.max), '–', record.trials.map((t: R) => t.replyMs).join(', ')])
    rows.push(['record start: `recorder.start` sent → first media bytes in the session dir', String(record.firstBytes.n), ms(record.firstBytes.p50), ms(record.firstBytes.max), '1 000 ms', record.trials.map((t: R) => t.firstBytesMs).join(', ')])
    rows.push(['record stop: `recorder.stop` sent → reply with the finalized session', String(record.stop.n), ms(record.stop.p50), ms(record.stop.max), '2 000 ms', record.trials.map((t: R) => `${t.stopMs}`).join(', ')])
  } else if (record) rows.push(['recording', '0', '–', '–', '1 s / 2 s', `error: ${record.error}`])
  if (restart && !restart.error) {
    rows.push(['restart: SIGKILL camera ffmpeg → `camera.status` streaming with a new pid', String(restart.dist.n), ms(restart.dist.p50), ms(restart.dist.max), '–', restart.trials.join(', ')])
  } else if (restart) rows.push(['restart', '0', '–', '–', '–', `error: ${restart.error}`])
  lines.push(...tbl(['what', 'trials', 'p50', 'max', 'budget', 'each trial (ms)'], rows), '')
  if (record && !record.error)
    lines.push(
      `Stopped sessions' state: ${[...new Set(record.trials.map((t: R) => t.state))].join(', ')}. Each recording ran ~2.5 s before the stop. "First media bytes" is the first non-empty media file in the session dir (polled every 5 ms; session.json excluded). Stop times are bimodal (~0.5 s or ~1.5 s), which looks like where in the 1 s GOP the stop lands; not investigated.`,
      '',
    )
  if (stall && !stall.error)
    lines.push(
      'The alert time is the receipt time at a NATS subscriber on another connection. The camera watchdog is `camera.frameTimeoutMs` (default 2000 ms) measured from the last frame, which arrived up to one frame before the SIGSTOP, so the alert lands just under 2 s: within the budget, with about 100 ms of margin, not more.',
      '',
    )
  if (restart && !restart.error)
    lines.push(
      `Restart is measured by polling \`camera.status\` every 10 ms from the SIGKILL until it reports \`streaming\` with a new pid, so it includes the camera's own reconnect backoff (250 ms · 2^n, reset after 60 s of stable streaming) and its "streaming" check (frames flowing again). Each trial waited ${Math.round((restart.gapMs ?? 0) / 1000)} s of stable streaming first, so every trial is a first fault. Back to back (no wait) the backoff doubles per fault: 8.7 s and 16.7 s for the 6th and 7th fault in a row in an earlier run, and the "streaming again" times of the stall trials above grow the same way (they ran back to back). PM2: ${restart.pm2}.`,
      '',
    )

  const idle = res['idle'] as R | undefined
  if (idle && !idle.error) {
    lines.push(`### Idle cost (${idle.seconds} s sample after 5 s settle, synthetic camera ${idle.camera.width}x${idle.camera.height}@${idle.camera.fps})`, '')
    lines.push(
      ...tbl(
        ['rigs on one nats-server', 'supervisor CPU (sum)', 'supervisor RSS (sum)', 'with ffmpeg & children: CPU', 'with children: RSS', 'per rig: supervisor CPU / RSS'],
        idle.runs.map((r: R) => [String(r.rigs), `${r.total.cpuPct} %`, `${r.total.rssMb} MB`, `${r.total.treeCpuPct} %`, `${r.total.treeRssMb} MB`, r.perRig.map((p: R) => `${p.cpuPct} % / ${p.rssMb} MB`).join('; ')]),
      ),
      '',
      'CPU % is of one core (utime+stime from /proc over the window). "Supervisor" is the node process; "with children" adds every descendant (camera, recorder, audio and motion ffmpeg, node-media-server if separate). The nats-server is shared and not counted.',
      '',
    )
  } else if (idle) lines.push(`Idle cost: error: ${idle.error}`, '')
  const alerts = res['alerts'] as R | undefined
  if (alerts && !alerts.error) {
    lines.push('### Alert throughput (rig bus `publishAlert` → a subscriber on `vigil.<node>.alert.>`, separate connection)', '')
    lines.push(...tbl(['alerts', 'delivered', 'lost', 'end to end', 'alerts/s'], alerts.runs.map((r: R) => [String(r.alerts), String(r.delivered), String(r.lost), ms(r.endToEndMs), String(r.perSecond)])), '')
    lines.push('Published in a loop yielding every 500 alerts; each alert is a full vigil alert body (id, node, source, code, message, severity, at). Counted by distinct id.', '')
  }
  lines.push(END)
  return lines.join('\n')
}

export async function writeDocs(res: R, file: string): Promise<void> {
  const path = join(repoRoot, 'docs/BENCHMARKS.md')
  const doc = await readFile(path, 'utf8')
  const body = section(res, file)
  const i = doc.indexOf(START)
  const j = doc.indexOf(END)
  const next = i >= 0 && j > i ? doc.slice(0, i) + body + doc.slice(j + END.length) : `${doc.trimEnd()}\n\n${body}\n`
  await writeFile(path, next)
  const rtt = res['rtt'] as R | undefined
  if (rtt?.samples) await writeFile(join(repoRoot, 'docs/bench-rtt.svg'), svg(rtt.samples as Record<string, number[]>))
}

/** A hand-written histogram: one row per series, log-spaced bins, counts as bar heights. */
export function svg(series: Record<string, number[]>): string {
  const names = Object.keys(series)
  const all = names.flatMap((n) => series[n]!)
  const lo = Math.max(0.01, Math.min(...all))
  const hi = Math.max(...all)
  const bins = 60
  const lg = (x: number) => Math.log10(Math.max(lo, x))
  const bin = (x: number) => Math.min(bins - 1, Math.floor(((lg(x) - lg(lo)) / (lg(hi) - lg(lo) || 1)) * bins))
  const W = 720
  const rowH = 110
  const left = 150
  const plotW = W - left - 20
  const colors = ['#4e79a7', '#f28e2b', '#59a14f', '#e15759']
  const parts: string[] = [`<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${names.length * rowH + 40}" font-family="sans-serif" font-size="12">`]
  parts.push(`<rect width="100%" height="100%" fill="white"/>`)
  names.forEach((name, k) => {
    const counts = new Array<number>(bins).fill(0)
    for (const x of series[name]!) counts[bin(x)]! += 1
    const max = Math.max(...counts)
    const y0 = k * rowH + 10
    parts.push(`<text x="6" y="${y0 + 50}">${name}</text>`)
    counts.forEach((c, b) => {
      const h = max ? (c / max) * (rowH - 20) : 0
      parts.push(`<rect x="${left + (b * plotW) / bins}" y="${y0 + rowH - 10 - h}" width="${plotW / bins - 1}" height="${h}" fill="${colors[k % colors.length]}"/>`)
    })
  })
  const yAxis = names.length * rowH + 10
  parts.push(`<line x1="${left}" y1="${yAxis - 10}" x2="${left + plotW}" y2="${yAxis - 10}" stroke="#333"/>`)
  for (let e = Math.floor(lg(lo)); e <= Math.ceil(lg(hi)); e++) {
    for (const m of [1, 2, 5]) {
      const v = m * 10 ** e
      if (v < lo || v > hi) continue
      const x = left + ((lg(v) - lg(lo)) / (lg(hi) - lg(lo) || 1)) * plotW
      parts.push(`<line x1="${x}" y1="${yAxis - 10}" x2="${x}" y2="${yAxis - 5}" stroke="#333"/><text x="${x}" y="${yAxis + 8}" text-anchor="middle">${v < 1 ? v.toFixed(2) : v}</text>`)
    }
  }
  parts.push(`<text x="${left + plotW / 2}" y="${yAxis + 24}" text-anchor="middle">round-trip latency, ms (log scale); bar height = share of requests per bin</text>`)
  parts.push('</svg>')
  return `${parts.join('\n')}\n`
}
