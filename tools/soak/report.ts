/** The soak's section of docs/BENCHMARKS.md, between its markers, from one result file. */
import { readFile, writeFile } from 'node:fs/promises'
import type { SoakResult } from './run.js'
import { MIN_JUDGED_S, slopePerHour } from './trend.js'

export const SOAK_START = '<!-- soak:start -->'
export const SOAK_END = '<!-- soak:end -->'

// Older result files lack the context series added since: shown as a dash.
const f1 = (n: number | undefined) => (n === undefined ? '—' : n.toFixed(1))
const signed = (n: number | null, digits = 2) => (n === null ? '—' : `${n >= 0 ? '+' : ''}${n.toFixed(digits)}`)

export function soakSection(r: SoakResult, resultFile: string): string {
  const o = r.options
  const d = o.drivers
  const a = r.activity
  const j = r.judgement
  const loads = r.samples.map((s) => s.load1)
  const lines: string[] = [SOAK_START, '## soak: a rig in use for an hour (`npm run soak`)', '']
  lines.push(
    `\`npm run soak -- --minutes ${o.minutes}\` (${resultFile}): a real \`vigil start\` (camera ${o.camera.width}x${o.camera.height}@${o.camera.fps}, ` +
      `every other setting the default but small log limits so files also rotate by size) used for ${o.minutes} minutes: ` +
      `record cycles of ${d.recordS} s (the finished sessions beyond the last ${d.keepSessions} deleted through \`recorder.delete\`), ` +
      `${d.viewers} WebSocket viewers each leaving and coming back every ${d.viewS} s, the live video (\`/live/cam.flv\`) watched ${d.liveS} s of every ${d.liveEveryS} s, ` +
      `a fault every ${d.churnEveryS} s (SIGKILL of the audio meter's ffmpeg, twice, then the camera's: alerts raised and cleared, processes respawned), ` +
      `\`logs.rotate\` every ${d.rotateEveryS} s. Read every ${o.readS} s from the rig's \`/metrics\` (process RSS, V8 heap used and total, external memory, open fds, active handles) ` +
      `and /proc (the processes under vigil and their RSS); each sample (every ${o.sampleS} s) is the floor of its readings, what the rig holds when nothing passing is open. ` +
      `Slopes are least-squares fits per hour over the samples after a ${o.warmupS / 60} min warm-up; ` +
      `the embedded nats-server is held to a ceiling instead of a slope (its memory follows its store blocks, a sawtooth of hours: "nats-server under a rig's writes" below), ` +
      `and the tree's slope is taken without it (\`treeLessNatsRssMb\`). ` +
      `The soak exits 1 if a slope is over its bound (judged only with ≥ ${MIN_JUDGED_S / 60} min of fitted samples), the nats-server over its ceiling, if vigil dies, does not stop cleanly or leaves a process behind.`,
    '',
    `Started ${r.startedAt}; ${r.machine.cpus} CPUs, Node ${r.machine.node}; load average (1 min) over the run ${f1(Math.min(...loads))}–${f1(Math.max(...loads))} ` +
      `(median ${f1([...loads].sort((x, y) => x - y)[Math.floor(loads.length / 2)] ?? 0)}).`,
    '',
    `**Verdict: ${r.problems.length === 0 ? (j.judged ? 'PASS' : 'not judged (too short)') : 'FAIL'}**${r.problems.length > 0 ? `: ${r.problems.join('; ')}` : ''}`,
    '',
    '| series | after warm-up | at the end | slope | bound | |',
    '| --- | ---: | ---: | ---: | ---: | --- |',
  )
  for (const s of j.slopes) {
    const v = (x: number | null) => (x === null ? '—' : s.unit.startsWith('MB') ? f1(x) : String(Math.round(x)))
    lines.push(`| ${s.metric} | ${v(s.first)} | ${v(s.last)} | ${signed(s.perHour)} ${s.unit} | ${s.maxPerHour} ${s.unit} | ${s.verdict} |`)
  }
  const nc = j.natsCeiling
  if (nc && nc.verdict !== 'none') {
    const natsSlope = slopePerHour(r.samples.filter((s) => s.atS >= o.warmupS).map((s) => s.atS), r.samples.filter((s) => s.atS >= o.warmupS).map((s) => s.natsRssMb))
    lines.push(`| nats-server RSS (highest sample) | ${f1(r.samples[0]?.natsRssMb)} | ${f1(nc.maxMb ?? undefined)} max | ${signed(natsSlope)} MB/h (not judged) | ≤ ${nc.ceilingMb} MB | ${nc.verdict} |`)
  }
  lines.push(
    '',
    `What it did: ${a.cycles.ok} record cycles (${a.cycles.failed} failed${a.cycles.failed > 0 ? `: ${JSON.stringify(a.cycles.errors)}` : ''}), ` +
      `${a.deletes.ok} sessions deleted (${a.deletes.failed} failed), ${a.ws.sessions} WebSocket sessions (${a.ws.failed} refused, ${a.ws.messages} messages), ` +
      `${a.live.views} live-video views (${(a.live.bytes / 1024 / 1024).toFixed(1)} MB; ${a.live.refused} refused by the preview level, ${a.live.failed} failed), ` +
      `${a.churn.audioKills} audio and ${a.churn.cameraKills} camera ffmpeg killed (${a.churn.skipped} skipped: not running), ${a.rotations.ok} rotations asked. ` +
      `Restarts over the run: ${Object.entries(r.restarts).filter(([, n]) => n > 0).map(([id, n]) => `${id} ${n}`).join(', ') || 'none'}. ` +
      `Alerts seen on NATS: ${Object.entries(a.alerts).sort((x, y) => y[1] - x[1]).map(([code, n]) => `${code} ${n}`).join(', ') || 'none'}. ` +
      `Stop: exit ${r.stop.code ?? r.stop.signal} in ${(r.stop.ms / 1000).toFixed(1)} s, ${r.stop.orphans.length} processes left.`,
    '',
    '<details><summary>the series (one row a sample)</summary>',
    '',
    '| min | RSS MB | heap used MB | heap total MB | external MB | fds | handles | processes | tree RSS MB | nats-server MB | media MB | load |',
    '| ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |',
  )
  for (const s of r.samples)
    lines.push(`| ${f1(s.atS / 60)} | ${f1(s.rssMb)} | ${f1(s.heapMb)} | ${f1(s.heapTotalMb)} | ${f1(s.externalMb)} | ${s.fds} | ${s.handles} | ${s.children} | ${f1(s.treeRssMb)} | ${f1(s.natsRssMb)} | ${f1(s.mediaRssMb)} | ${s.load1.toFixed(2)} |`)
  lines.push('', '</details>', SOAK_END)
  return lines.join('\n')
}

export async function writeSoakDocs(r: SoakResult, resultFile: string, docPath: string): Promise<void> {
  await writeDocSection(docPath, SOAK_START, SOAK_END, soakSection(r, resultFile))
}

/** Replaces the text from `start` to `end` (markers included; `body` carries them) in the doc, or appends `body` when they are not there. */
export async function writeDocSection(docPath: string, start: string, end: string, body: string): Promise<void> {
  const doc = await readFile(docPath, 'utf8')
  const i = doc.indexOf(start)
  const k = doc.indexOf(end)
  await writeFile(docPath, i >= 0 && k > i ? doc.slice(0, i) + body + doc.slice(k + end.length) : `${doc.trimEnd()}\n\n${body}\n`)
}
