/**
 * The NATS-outage faults' shared moves: take the rig's only nats-server away (the gate
 * closed, so the rig cannot reconnect before the test says so), and make the rig raise
 * something real while it is away (a frozen camera, replaced by the supervisor).
 */
import type { Test } from 'tap'
import type { Alert } from '../../infra/alerts.js'
import type { TestRig } from '../helpers/rig.js'
import { isAlive, waitFor } from '../helpers/wait.js'

/** SIGKILL the nats-server and close the gate; resolves once the rig's bus saw the disconnect. */
export async function takeNatsAway(r: TestRig): Promise<void> {
  await r.killNats()
  await r.closeGate()
  await waitFor(() => !r.rig.bus.stats().connected, 10_000, 'bus sees the disconnect')
}

/**
 * SIGSTOP the camera ffmpeg: the camera raises `camera.stalled` and the supervisor's
 * camera replaces the frozen ffmpeg. Resolves with the alert once a new ffmpeg streams.
 */
export async function freezeCamera(t: Test, r: TestRig): Promise<{ pid: number; stalled: Alert }> {
  const cam = r.rig.supervisor.children().find((c) => c.id === 'camera')!
  const pid = cam.pids[0]!
  t.ok(pid && isAlive(pid), `camera ffmpeg pid ${pid}`)
  process.kill(pid, 'SIGSTOP')
  t.teardown(() => {
    try {
      process.kill(pid, 'SIGKILL')
    } catch {}
  })
  await waitFor(() => r.rig.alerts.list().some((a) => a.code === 'camera.stalled'), 15_000, 'camera.stalled raised (alert log)')
  const stalled = r.rig.alerts.list().find((a) => a.code === 'camera.stalled')!
  await waitFor(() => {
    const c = r.rig.supervisor.children().find((x) => x.id === 'camera')!
    return c.state === 'streaming' && c.pids.length === 1 && c.pids[0] !== pid
  }, 30_000, 'camera replaced (new ffmpeg streaming)')
  return { pid, stalled }
}
