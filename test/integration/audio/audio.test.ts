import t from 'tap'
import type { AlertInput } from '../../../infra/alerts.js'
import { systemClock } from '../../../infra/clock.js'
import { silentLogger } from '../../../infra/logger.js'
import { createCommandRouter } from '../../../infra/nats/commands.js'
import { ProcessOwner } from '../../../infra/process.js'
import { AudioHandle, audioChild, registerAudioCommands, type AudioDeps } from '../../../actors/audio/index.js'
import { createSupervisor } from '../../../actors/supervisor/index.js'
import type { AlertEffect } from '../../../machines/supervisor.policy.js'
import { supervisedChild } from '../../helpers/supervised.js'
import { isAlive, waitFor } from '../../helpers/wait.js'

const FFMPEG = process.env.FFMPEG_PATH ?? 'ffmpeg'

t.test('synthetic source: sound events; SIGKILL → audio.down, restart, audio.up, events again', async (t) => {
  const processes = new ProcessOwner()
  t.teardown(() => processes.killAll())
  const alerts: AlertInput[] = []
  const supervisorAlerts: AlertEffect[] = []
  const sounds: Array<Record<string, unknown>> = []
  const deps: AudioDeps = {
    config: { source: 'testsrc', thresholdDb: -30, minMs: 300, cooldownMs: 1000 },
    ffmpegPath: FFMPEG,
    processes,
    log: silentLogger(),
    alert: (a) => alerts.push(a),
    publishEvent: (kind, payload) => {
      if (kind === 'sound') sounds.push(payload)
    },
  }
  const handle = new AudioHandle(deps.config)
  const router = createCommandRouter({ node: 'audiotest', log: silentLogger(), clock: systemClock })
  registerAudioCommands(router, handle)

  const supervisor = createSupervisor({
    children: [
      supervisedChild('audio', audioChild(deps, handle), {
        shutdownMs: 5000,
        startTimeoutMs: 15000,
        backoff: { initialMs: 300, factor: 2, maxMs: 2000, jitter: 0, resetAfterMs: 60000 },
        intensity: { maxRestarts: 5, periodMs: 60000 },
      }),
    ],
    log: silentLogger(),
    alert: (a) => supervisorAlerts.push(a),
  })
  supervisor.start()
  let stopped = false
  t.teardown(async () => {
    if (!stopped) await supervisor.shutdown()
  })

  await waitFor(() => sounds.length >= 1, 30000, 'a sound event from the synthetic source')
  const sound = sounds[0]!
  t.ok((sound['db'] as number) > -30, `the sound is loud: ${sound['db']} dBFS`)
  t.ok((sound['durationMs'] as number) >= 300)
  t.equal(sound['source'], 'testsrc')

  const reply = await router.dispatch('audio', 'status', {})
  t.ok(reply.ok)
  const status = (reply as { result: { state: string; levelDb: number; lastSoundAt: string; pid: number } }).result
  t.equal(status.state, 'listening')
  t.type(status.levelDb, 'number')
  t.equal(status.lastSoundAt, sound['at'])
  t.ok(status.pid > 0)
  t.same(supervisor.children()[0]!.pids, [status.pid], 'the supervisor reports the meter pid')

  // The process dies under us.
  const firstPid = status.pid
  process.kill(firstPid, 'SIGKILL')
  await waitFor(() => alerts.some((a) => a.code === 'audio.down'), 5000, 'audio.down')
  const down = alerts.find((a) => a.code === 'audio.down')!
  t.equal(down.severity, 'warning')
  t.match(down.message, /killed by SIGKILL/)
  await waitFor(() => supervisorAlerts.some((a) => a.code === 'supervisor.child_restarting'), 5000, 'the supervisor restarts it')

  await waitFor(() => alerts.some((a) => a.code === 'audio.up'), 20000, 'audio.up from the new instance')
  const newPid = handle.status().pid
  t.ok(newPid !== null && newPid !== firstPid, 'a new ffmpeg')
  t.notOk(isAlive(firstPid), 'the killed one is gone')
  const before = sounds.length
  await waitFor(() => sounds.length > before, 30000, 'sound events again')
  t.equal(supervisor.children()[0]!.restarts, 1)

  await supervisor.shutdown()
  stopped = true
  t.equal(handle.status().state, 'down')
  await waitFor(() => !isAlive(newPid!), 5000, 'no meter left after shutdown')
  t.same(processes.pids(), [])
})
