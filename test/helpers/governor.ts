import { statfs } from 'node:fs/promises'
import type { Config } from '../../infra/config/schema.js'
import type { TestRig } from './rig.js'
import { waitFor } from './wait.js'

export type GovernedLevel = 'NORMAL' | 'DEGRADE' | 'CRITICAL'

/**
 * Puts a whole test rig's governor at `level` for real: the disk thresholds in the rig's
 * config are moved around the data disk's real free space (the sampler is the real one),
 * then the operator's `supervisor.restart governor` starts a governor that reads them, and
 * its first sample says the level. CPU and memory stay out of reach (startTestRig), so a
 * busy box never moves it. Start the rig with `governor.diskBytes` at 0 and a short
 * `sampleMs`, and pass the config the rig was started with (`configure` hands it out).
 * CRITICAL on the disk also stops a running recording: tests that record must expect it.
 */
export async function governTo(r: TestRig, config: Config, level: GovernedLevel, timeoutMs = 15000): Promise<void> {
  const fs = await statfs(r.dataDir)
  const free = fs.bavail * fs.bsize
  config.governor.diskBytes =
    level === 'NORMAL'
      ? { warn: 0, degrade: 0, critical: 0 }
      : level === 'DEGRADE'
        ? { warn: free * 4, degrade: free * 3, critical: 0 }
        : { warn: free * 4, degrade: free * 3, critical: free * 2 }
  const restart = await r.cmd('supervisor', 'restart', { child: 'governor' })
  if (!restart.ok) throw new Error(`supervisor.restart governor: ${restart.error.code} ${restart.error.message}`)
  await waitFor(
    async () => {
      const s = await r.cmd<{ level: string | null }>('governor', 'status', {}, { timeoutMs: 3000 })
      return s.ok && s.result.level === level
    },
    timeoutMs,
    `governor ${level}`,
    100,
  )
}
