import t from 'tap'
import { systemClock } from '../../../infra/clock.js'
import { VigilError } from '../../../infra/errors.js'
import { silentLogger } from '../../../infra/logger.js'
import { createCommandRouter } from '../../../infra/nats/commands.js'
import { RecorderHandle, type RecorderActor, type StartArgs } from '../../../actors/recorder/index.js'
import { registerRecorderCommands } from '../../../actors/recorder/commands.js'
import type { SessionSummary } from '../../../machines/recorder.machine.js'

const summary: SessionSummary = {
  id: '20240101T000000Z-abcdef', name: 'nap', dir: '/var/recordings/20240101T000000Z-abcdef', startedAt: '2024-01-01T00:00:00.000Z',
  bytes: 0, segments: 0, state: 'recording', stoppedAt: null, durationMs: null, stopReason: null, deleted: false,
}

/** A stand-in instance: the handle and the router are the subject, not the machine. */
function fakeInstance(calls: StartArgs[]): RecorderActor {
  let recording = false
  return {
    actor: undefined as never,
    async start(args = {}) {
      calls.push(args)
      if (recording) throw new VigilError('ALREADY_RECORDING', 'a recording is already in progress')
      recording = true
      return { ...summary, name: args.name ?? 'recording' }
    },
    async stop() {
      if (!recording) throw new VigilError('NOT_RECORDING', 'no recording in progress')
      recording = false
      return { ...summary, state: 'finalized' }
    },
    status: () => ({ state: recording ? 'recording' : 'idle', session: null }),
    sourceLost() {},
    sourcePaused() {},
    sourceResumed() {},
    pids: () => [],
    killProcesses() {},
    dispose() {},
  }
}

t.test('recorder commands go to the live instance through the handle', async (t) => {
  const router = createCommandRouter({ node: 'rig', log: silentLogger(), clock: systemClock })
  const handle = new RecorderHandle()
  registerRecorderCommands(router, handle)

  const down = await router.dispatch('recorder', 'start', { args: {} })
  t.match(down, { ok: false, error: { code: 'UNAVAILABLE' } }, 'no instance: unavailable, not a hang')
  t.match(await router.dispatch('recorder', 'status', { args: {} }), { ok: true, result: { state: 'down', session: null } })

  const calls: StartArgs[] = []
  const instance = fakeInstance(calls)
  handle.attach(instance)
  t.match(await router.dispatch('recorder', 'start', { args: { name: 'nap' }, idempotencyKey: 'k1' }), { ok: true, result: { name: 'nap' } })
  t.match(calls[0], { name: 'nap', idempotencyKey: 'k1' }, 'the key from the envelope reaches the recorder')
  t.ok(calls[0]?.signal instanceof AbortSignal, 'so does the deadline, as a signal')
  t.match(await router.dispatch('recorder', 'start', { args: {} }), { ok: false, error: { code: 'ALREADY_RECORDING' } })
  t.match(await router.dispatch('recorder', 'start', { args: { nme: 'typo' } }), { ok: false, error: { code: 'BAD_REQUEST' } })
  t.match(await router.dispatch('recorder', 'stop', { args: {} }), { ok: true, result: { state: 'finalized' } })
  t.match(await router.dispatch('recorder', 'stop', { args: {} }), { ok: false, error: { code: 'NOT_RECORDING' } })

  handle.detach(fakeInstance([])) // a stale instance cannot detach the live one
  t.equal(handle.current, instance)
  handle.detach(instance)
  t.equal(handle.current, null)
})
