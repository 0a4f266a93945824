import { spawn } from 'node:child_process'
import { mkdir, mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { connect } from '@nats-io/transport-node'
import { jetstream, jetstreamManager } from '@nats-io/jetstream'
import type { Test } from 'tap'
import { silentLogger } from '../../infra/logger.js'
import { ensureRecordingsBucket } from '../../infra/nats/recordingsBucket.js'
import { uploadSession } from '../../actors/upload/uploadSession.js'
import { makeSession } from '../../test/integration/upload/rigUpload.js'
import { startNatsServer } from '../../test/helpers/natsServer.js'
import { startNatsCluster } from '../../test/helpers/natsCluster.js'
import { ownDir } from './harness.js'

const MiB = 1024 * 1024

/**
 * Upload MB/s (DESIGN.md §9.4) against a plain `cp -r` of the same session on the same disk:
 * one session of `segments` × 10 MiB random segments, copied with cp, then uploaded by the
 * uploader's own code (uploadSession: read, chunk, publish, verify) into vigil_recordings on
 * one nats-server (R1) and on a three-server cluster (R3), all on this machine. The files are
 * in the page cache for both (just written); JetStream's store is on the same disk.
 */
export async function uploadThroughput(o: { segments: number; log: (line: string) => void }): Promise<Record<string, unknown>> {
  const dir = await mkdtemp(join(tmpdir(), 'vigil-bench-upload-'))
  ownDir(dir)
  const teardowns: Array<() => Promise<unknown> | unknown> = []
  try {
    const recordingsDir = join(dir, 'recordings')
    await mkdir(recordingsDir, { recursive: true })
    const session = await makeSession(recordingsDir, Array.from({ length: o.segments }, () => 10 * MiB))
    const bytes = [...session.files.values()].reduce((n, b) => n + b.length, 0)
    const mb = bytes / 1e6

    let t0 = performance.now()
    await new Promise<void>((resolve, reject) => {
      const cp = spawn('cp', ['-r', join(recordingsDir, session.id), join(dir, 'copy')], { stdio: 'ignore' })
      cp.once('error', reject)
      cp.once('exit', (code) => (code === 0 ? resolve() : reject(new Error(`cp exited ${code}`))))
    })
    const cpS = (performance.now() - t0) / 1000
    o.log(`  cp -r: ${mb.toFixed(1)} MB in ${cpS.toFixed(2)} s`)

    const upload = async (servers: string[], label: string, stateDir: string, opts: Parameters<typeof connect>[0] = {}) => {
      const nc = await connect({ ...opts, servers })
      teardowns.push(() => nc.close())
      const r = await ensureRecordingsBucket(nc)
      const deps = {
        js: jetstream(nc, { timeout: 30_000 }),
        jsm: await jetstreamManager(nc),
        node: 'a',
        recordingsDir,
        stateDir,
        deleteLocal: false,
        activeSession: () => null,
        log: silentLogger(),
        timeoutMs: 30_000,
      }
      t0 = performance.now()
      const out = await uploadSession(deps, session.id)
      const s = (performance.now() - t0) / 1000
      if (out.outcome !== 'uploaded') throw new Error(`${label}: ${out.outcome}`)
      o.log(`  upload ${label} (R${r.replicas}): ${mb.toFixed(1)} MB in ${s.toFixed(2)} s`)
      return { seconds: +s.toFixed(3), mbPerS: +(mb / s).toFixed(1), replicas: r.replicas }
    }

    const single = await startNatsServer()
    teardowns.push(() => single.stop())
    const r1 = await upload([single.url], 'one server', join(dir, 'state-r1'))

    const fakeT = { teardown: (fn: () => Promise<unknown>) => void teardowns.push(fn) } as unknown as Test
    const cluster = await startNatsCluster(fakeT, { rigs: ['a'], operators: ['ops'] })
    const ops = await cluster.connectAs('ops')
    await cluster.jetStreamReady(ops)
    const { natsCredentialOptions } = await import('../../infra/nats/credentials.js')
    const { loadConfig } = await import('../../infra/config/load.js')
    const cfg = loadConfig({ env: await cluster.env('ops'), cwd: dir })
    const r3 = await upload(cluster.urls, 'three-server cluster', join(dir, 'state-r3'), natsCredentialOptions(cfg.nats, cfg.node))

    return {
      files: session.files.size,
      mb: +mb.toFixed(1),
      cp: { seconds: +cpS.toFixed(3), mbPerS: +(mb / cpS).toFixed(1) },
      r1,
      r3,
    }
  } finally {
    for (const fn of teardowns.reverse()) await Promise.resolve(fn()).catch(() => undefined)
    await rm(dir, { recursive: true, force: true })
  }
}
