/**
 * The soak's use of the rig, each a loop until the signal aborts: what a rig meets in a
 * month, compressed. Record cycles (with old sessions deleted, as retention or a person
 * would), WebSocket viewers coming and going, the live video watched for a while, faults
 * that raise and clear alerts (an audio and a camera ffmpeg killed from outside), and log
 * rotation. Every outcome is counted; nothing here decides pass or fail but the counts.
 */
import { request as httpRequest } from 'node:http'
import { createRequire } from 'node:module'
import { subjects } from '../../infra/subjects.js'
import type { SoakRig } from './rig.js'

export interface SoakActivity {
  cycles: { ok: number; failed: number; errors: Record<string, number> }
  deletes: { ok: number; failed: number }
  ws: { sessions: number; failed: number; messages: number }
  live: { views: number; refused: number; failed: number; bytes: number }
  churn: { audioKills: number; cameraKills: number; skipped: number }
  rotations: { ok: number; failed: number }
  alerts: Record<string, number>
}

export function emptyActivity(): SoakActivity {
  return {
    cycles: { ok: 0, failed: 0, errors: {} },
    deletes: { ok: 0, failed: 0 },
    ws: { sessions: 0, failed: 0, messages: 0 },
    live: { views: 0, refused: 0, failed: 0, bytes: 0 },
    churn: { audioKills: 0, cameraKills: 0, skipped: 0 },
    rotations: { ok: 0, failed: 0 },
    alerts: {},
  }
}

export interface DriverOptions {
  /** Seconds each session records. */
  recordS: number
  /** WebSocket viewers connected at once (each reconnects after `viewS`). */
  viewers: number
  viewS: number
  /** A live-video view of `liveS` every `liveEveryS`. */
  liveS: number
  liveEveryS: number
  /** One fault every `churnEveryS` (audio, audio, camera, …). */
  churnEveryS: number
  rotateEveryS: number
  /** Finished sessions kept; older ones are deleted through `recorder.delete`. */
  keepSessions: number
}

export const DEFAULT_DRIVERS: DriverOptions = {
  recordS: 20,
  viewers: 3,
  viewS: 45,
  liveS: 15,
  liveEveryS: 60,
  churnEveryS: 120,
  rotateEveryS: 300,
  keepSessions: 3,
}

/** Resolves after `ms`, or at once when aborted. */
function pause(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (signal.aborted) return resolve()
    const t = setTimeout(done, ms)
    function done() {
      clearTimeout(t)
      signal.removeEventListener('abort', done)
      resolve()
    }
    signal.addEventListener('abort', done, { once: true })
  })
}

const count = (m: Record<string, number>, key: string) => {
  m[key] = (m[key] ?? 0) + 1
}

async function recordCycles(rig: SoakRig, o: DriverOptions, a: SoakActivity, signal: AbortSignal): Promise<void> {
  const done: string[] = []
  for (let n = 1; !signal.aborted; n++) {
    const start = await rig.cmd<{ id: string }>('recorder', 'start', { name: `soak-${n}` })
    if (!start.ok) {
      a.cycles.failed++
      count(a.cycles.errors, `start ${start.error.code}`)
      await pause(5000, signal)
      continue
    }
    // The last cycle is stopped too: an abort only shortens its recording.
    await pause(o.recordS * 1000, signal)
    const stop = await rig.cmd('recorder', 'stop', {}, 15_000)
    if (!stop.ok) {
      a.cycles.failed++
      count(a.cycles.errors, `stop ${stop.error.code}`)
    } else {
      a.cycles.ok++
      done.push(start.result.id)
    }
    while (done.length > o.keepSessions) {
      const id = done.shift()!
      const del = await rig.cmd('recorder', 'delete', { id })
      if (del.ok) a.deletes.ok++
      else a.deletes.failed++
    }
    await pause(3000, signal)
  }
}

interface WsLike {
  on(event: 'open' | 'close', l: () => void): void
  on(event: 'message', l: (d: Buffer) => void): void
  on(event: 'error', l: (e: Error) => void): void
  close(): void
  terminate(): void
}
type WsCtor = new (url: string, protocols: string[], opts: { headers: Record<string, string> }) => WsLike
// `ws` ships no types; it is the WebSocket of @fastify/websocket, already installed.
const WebSocketClient = (createRequire(import.meta.url)('ws') as { WebSocket: WsCtor }).WebSocket

