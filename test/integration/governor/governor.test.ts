import t from 'tap'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { AlertLog, type Alert, type AlertInput } from '../../../infra/alerts.js'
import { systemClock } from '../../../infra/clock.js'
import { systemDisk } from '../../../infra/disk.js'
import { silentLogger } from '../../../infra/logger.js'
import { createCommandRouter } from '../../../infra/nats/commands.js'
import { GovernorHandle, governorChild, registerGovernorCommands, type PreviewLevel } from '../../../actors/governor/index.js'
import { waitFor } from '../../helpers/wait.js'

const GiB = 1024 ** 3

t.test('thresholds that make the real disk low: levels change, alerts once, recording force-stopped at CRITICAL', async (t) => {
  const dataDir = mkdtempSync(join(tmpdir(), 'vigil-gov-'))
  t.teardown(() => rmSync(dataDir, { recursive: true, force: true }))
  const free = (await systemDisk.free(dataDir)).freeBytes
  // Real disk, real sampler: only the thresholds are moved so that this disk is "nearly full".
  const config = {
    sampleMs: 150,
    diskBytes: { warn: free + 30 * GiB, degrade: free + 20 * GiB, critical: free + 10 * GiB },
    cpuPercent: { warn: 1000, degrade: 1000, critical: 1000 },
    memoryPercent: { warn: 1000, degrade: 1000, critical: 1000 },
    releaseMarginPercent: 5,
    releaseMarginDisk: 0.1,
    releaseSamples: 2,
  }
  const alertLog = new AlertLog({ node: 'govtest' })
  const published: Alert[] = []
  const raise = (input: AlertInput) => published.push(alertLog.add(input))
  const previews: PreviewLevel[] = []
  const stops: string[] = []
  let recording = true
  const handle = new GovernorHandle(config)
  const factory = governorChild(
    {
      config,
      dataDir,
      log: silentLogger(),
      alert: raise,
      setPreview: (level) => previews.push(level),
      stopRecording: async (reason) => {
        stops.push(reason)
        const was = recording
        recording = false
        return was
      },
    },
    handle,
  )
  const router = createCommandRouter({ node: 'govtest', log: silentLogger(), clock: systemClock })
  registerGovernorCommands(router, handle)

  const instance = factory()
  let ready = false
  instance.start({ onReady: () => (ready = true), onExit: () => {} })
  t.teardown(() => instance.stop())
  await waitFor(() => ready, 5000, 'the governor is ready')
  await waitFor(() => (handle.current?.getSnapshot().context.samples ?? 0) >= 6, 10000, 'six samples')

  const status = (await router.dispatch('governor', 'status', {})) as { ok: true; result: Record<string, unknown> }
  t.match(status, {
    ok: true,
    result: {
      state: 'critical',
      level: 'CRITICAL',
      preview: 'off',
      dimensions: { cpu: 'NORMAL', memory: 'NORMAL', disk: 'CRITICAL' },
      thresholds: { diskBytes: config.diskBytes },
    },
  })
  const samples = status.result['samples'] as { diskFreeBytes: number; memoryPercent: number; cpuPercent: number }
  t.ok(Math.abs(samples.diskFreeBytes - free) < 5 * GiB, 'the real free space')
  t.type(samples.memoryPercent, 'number')
  t.type(samples.cpuPercent, 'number', 'CPU is known from the second sample on')

  const levelAlerts = alertLog.list().filter((a) => a.code === 'governor.level')
  t.equal(levelAlerts.length, 1, 'one level alert')
  t.match(levelAlerts[0], { severity: 'critical', count: 1, source: 'governor' })
  t.equal(published.filter((a) => a.code === 'governor.level').length, 1, 'published once over six samples')
  t.same(previews, ['off'], 'previews stopped')
  t.ok(stops.length >= 1, `a stop asked on each critical sample (${stops.length})`)
  t.notOk(recording)
  await waitFor(() => published.some((a) => a.code === 'governor.recording_stopped'), 2000, 'governor.recording_stopped')
  t.match(alertLog.list().find((a) => a.code === 'governor.recording_stopped'), { severity: 'critical', count: 1 })

  instance.stop()
  await waitFor(() => handle.current === null, 2000, 'stopped')
  t.match(await router.dispatch('governor', 'status', {}), { ok: true, result: { state: 'down', level: null } })
})
