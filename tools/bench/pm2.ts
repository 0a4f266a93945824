/**
 * PM2 as the peer supervisor for the restart bench: PM2 7 (devDependency) driven through its
 * own CLI (`node node_modules/pm2/bin/pm2 …`) with PM2_HOME in a temp dir, so it never touches
 * ~/.pm2 or another user's daemon. It supervises the camera's ffmpeg command line
 * (`buildFfmpegArgs` with the rig's camera settings), publishing to the same media server on
 * another stream key. The two pipe outputs vigil reads (fd 3 grey frames, fd 4 JPEGs) cannot
 * be handed to a PM2 app, so the shell opens them on files named after the ffmpeg's pid
 * (exec keeps the pid, as vigil's `setpriv --pdeathsig` wrapper does). "Producing" is then the first whole grey frame in that file, the same output and the
 * same threshold as vigil's first FRAME (what moves its camera to `streaming`).
 * (`sh -c 'exec ffmpeg <the camera's argv> 3>motion-$$.gray 4>snap-$$.mjpeg'`: the argv is
 * unchanged, fd 3 / fd 4 are files instead of pipes to a node process.)
 */
import { execFile } from 'node:child_process'
import { existsSync } from 'node:fs'
import { mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { promisify } from 'node:util'
import { buildFfmpegArgs, DEFAULT_MOTION, DEFAULT_SNAPSHOT, MOTION_FD, motionFrameBytes, SNAPSHOT_FD } from '../../actors/camera/ffmpegArgs.js'
import { parseCameraSource } from '../../infra/sources.js'
import { repoRoot } from '../../test/helpers/natsServer.js'
import { disownPid, findChild, isAlive, killAndWait, ownDir, ownPid, sleep } from './harness.js'

const execFileP = promisify(execFile)

export const PM2_CLI = join(repoRoot, 'node_modules/pm2/bin/pm2')
export const PM2_APP = 'vigil-bench-camera'
/** The stream key the PM2-run ffmpeg publishes to (vigil's camera publishes to live/cam). */
export const PM2_STREAM = 'pm2bench'

export interface Pm2Camera {
  home: string
  version: string
  daemonPid: number
  /** The ffmpeg command PM2 runs (argv, outputs rewritten to files). */
  argv: string[]
  /** The pid of PM2's ffmpeg now, from /proc (child of the daemon, argv has the stream key). */
  appPid(not?: number): Promise<number | null>
  /** True once `pid` has written one whole grey frame. */
  producing(pid: number): Promise<boolean>
  /** PM2's own view: restarts counted, settings in force. */
  describe(): Promise<{ pid: number; restarts: number; restartDelay: number; expBackoff: number | null; autorestart: boolean; status: string }>
  /** `pm2 kill` (stops the app, then the daemon); then SIGKILL by pid whatever is left; removes PM2_HOME. */
  stop(): Promise<{ daemonGone: boolean; appGone: boolean }>
}

const shq = (a: string) => `'${a.replace(/'/g, `'\\''`)}'`

export async function startPm2Camera(o: { ffmpegPath: string; source: string; width: number; height: number; fps: number; rtmpUrl: string }): Promise<Pm2Camera> {
  if (!existsSync(PM2_CLI)) throw new Error('pm2 is not installed (devDependency pm2@7.0.4: run npm ci)')
  const home = await mkdtemp(join(tmpdir(), 'vigil-bench-pm2-'))
  const out = join(home, 'out')
  const env = { ...process.env, PM2_HOME: home }
  const pm2 = async (...args: string[]) => (await execFileP(process.execPath, [PM2_CLI, ...args], { env, timeout: 30000, maxBuffer: 16 * 1024 * 1024 })).stdout
  // The camera's argv, exactly as runFfmpeg builds it for the rig's camera settings.
  const argv = buildFfmpegArgs({
    source: parseCameraSource(o.source),
    width: o.width,
    height: o.height,
    fps: o.fps,
    rtmpUrl: o.rtmpUrl,
    motion: DEFAULT_MOTION,
    snapshot: DEFAULT_SNAPSHOT,
  })
  // The argv stays exactly the camera's (pipe:3, pipe:4); the shell points fd 3 and fd 4 at files
  // named by pid and execs ffmpeg (same pid). Not `-f rawvideo <file>`: ffmpeg buffers a file
  // output (256 KB, ~3.6 s of grey frames) where it writes a pipe: fd per frame.
  // -nostdin: PM2's stdin is not vigil's 'q' pipe.
  const script =
    `mkdir -p ${shq(out)} && exec ${shq(o.ffmpegPath)} -nostdin ${argv.map(shq).join(' ')}` +
    ` ${MOTION_FD}>${shq(join(out, 'motion-'))}$$.gray` +
    (argv.includes(`pipe:${SNAPSHOT_FD}`) ? ` ${SNAPSHOT_FD}>${shq(join(out, 'snap-'))}$$.mjpeg` : '')
  const eco = join(home, 'ecosystem.json')
  // PM2's defaults: autorestart, restart_delay 0, no exp_backoff_restart_delay, min_uptime 1 s, max_restarts 16.
  await writeFile(eco, JSON.stringify({ apps: [{ name: PM2_APP, script: '/bin/sh', args: ['-c', script], interpreter: 'none', exec_mode: 'fork' }] }, null, 2))
  ownDir(home)
  const marker = `no_duration_filesize ${o.rtmpUrl}`
  let daemonPid = 0
  const readDaemonPid = async () => {
    daemonPid = Number((await readFile(join(home, 'pm2.pid'), 'utf8').catch(() => '0')).trim()) || daemonPid
    ownPid(daemonPid)
  }
  const stop = async () => {
    await readDaemonPid()
    const app = daemonPid ? await findChild(daemonPid, marker) : null
    await pm2('kill').catch(() => '')
    const daemonGone = daemonPid ? await killAndWait(daemonPid, 5000) : true
    const appGone = app ? await killAndWait(app, 5000) : true
    if (app) disownPid(app)
    await rm(home, { recursive: true, force: true })
    return { daemonGone, appGone }
  }
  try {
    const version = (await pm2('--version')).trim().split('\n').at(-1) ?? '?'
    await readDaemonPid()
    await pm2('start', eco)
    await readDaemonPid()
    if (!daemonPid || !isAlive(daemonPid)) throw new Error('pm2 daemon did not start')
    const cam: Pm2Camera = {
      home,
      version,
      daemonPid,
      argv,
      appPid: async (not) => {
        const p = await findChild(daemonPid, marker, not)
        if (p) ownPid(p)
        return p
      },
      producing: async (pid) => ((await stat(join(out, `motion-${pid}.gray`)).catch(() => null))?.size ?? 0) >= motionFrameBytes(DEFAULT_MOTION),
      describe: async () => {
        const list = JSON.parse(await pm2('jlist')) as Array<{ name: string; pid: number; pm2_env: Record<string, unknown> }>
        const app = list.find((a) => a.name === PM2_APP)
        if (!app) throw new Error('pm2 jlist: app not found')
        const e = app.pm2_env
        return {
          pid: app.pid,
          restarts: Number(e['restart_time'] ?? 0),
          restartDelay: Number(e['restart_delay'] ?? 0),
          expBackoff: (e['exp_backoff_restart_delay'] as number | undefined) ?? null,
          autorestart: e['autorestart'] !== false,
          status: String(e['status']),
        }
      },
      stop,
    }
    return cam
  } catch (err) {
    await stop()
    throw err
  }
}

/** Waits until PM2's ffmpeg produces frames; returns its pid. */
export async function pm2Ready(cam: Pm2Camera, timeoutMs = 30000): Promise<number> {
  const deadline = Date.now() + timeoutMs
  for (;;) {
    const pid = await cam.appPid()
    if (pid && (await cam.producing(pid))) return pid
    if (Date.now() > deadline) throw new Error(`PM2's ffmpeg produced no frame within ${timeoutMs} ms (pid ${pid ?? 'none'}); see ${cam.home}/logs`)
    await sleep(50)
  }
}

/** Removes the frame files of pids no longer running (they grow ~100 KB/s each). */
export async function pruneOutputs(cam: Pm2Camera, keep: number): Promise<void> {
  const { readdir, unlink } = await import('node:fs/promises')
  const dir = join(cam.home, 'out')
  for (const f of await readdir(dir).catch(() => [] as string[])) {
    const m = /-(\d+)\.(gray|mjpeg)$/.exec(f)
    if (m && Number(m[1]) !== keep) await unlink(join(dir, f)).catch(() => {})
  }
}