/** One viewer's visit: connect, stay `viewS`, leave. Resolves when the socket is closed. */
function wsVisit(rig: SoakRig, viewS: number, a: SoakActivity, signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    const url = `${rig.webUrl.replace(/^http/, 'ws')}/api/v1/ws`
    const socket = new WebSocketClient(url, ['vigil'], { headers: { authorization: `Bearer ${rig.token}` } })
    let opened = false
    const leave = () => socket.close()
    const timer = setTimeout(leave, viewS * 1000)
    signal.addEventListener('abort', leave, { once: true })
    socket.on('open', () => {
      opened = true
      a.ws.sessions++
    })
    socket.on('message', () => {
      a.ws.messages++
    })
    socket.on('error', () => {
      if (!opened) a.ws.failed++
      socket.terminate()
    })
    socket.on('close', () => {
      clearTimeout(timer)
      signal.removeEventListener('abort', leave)
      resolve()
    })
  })
}

async function viewer(rig: SoakRig, o: DriverOptions, a: SoakActivity, signal: AbortSignal, i: number): Promise<void> {
  // Staggered, so the viewers do not all come and go together.
  await pause((i * o.viewS * 1000) / Math.max(1, o.viewers), signal)
  while (!signal.aborted) {
    await wsVisit(rig, o.viewS, a, signal)
    await pause(2000, signal)
  }
}

/** GET /live/cam.flv for `seconds`, counting bytes; 503 (the governor's preview level) is a refusal, not a failure. */
function liveView(rig: SoakRig, seconds: number, a: SoakActivity, signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    const req = httpRequest(`${rig.webUrl}/live/cam.flv`, { headers: { authorization: `Bearer ${rig.token}` }, agent: false }, (res) => {
      if (res.statusCode !== 200) {
        if (res.statusCode === 503) a.live.refused++
        else a.live.failed++
        res.resume()
        res.once('end', finish)
        return
      }
      a.live.views++
      res.on('data', (c: Buffer) => (a.live.bytes += c.length))
      res.once('close', finish)
    })
    const timer = setTimeout(() => req.destroy(), seconds * 1000)
    const onAbort = () => req.destroy()
    signal.addEventListener('abort', onAbort, { once: true })
    let ended = false
    function finish() {
      if (ended) return
      ended = true
      clearTimeout(timer)
      signal.removeEventListener('abort', onAbort)
      resolve()
    }
    req.once('error', (err) => {
      // Our own destroy at the end of the view is not a failure.
      if (!/socket hang up|aborted/i.test(err.message) && a.live.views === 0) a.live.failed++
      finish()
    })
    req.once('close', finish)
    req.end()
  })
}

async function liveViewer(rig: SoakRig, o: DriverOptions, a: SoakActivity, signal: AbortSignal): Promise<void> {
  while (!signal.aborted) {
    await liveView(rig, o.liveS, a, signal)
    await pause(Math.max(1, o.liveEveryS - o.liveS) * 1000, signal)
  }
}

/** A fault from outside: SIGKILL of the audio meter's ffmpeg (twice) or the camera's (once), in turn. */
async function churn(rig: SoakRig, o: DriverOptions, a: SoakActivity, signal: AbortSignal): Promise<void> {
  for (let n = 0; !signal.aborted; n++) {
    await pause(o.churnEveryS * 1000, signal)
    if (signal.aborted) return
    const target = n % 3 === 2 ? 'camera' : 'audio'
    const child = (await rig.children()).find((c) => c.id === target)
    const pid = child?.status === 'running' ? child.pids[0] : undefined
    if (pid === undefined) {
      a.churn.skipped++
      continue
    }
    try {
      process.kill(pid, 'SIGKILL')
      if (target === 'camera') a.churn.cameraKills++
      else a.churn.audioKills++
    } catch {
      a.churn.skipped++
    }
  }
}

async function rotations(rig: SoakRig, o: DriverOptions, a: SoakActivity, signal: AbortSignal): Promise<void> {
  while (!signal.aborted) {
    await pause(o.rotateEveryS * 1000, signal)
    if (signal.aborted) return
    const r = await rig.cmd('logs', 'rotate', {})
    if (r.ok) a.rotations.ok++
    else a.rotations.failed++
  }
}

/** Starts every driver; resolves when all have ended after `signal` aborts. */
export async function runDrivers(rig: SoakRig, o: DriverOptions, a: SoakActivity, signal: AbortSignal): Promise<void> {
  const sub = rig.nc.subscribe(subjects.alertsOf(rig.node), {
    callback: (err, msg) => {
      if (err) return
      try {
        const alert = msg.json<{ code?: unknown }>()
        count(a.alerts, typeof alert.code === 'string' ? alert.code : 'unknown')
      } catch {
        count(a.alerts, 'unparsable')
      }
    },
  })
  const loops = [
    recordCycles(rig, o, a, signal),
    liveViewer(rig, o, a, signal),
    churn(rig, o, a, signal),
    rotations(rig, o, a, signal),
    ...Array.from({ length: o.viewers }, (_, i) => viewer(rig, o, a, signal, i)),
  ]
  await Promise.all(loops)
  sub.unsubscribe()
}
