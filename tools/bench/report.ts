/** Turns bench results into the docs/BENCHMARKS.md section and an SVG of the round-trip distributions. */
import { readFile, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { repoRoot } from '../../test/helpers/natsServer.js'
import type { Dist } from './stats.js'

type R = Record<string, any> // eslint-disable-line @typescript-eslint/no-explicit-any

const START = '<!-- bench:rig:start -->'
const END = '<!-- bench:rig:end -->'

const ms = (n: number | undefined) => (n === undefined ? '–' : n < 10 ? `${n.toFixed(2)} ms` : `${Math.round(n)} ms`)
const ratio = (a: number, b: number) => (b > 0 ? `${(a / b).toFixed(1)}×` : '–')
/** p50 of (producing − new pid) over restart trials. */
const medianGap = (trials: R[]) => {
  const d = trials.map((t) => t.producingMs - t.newPidMs).sort((a, b) => a - b)
  return d.length ? d[Math.floor(d.length / 2)] : undefined
}

export function section(res: R, file: string): string {
  const env = res['env'] as R
  const lines: string[] = [START, '## rig', '']
  lines.push(
    'One rig in the bench process (real nats-server, node-media-server, camera and recorder ffmpeg, web',
    `server; synthetic camera ${env.camera.width}x${env.camera.height}@${env.camera.fps}), driven over NATS from a separate`,
    'connection. Idle cost comes from rigs in their own processes sharing that nats-server.',
    '',
    'Reproduce (a full default run takes about 10 minutes, most of it the restart trials waiting out',
    "vigil's backoff reset; `--only rtt,stall,record,restart,alerts,idle,footage` picks parts; progress",
    'lines and the total time on stderr):',
    '',
    '```',
    'npm run bench',
    'npm run bench -- --only rtt --requests 5000',
    'npm run bench -- --only restart --trials 5 --restart-gap-s 61      # vigil vs PM2',
    'npm run bench -- --only idle --idle-rigs 1,2,4 --idle-camera 1280x720@15 --idle-seconds 20',
    'npm run bench -- --only footage --footage-trials 3 --footage-seconds 6',
    '```',
    '',
    `${env.cpus} vCPU (${env.cpu}), Node ${env.node}, ${env.at}; raw numbers in \`bench/results/\` (this run: \`${file}\`).`,
    '',
    ...(env.note ? [String(env.note), ''] : []),
  )
  const rtt = res['rtt'] as R | undefined
  if (rtt && !rtt.error) {
    const row = (name: string, d: Dist, vs: string, vs99: string) => `| ${name} | ${ms(d.p50)} | ${ms(d.p90)} | ${ms(d.p99)} | ${ms(d.max)} | ${vs} | ${vs99} |`
    const p99Ratio = rtt.nats.p99 / rtt.echo.p99
    lines.push(
      `### Command round trip (${rtt.requests} sequential requests after 50 warm-up, one in flight; the NATS command and the bare echo in turns)`,
      '',
      '| path | p50 | p90 | p99 | max | p50 vs bare NATS | p99 vs bare NATS |',
      '| --- | ---: | ---: | ---: | ---: | ---: | ---: |',
      row('bare NATS request/reply echo (the limit; same reply size)', rtt.echo, '1.0×', '1.0×'),
      row('`supervisor.status` over NATS (vigil command router)', rtt.nats, ratio(rtt.nats.p50, rtt.echo.p50), ratio(rtt.nats.p99, rtt.echo.p99)),
      row('`GET /api/v1/state` over HTTP keep-alive (web API)', rtt.http, ratio(rtt.http.p50, rtt.echo.p50), ratio(rtt.http.p99, rtt.echo.p99)),
      row('`GET /health` over HTTP keep-alive', rtt.health, ratio(rtt.health.p50, rtt.echo.p50), ratio(rtt.health.p99, rtt.echo.p99)),
      '',
      `DESIGN.md §9.5's budget: the NATS command's p99 at most 1.5× the bare echo's in the same run; this run ${p99Ratio.toFixed(2)}× (${p99Ratio <= 1.5 ? 'within' : 'OVER'}).`,
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
    rows.push(['record start: `recorder.start` sent → first media bytes in the session dir', String(record.firstBytes.n), ms(record.firstBytes.p50), ms(record.firstBytes.max), `${record.startBudgetMs ?? 1000} ms`, record.trials.map((t: R) => t.firstBytesMs).join(', ')])
    if (record.recorderBytes)
      rows.push(['record start: `recorder.start` sent → the recorder ffmpeg\'s first bytes (`seg-*`)', String(record.recorderBytes.n), ms(record.recorderBytes.p50), ms(record.recorderBytes.max), '–', record.trials.map((t: R) => t.recorderBytesMs).join(', ')])
    rows.push(['record stop: `recorder.stop` sent → reply with the finalized session', String(record.stop.n), ms(record.stop.p50), ms(record.stop.max), `${record.stopBudgetMs ?? 2000} ms`, record.trials.map((t: R) => `${t.stopMs}`).join(', ')])
  } else if (record) rows.push(['recording', '0', '–', '–', '1 s / 2 s', `error: ${record.error}`])
  if (restart && !restart.error) {
    rows.push(['restart: SIGKILL camera ffmpeg → `camera.status` streaming with a new pid', String(restart.dist.n), ms(restart.dist.p50), ms(restart.dist.max), '–', restart.trials.join(', ')])
  } else if (restart) rows.push(['restart', '0', '–', '–', '–', `error: ${restart.error}`])
  lines.push(...tbl(['what', 'trials', 'p50', 'max', 'budget', 'each trial (ms)'], rows), '')
  if (record && !record.error)
    lines.push(
      `Stopped sessions' state: ${[...new Set(record.trials.map((t: R) => t.state))].join(', ')}. Each recording ran ~2.5 s before the stop. "First media bytes" is the first non-empty media file in the session dir (polled every 5 ms; session.json excluded): with \`recorder.warmStartS\` (default 1) that is the buffered second the start moves in as \`pre-00001.mp4\` (per trial, buffered ms: ${record.trials.map((t: R) => t.warmMs ?? '–').join(', ')}); the recorder ffmpeg's own first bytes follow (row below). Its footage began this many ms before the command (session.json \`preRollMs\`; negative: after it, the hole between the buffered second and the recording): ${record.trials.map((t: R) => t.recorderPreRollMs ?? '–').join(', ')}.`,
      '',
    )
  if (stall && !stall.error)
    lines.push(
      'The alert time is the receipt time at a NATS subscriber on another connection. The camera watchdog is `camera.frameTimeoutMs` (default 2000 ms) measured from the last frame, which arrived up to one frame before the SIGSTOP, so the alert lands just under 2 s: within the budget, with about 100 ms of margin, not more.',
      '',
    )
  if (restart && !restart.error)
    lines.push(
      `Restart is measured by polling \`camera.status\` every 10 ms from the SIGKILL until it reports \`streaming\` with a new pid, so it includes the camera's own reconnect backoff (250 ms · 2^n, reset after 60 s of stable streaming) and its "streaming" check (frames flowing again). Each trial waited ${Math.round((restart.gapMs ?? 0) / 1000)} s of stable streaming first${(restart.gapMs ?? 0) >= 60000 ? ', so every trial is a first fault' : ' (under the 60 s reset: after the first, trials are repeated faults with a longer wait)'}. Back to back (no wait) the backoff doubles per fault: 8.7 s and 16.7 s for the 6th and 7th fault in a row in an earlier run, and the "streaming again" times of the stall trials above grow the same way (they ran back to back). ${typeof restart.pm2 === 'string' ? `PM2: ${restart.pm2}.` : restart.pm2Trials?.length ? 'PM2 side by side: next section.' : `PM2: not measured (${restart.peerError ?? '?'}).`}`,
      '',
    )

  if (restart && !restart.error && restart.pm2Trials?.length) {
    const peer = restart.peer as R
    const st = (peer.settings ?? {}) as R
    const v = restart.vigil as R
    const p = restart.pm2 as R
    const row = (what: string, dv: Dist, dp: Dist) => [what, ms(dv.p50), ms(dv.p90), ms(dv.max), ms(dp.p50), ms(dp.p90), ms(dp.max), ratio(dv.p50, dp.p50), ratio(dv.p90, dp.p90)]
    lines.push(`### Restart after SIGKILL: vigil vs PM2 (${v.producing.n} trials each, side by side in one run)`, '')
    lines.push(
      ...tbl(
        ['SIGKILL of the camera ffmpeg →', 'vigil p50', 'vigil p90', 'vigil max', 'PM2 p50', 'PM2 p90', 'PM2 max', 'vigil/PM2 p50', 'vigil/PM2 p90'],
        [row('a new process with the camera argv exists (/proc)', v.newPid, p.newPid), row('producing again (first whole grey frame from the new ffmpeg)', v.producing, p.producing)],
      ),
      '',
      `Each trial (ms, new pid / producing): vigil ${(restart.vigilTrials as R[]).map((t) => `${Math.round(t.newPidMs)}/${Math.round(t.producingMs)}`).join(', ')}; PM2 ${(restart.pm2Trials as R[]).map((t) => `${Math.round(t.newPidMs)}/${Math.round(t.producingMs)}`).join(', ')}.`,
      '',
      `Both supervise the same command: the camera's ffmpeg argv as \`buildFfmpegArgs\` makes it for the rig's camera (${restart.camera.width}x${restart.camera.height}@${restart.camera.fps}, \`${restart.camera.source}\`), publishing by RTMP to the same node-media-server, vigil's on \`live/cam\` and PM2's on \`live/${peer.stream}\`; both ffmpegs run the whole time, each is killed while the other keeps streaming. PM2 ${peer.version} (devDependency, pure JS) runs through its CLI with \`PM2_HOME\` in a temp dir, with its defaults (restart_delay ${st.restartDelay ?? 0}, exp_backoff_restart_delay ${st.expBackoff ?? 'unset'}, autorestart); its daemon is stopped with \`pm2 kill\` at the end and checked gone by pid (this run: daemon ${peer.reaped?.daemonGone ? 'gone' : 'NOT gone'}, app ${peer.reaped?.appGone ? 'gone' : 'NOT gone'}). A PM2 app cannot be handed vigil's two extra pipes (fd 3 grey frames, fd 4 JPEGs), so PM2 runs \`sh -c 'exec ffmpeg -nostdin <same argv> 3>motion-$$.gray 4>snap-$$.mjpeg'\`: the argv is unchanged (plus \`-nostdin\`), \`exec\` keeps the pid (as vigil's \`setpriv --pdeathsig\` wrapper does), and fd 3 is a file named by the pid. (Not \`-f rawvideo <file>\`: ffmpeg buffers a file output, 256 KB, ~3.6 s of frames, where it writes a pipe: fd per frame.)`,
      '',
      `"New pid": the first process that is a child of the supervisor (the bench process for vigil's in-process rig, the PM2 daemon for PM2) with \`-flvflags no_duration_filesize <its rtmp url>\` in its argv, polled in /proc every 5 ms. "Producing": for vigil \`camera.status\` says \`streaming\` with that pid (the camera machine enters streaming on the first whole 160x90 grey frame on fd 3); for PM2 that pid's fd 3 file holds one whole grey frame (14 400 bytes). So both times end at the same output of the same command; vigil's includes a NATS round trip (< 1 ms, see above).`,
      '',
      `Where vigil's time goes: an ffmpeg exit is handled inside the camera actor, which waits its reconnect backoff before the new ffmpeg (${restart.vigilBackoff?.camera?.initialMs ?? 250} ms · 2^n, ≤ ${restart.vigilBackoff?.camera?.maxMs ?? 30000} ms, reset after ${Math.round((restart.vigilBackoff?.camera?.resetAfterMs ?? 60000) / 1000)} s of stable streaming); each vigil trial waited ${Math.round((restart.gapMs ?? 0) / 1000)} s of stable streaming first${(restart.gapMs ?? 0) >= 60000 ? ', so each is a first fault (250 ms wait)' : ' (less than the reset: later trials wait 500 ms, 1 s … — not a first-fault measurement)'}. The supervisor's own backoff (\`supervisor.backoff\`: initialMs ${restart.vigilBackoff?.supervisor?.initialMs ?? 250}, factor ${restart.vigilBackoff?.supervisor?.factor ?? 2}, jitter ${restart.vigilBackoff?.supervisor?.jitter ?? 0.2}) applies when an actor dies, not to a killed ffmpeg. PM2 restarts at once (restart_delay 0). From new pid to producing (p50 of the per-trial differences) vigil takes ${ms(medianGap(restart.vigilTrials))} and PM2 ${ms(medianGap(restart.pm2Trials))} (ffmpeg start, lavfi, encoder, RTMP connect, first frame): what separates them is mostly vigil's backoff wait, a choice (it keeps a crash-looping camera from spinning), not overhead.`,
      '',
    )
  } else if (restart && !restart.error)
    lines.push(`Restart vs PM2: not measured in this run (${typeof restart.pm2 === 'string' ? restart.pm2 : (restart.peerError ?? 'no PM2 side')}).`, '')

  const idle = res['idle'] as R | undefined
  if (idle && !idle.error) {
    lines.push(`### Idle cost (${idle.seconds} s sample after 5 s settle, synthetic camera ${idle.camera.width}x${idle.camera.height}@${idle.camera.fps}, ${idle.cores ?? env.cpus} cores)`, '')
    lines.push(
      ...tbl(
        ['rigs on one nats-server', 'supervisor CPU (sum)', 'supervisor RSS (sum)', 'with ffmpeg & children: CPU', 'with children: RSS', 'per rig: supervisor CPU / RSS'],
        idle.runs.map((r: R) => [String(r.rigs), `${r.total.cpuPct} %`, `${r.total.rssMb} MB`, `${r.total.treeCpuPct} %`, `${r.total.treeRssMb} MB`, r.perRig.map((p: R) => `${p.cpuPct} % / ${p.rssMb} MB`).join('; ')]),
      ),
      '',
    )
    if (idle.runs.some((r: R) => r.perRigMean))
      lines.push(
        'How it grows: the mean per rig at n rigs, and against the 1-rig run (1.0× = linear growth of the total).',
        '',
        ...tbl(
          ['rigs', 'per rig: supervisor CPU', 'per rig: supervisor RSS', 'per rig: tree CPU', 'per rig: tree RSS', 'per-rig cost vs 1 rig (supervisor CPU / tree CPU / RSS)', 'load avg (1 min, max)', 'machine busy (all cores, everyone)', 'camera real time (min)', 'saturated?'],
          idle.runs
            .filter((r: R) => r.perRigMean)
            .map((r: R) => [
              String(r.rigs),
              `${r.perRigMean.cpuPct} %`,
              `${r.perRigMean.rssMb} MB`,
              `${r.perRigMean.treeCpuPct} %`,
              `${r.perRigMean.treeRssMb} MB`,
              r.growth ? `${r.growth.cpuPct ?? '–'}× / ${r.growth.treeCpuPct ?? '–'}× / ${r.growth.rssMb ?? '–'}×` : '–',
              String(r.loadavg1.max),
              `${r.machineBusyPct} %`,
              `${r.minRealtime}×`,
              r.saturated ? `**yes**: ${r.saturation.join('; ')}` : r.loadavg1.max > (idle.cores ?? env.cpus) ? `no (cameras kept real time), but load ${r.loadavg1.max} > ${idle.cores ?? env.cpus} cores` : 'no',
            ]),
        ),
        '',
        '"Camera real time" is the grey frames each camera delivered per second over the window against the 5/s it emits when keeping up (from `camera.status` framesSeen). "Saturated" when the machine was ≥ 90 % busy, the rigs used ≥ 90 % of all cores, a camera fell under 0.95× real time, or a camera was not streaming. Machine busy is from /proc/stat and load average from os.loadavg(); both include anything else running on the machine (the 1-minute load also lags the window).',
        '',
      )
    lines.push(
      'CPU % is of one core (utime+stime from /proc over the window). "Supervisor" is the node process; "with children" adds every descendant (camera, recorder, audio and motion ffmpeg, node-media-server if separate). The nats-server is shared and not counted.',
      '',
    )
  } else if (idle) lines.push(`Idle cost: error: ${idle.error}`, '')

  const footage = res['footage'] as R | undefined
  if (footage && !footage.error) {
    lines.push(`### Footage lost when the supervisor is SIGKILLed mid-recording (${footage.trials.length} trials)`, '')
    lines.push(
      ...tbl(
        ['trial', 'recorded before the kill (from `recorder.start` reply)', 'from first media bytes', 'kept (ffprobe)', 'lost', 'lost (from first bytes)', 'segments', 'session.json state after', 'children left 2 s after'],
        (footage.trials as R[]).map((t, i) => [
          String(i + 1),
          `${t.recordedS} s`,
          `${t.recordedFromFirstBytesS} s`,
          `${t.keptS} s`,
          `${t.lostS} s`,
          `${t.lostFromFirstBytesS} s`,
          (t.segments as R[]).map((x) => `${x.file} ${Math.round(x.bytes / 1024)} KB, ${x.videoPackets} frames${x.probeError ? ` (ffprobe: ${x.probeError})` : ''}`).join('; '),
          String(t.sessionState),
          `${t.survivors.length} of ${t.descendantsBefore}`,
        ]),
      ),
      '',
      `Lost p50 ${footage.lost.p50} s, max ${footage.lost.max} s (from first media bytes: p50 ${footage.lostFromFirstBytes.p50} s, max ${footage.lostFromFirstBytes.max} s). A real \`vigil start\` (default config: its own nats-server, synthetic 1280x720@15 camera, 10 s segments) in its own process; the bench starts a recording over NATS once every child runs and the camera streams, SIGKILLs the supervisor ${footage.recordS} s after the \`recorder.start\` reply, waits for its descendants to die (they carry \`setpriv --pdeathsig KILL\`; any left after 2 s is counted above, then killed by the bench), and ffprobes each \`seg-*.mp4\` in the session dir: kept = last video packet end − first packet start, summed over segments. The first column counts the recorder's start (the first fragment begins at a keyframe, 1 s GOP); the second starts at the first media bytes. The session.json is left as the kill found it (state column); DESIGN §6 has the next start reconcile a \`recording\` session to \`interrupted\` (not exercised here).`,
      '',
    )
  } else if (footage) lines.push(`Footage lost: error: ${footage.error}`, '')
  const alerts = res['alerts'] as R | undefined
  if (alerts && !alerts.error) {
    lines.push('### Alert throughput (rig bus `publishAlert` → a subscriber on `vigil.<node>.alert.>`, separate connection)', '')
    lines.push(...tbl(['alerts', 'delivered', 'lost', 'end to end', 'alerts/s'], alerts.runs.map((r: R) => [String(r.alerts), String(r.delivered), String(r.lost), ms(r.endToEndMs), String(r.perSecond)])), '')
    lines.push('Published in a loop yielding every 500 alerts; each alert is a full vigil alert body (id, node, source, code, message, severity, at). Counted by distinct id.', '')
  }
  lines.push(END)
  return lines.join('\n')
}

const sec = (d: Dist | null | undefined) => (d ? `${d.p50.toFixed(2)} / ${d.max.toFixed(2)} s` : '–')

const C_START = '<!-- bench:continuity:start -->'
const C_END = '<!-- bench:continuity:end -->'

/**
 * Issue 16: each fault's own duration next to the footage it cost, against DESIGN §9.5's
 * target, with the restart-vs-PM2 figures of the same run (`--only restart,continuity`). Its
 * own section, so a run of these two parts need not rewrite the rig section's other tables.
 */
export function continuitySection(c: R): string {
  const lines: string[] = [C_START, '## continuity: a fault during a recording, its own duration vs the footage it cost (`--only restart,continuity`)', '']
  const env = c.env as R | undefined
  if (env) lines.push(`${env.cpus} vCPU (${env.cpu}), Node ${env.node}, ${env.at}; load average (1/5/15 min) ${(env.loadavg as number[]).map((x) => x.toFixed(2)).join(' / ')} at the start, ${(env.loadavgEnd as number[] | undefined)?.map((x) => x.toFixed(2)).join(' / ') ?? '?'} at the end; raw numbers: \`${c.file}\`.`, '', ...(env.note ? [String(env.note), ''] : []))
  lines.push('```', `npm run bench -- --only restart,continuity --trials ${c.trialsPerFault} --restart-gap-s ${Math.round((c.gapMs ?? 0) / 1000)} --docs-sections continuity`, '```', '')
  if (c.error) return [...lines, `Continuity: error: ${c.error}`, '', C_END].join('\n')
  const kinds = Object.values(c.kinds as Record<string, R>)
  const tbl = (head: string[], rows: string[][]) => [`| ${head.join(' | ')} |`, `| ${head.map((_, i) => (i === 0 ? '---' : '---:')).join(' | ')} |`, ...rows.map((r) => `| ${r.join(' | ')} |`)]
  lines.push(
    ...tbl(
      ['fault during a recording (p50 / max)', 'the fault itself', 'media running again', 'noticed (left `running`)', 'footage missing (ffprobe)', 'session.json gap', 'target', 'trials within target'],
      kinds.map((k) => [
        k.title,
        sec(k.faultS),
        sec(k.mediaRunningS),
        sec(k.noticedS),
        sec(k.missingS),
        sec(k.gapS),
        sec(k.targetS),
        `${k.met} of ${k.trials.length}${k.errors.length ? ` (${k.errors.length} failed: ${k.errors.join('; ')})` : ''}`,
      ]),
    ),
    '',
    'Targets, per trial, each from that trial\'s own fault duration:',
    '',
    ...kinds.map((k) => `- ${k.title}: ${k.target}.`),
    '',
  )
  const restart = c.restart as R | undefined
  if (restart && !restart.error && restart.vigil) {
    const p = restart.pm2Trials?.length ? restart.pm2 : null
    lines.push(
      `Restart in the same run (\`restart\` part: SIGKILL of the camera ffmpeg, not recording, ${restart.vigilTrials.length} trials each after ${Math.round((restart.gapMs ?? 0) / 1000)} s of stable streaming; PM2 supervising the same ffmpeg command; p50 / max):`,
      '',
      ...tbl(
        ['supervisor', 'SIGKILL → new pid', 'SIGKILL → producing again', 'each trial, ms (new pid / producing)'],
        [
          ['vigil', `${ms(restart.vigil.newPid.p50)} / ${ms(restart.vigil.newPid.max)}`, `${ms(restart.vigil.producing.p50)} / ${ms(restart.vigil.producing.max)}`, (restart.vigilTrials as R[]).map((t) => `${Math.round(t.newPidMs)}/${Math.round(t.producingMs)}`).join(', ')],
          p ? ['PM2', `${ms(p.newPid.p50)} / ${ms(p.newPid.max)}`, `${ms(p.producing.p50)} / ${ms(p.producing.max)}`, (restart.pm2Trials as R[]).map((t) => `${Math.round(t.newPidMs)}/${Math.round(t.producingMs)}`).join(', ')] : ['PM2', '–', '–', `not measured: ${restart.peerError ?? '?'}`],
        ],
      ),
      '',
      ...(p ? [`vigil / PM2 at p50: new pid ${ratio(restart.vigil.newPid.p50, p.newPid.p50)}, producing ${ratio(restart.vigil.producing.p50, p.producing.p50)}. The camera SIGKILL row above is the same fault during a recording, with what it cost the footage.`, ''] : []),
    )
  } else if (restart?.error) lines.push(`Restart in the same run: error: ${restart.error}`, '')
  else lines.push('Restart vs PM2: not run together with this part (run `--only restart,continuity`).', '')
  lines.push(
    'Per trial (s): ' +
      kinds
        .map((k) => `${k.title}: ${(k.trials as R[]).map((t) => `fault ${t.faultS}${t.noticedS !== null ? ` (noticed ${t.noticedS})` : ''} → missing ${t.missingS}, gap ${t.gapS} (target ${t.targetS})${t.sameSession ? '' : ', ANOTHER SESSION'}${t.frozenLeftAlive ? ', frozen server left alive (killed by the bench)' : ''}`).join('; ')}`)
        .join('. ') +
      '.',
    '',
    `How: one rig of its own (synthetic camera ${c.camera.width}x${c.camera.height}@${c.camera.fps}, \`recorder.segmentS\` ${c.segmentS}) on the bench's nats-server. Each trial waits ${Math.round(Math.max(2000, c.gapMs) / 1000)} s of stable streaming${c.gapMs >= 60000 ? ' (past the camera\'s 60 s backoff reset: each fault is a first fault)' : ' (under the camera\'s 60 s backoff reset: later camera trials are repeated faults)'}, starts a recording, waits for its first bytes and 3 s more, injects the fault, waits until it is over (polling every 20 ms), until the session's bytes grow again and 4 s more, then stops and ffprobes every segment. The fault itself: kill (or freeze) → \`camera.status\` \`streaming\` with a new ffmpeg pid (media faults: after the supervisor reports the media child \`running\` with a new pid). Noticed: the published media state's \`since\` when it left \`running\` (the rig runs in the bench process: one clock). Footage missing: (preRollMs + durationMs + postRollMs) / 1000 − the sum of the segments' ffprobe durations, i.e. everything the session spans but does not hold, gaps or not (so it also holds what a fault-free session misses: the live stream reaches the recorder late and its start is rounded to a keyframe, ~0.3 s in test/integration/recorder, which the fault suite allows 1 s for; no fault-free control runs here); session.json gap: the sum of its \`gaps[].ms\`. A trial is within target when both are ≤ its target (and, frozen, noticed ≤ 3 s). The frozen server is killed by the rig; the bench SIGCONTs and kills it if it was not (a trial that needed it says so).`,
    '',
    C_END,
  )
  return lines.join('\n')
}

/** Replaces the text between `start` and `end` (markers included) or, when absent, puts it after `after` (or at the end). */
function replaceSection(doc: string, start: string, end: string, body: string, after?: string): string {
  const i = doc.indexOf(start)
  const j = doc.indexOf(end)
  if (i >= 0 && j > i) return doc.slice(0, i) + body + doc.slice(j + end.length)
  const k = after ? doc.indexOf(after) : -1
  if (k >= 0) return `${doc.slice(0, k + after!.length)}\n\n${body}${doc.slice(k + after!.length)}`
  return `${doc.trimEnd()}\n\n${body}\n`
}

export type DocSection = 'rig' | 'continuity'

/** Writes the rig section (and the rtt plot) and, when the results have it, the continuity section. */
export async function writeDocs(res: R, file: string, sections: DocSection[] = ['rig', 'continuity']): Promise<void> {
  const path = join(repoRoot, 'docs/BENCHMARKS.md')
  let next = await readFile(path, 'utf8')
  if (sections.includes('continuity') && res['continuity']) next = replaceSection(next, C_START, C_END, continuitySection(res['continuity'] as R), END)
  if (sections.includes('rig')) next = replaceSection(next, START, END, section(res, file))
  await writeFile(path, next)
  if (!sections.includes('rig')) return
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
