import type { Config } from '../../infra/config/schema.js'
import type { DataDirs } from '../../infra/config/load.js'
import type { Logger } from '../../infra/logger.js'
import type { ProcessOwner } from '../../infra/process.js'
import type { Clock } from '../../infra/clock.js'
import type { AlertInput, AlertLog } from '../../infra/alerts.js'
import type { Feed } from '../../infra/feed.js'
import type { SupervisorHandle } from '../supervisor/index.js'
import type { Bus } from '../../infra/nats/bus.js'
import type { CommandRouter } from '../../infra/nats/commands.js'
import type { SupervisedChild } from '../supervisor/index.js'
import type { ChildFactory } from '../supervisor/child.js'
import type { RigPorts } from './index.js'
import { join } from 'node:path'
import { CameraFrames, cameraChild } from '../camera/index.js'
import { registerCameraCommands } from '../camera/commands.js'
import { mediaChild, rtmpUrl } from '../media/index.js'
import { saveJpeg } from './snapshots.js'
import { RecorderHandle, recorderChild } from '../recorder/index.js'
import { registerRecorderCommands } from '../recorder/commands.js'
import { systemDisk } from '../../infra/disk.js'

/** What every subsystem of a rig is built from. */
export interface RigContext {
  config: Config
  log: Logger
  clock: Clock
  processes: ProcessOwner
  dirs: DataDirs
  ports: RigPorts
  node: string
  ffmpegPath: string
  /** Raise an alert: logged, kept in the alert log, published, fed. */
  alert(input: AlertInput): void
  /** Publish a state change (NATS + feed); the supervisor does this for its children. */
  publishState(actor: string, state: string, details: Record<string, unknown>): void
  /** Publish `vigil.<node>.event.<kind>` (NATS + feed). */
  publishEvent(kind: string, payload: Record<string, unknown>): void
  feed: Feed
  bus: Bus
  router: CommandRouter
  alerts: AlertLog
  /** The tree, once built (children read it at run time, never while being built). */
  supervisor(): SupervisorHandle
}

export type SpecBuilder = (id: string, over: Partial<SupervisedChild> & { factory: ChildFactory }) => SupervisedChild

/**
 * DESIGN.md §3's shutdown list: recording first (finalize the session), then
 * capture, then media and web, then the rest; nats is stopped last, after
 * shutdown_complete has been published through it.
 */
export const shutdownOrder = ['recorder', 'motion', 'audio', 'camera', 'media', 'web', 'governor', 'logs', 'nats']

/** The subsystems of DESIGN.md §3 in start order, as far as they are built. */
export async function defaultChildren(ctx: RigContext, spec: SpecBuilder): Promise<SupervisedChild[]> {
  const { config, processes, log } = ctx
  const frames = new CameraFrames((err) => log.warn({ err }, 'a camera frame listener failed'))
  const mediaPorts = { rtmpPort: ctx.ports.rtmp, httpPort: ctx.ports.flv }
  const media = spec('media', {
    factory: mediaChild({
      config: { ...mediaPorts, probeIntervalMs: config.media.probeIntervalMs, probeMisses: config.media.probeMisses },
      processes,
      log: log.child({ actor: 'media' }),
      dataDir: join(ctx.dirs.root, 'media'),
    }),
  })
  const camera = spec('camera', {
    factory: cameraChild({
      config: config.camera,
      rtmpUrl: rtmpUrl(mediaPorts),
      ffmpegPath: ctx.ffmpegPath,
      processes,
      log: log.child({ actor: 'camera' }),
      frames,
      clock: ctx.clock,
      alert: ctx.alert,
    }),
  })
  const recordings = new RecorderHandle()
  const recorder = spec('recorder', {
    // Finalizing a session (ffmpeg flushing its last fragment, session.json) takes a moment.
    shutdownMs: Math.max(config.supervisor.shutdownMs, 8000),
    factory: recorderChild(
      {
        config: { ...config.recorder, node: ctx.node },
        recordingsDir: ctx.dirs.recordings,
        inputUrl: rtmpUrl(mediaPorts),
        ffmpegPath: ctx.ffmpegPath,
        processes,
        disk: systemDisk,
        clock: ctx.clock,
        log: log.child({ actor: 'recorder' }),
        alert: ctx.alert,
        publishEvent: ctx.publishEvent,
      },
      recordings,
    ),
  })
  registerRecorderCommands(ctx.router, recordings)
  registerCameraCommands(ctx.router, {
    actor: () => ctx.supervisor().childActor('camera'),
    source: config.camera.source,
    frames,
    saveSnapshot: (jpeg) => saveJpeg(ctx.dirs.snapshots, jpeg, ctx.clock.now()),
  })
  return [media, camera, recorder]
}
