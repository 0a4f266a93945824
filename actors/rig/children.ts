import type { Config } from '../../infra/config/schema.js'
import type { DataDirs } from '../../infra/config/load.js'
import type { Logger } from '../../infra/logger.js'
import type { ProcessOwner } from '../../infra/process.js'
import type { Clock } from '../../infra/clock.js'
import type { AlertInput, AlertLog } from '../../infra/alerts.js'
import type { Feed } from '../../infra/feed.js'
import type { EventRing } from '../../infra/eventRing.js'
import type { PreviewState } from '../../infra/preview.js'
import type { SupervisorHandle } from '../supervisor/index.js'
import type { Bus } from '../../infra/nats/bus.js'
import type { CommandRouter } from '../../infra/nats/commands.js'
import type { SupervisedChild } from '../supervisor/index.js'
import type { ChildFactory } from '../supervisor/child.js'
import type { RigPorts } from './index.js'
import { join } from 'node:path'
import { CameraFrames, cameraChild, type PreviewLevel } from '../camera/index.js'
import { snapshotName } from '../motion/index.js'
import { storeSnapshot } from '../motion/snapshot.js'
import { registerCameraCommands } from '../camera/commands.js'
import { mediaChild, signedFlvUrl, signedRtmpUrl, type MediaSigner, type MediaSpare } from '../media/index.js'
import { RecorderHandle, recorderChild } from '../recorder/index.js'
import { registerRecorderCommands } from '../recorder/commands.js'
import { registerRecordingDeleteCommand } from '../recorder/deleteCommand.js'
import { systemDisk } from '../../infra/disk.js'
import { VigilError } from '../../infra/errors.js'
import { LogsHandle, logsChild, registerLogsCommands, type LogFiles } from '../logs/index.js'
import { GovernorHandle, governorChild, registerGovernorCommands } from '../governor/index.js'
import { AudioHandle, audioChild, registerAudioCommands } from '../audio/index.js'
import { MotionHandle, motionChild, registerMotionCommands } from '../motion/index.js'
import { webChild, type WebMetrics } from '../web/index.js'
import { notifySubsystem } from '../notify/index.js'
import { webDepsFromRig } from './webDeps.js'
import type { EventLog } from '../inspect/events.js'
import { inspectPlugin } from '../inspect/routes.js'
import { liveVideoPlugin } from '../web/routes/liveVideo.js'
import type { NatsConnection } from '@nats-io/transport-node'
import { UploadHandle, registerUploadCommands, uploadChild } from '../upload/index.js'

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
  /** Signs every media URL the rig's own clients use (camera, recorder, audio, the web's live video). */
  mediaSigner: MediaSigner
  /** The media server's warm spare: outlives the media child's instances, ended with the rig. */
  mediaSpare: MediaSpare
  logFiles: LogFiles
  webMetrics: WebMetrics
  /** The inspector's event timeline: follows every actor from before it starts, outlives web restarts. */
  inspectEvents: EventLog
  /** Raise an alert: logged, kept in the alert log, published, fed. */
  alert(input: AlertInput): void
  /** Publish a state change (NATS + feed); the supervisor does this for its children. */
  publishState(actor: string, state: string, details: Record<string, unknown>): void
  /** Publish `vigil.<node>.event.<kind>` (NATS + feed). */
  publishEvent(kind: string, payload: Record<string, unknown>): void
  feed: Feed
  /** The last events, newest first (the web's GET /api/v1/events; any other reader). */
  events: EventRing
  /** The preview level (full, low, off): the governor sets it, the web follows it; outlives both. */
  preview: PreviewState
  bus: Bus
  router: CommandRouter
  alerts: AlertLog
  /** The tree, once built (children read it at run time, never while being built). */
  supervisor(): SupervisorHandle
  /** The rig's NATS connection once made (the uploader waits for it). */
  natsConnection(): NatsConnection | undefined
}

/**
 * The uploader (upload.enabled, DESIGN.md §9.4): copies each finalized session into the
 * bucket vigil_recordings. Its state files live in `<data>/upload/`.
 */
export function uploadSpec(ctx: RigContext, spec: SpecBuilder, activeSession: () => string | null, over: { retryBaseMs?: number; retryMaxMs?: number; timeoutMs?: number } = {}): SupervisedChild {
  const handle = new UploadHandle()
  registerUploadCommands(ctx.router, handle)
  return spec('upload', {
    factory: uploadChild(
      {
        node: ctx.node,
        recordingsDir: ctx.dirs.recordings,
        stateDir: join(ctx.dirs.root, 'upload'),
        deleteLocal: ctx.config.upload.deleteLocal,
        connection: ctx.natsConnection,
        feed: ctx.feed,
        activeSession,
        log: ctx.log.child({ actor: 'upload' }),
        ...over,
      },
      handle,
    ),
  })
}

/** The proxy connects at once: its signature need not outlive the request. */
const LIVE_PROXY_SIGN_TTL_S = 10

export type SpecBuilder = (id: string, over: Partial<SupervisedChild> & { factory: ChildFactory }) => SupervisedChild

/**
 * DESIGN.md §3's shutdown list: recording first (finalize the session), then
 * capture, then media and web, then the rest (notify after the others: what they
 * raise on the way down is queued; its outbox keeps it for the next start); mqtt
 * (retained `offline`) just before nats, which is stopped last, after shutdown_complete
 * has been published through it.
 */
export const shutdownOrder = ['recorder', 'upload', 'motion', 'audio', 'camera', 'media', 'web', 'notify', 'governor', 'logs', 'mqtt', 'nats']

/** The subsystems of DESIGN.md §3 in start order (nats is added by the rig when embedded). */
export async function defaultChildren(ctx: RigContext, spec: SpecBuilder): Promise<SupervisedChild[]> {
  const { config, processes, log } = ctx
  const frames = new CameraFrames((err) => log.warn({ err }, 'a camera frame listener failed'), { monotonic: () => ctx.clock.monotonic() })
  const mediaPorts = { rtmpPort: ctx.ports.rtmp, httpPort: ctx.ports.flv }

  const logsHandle = new LogsHandle(ctx.logFiles)
  registerLogsCommands(ctx.router, logsHandle)
  const logs = spec('logs', { factory: logsChild({ logFiles: ctx.logFiles, alert: ctx.alert }, logsHandle) })

  const recordings = new RecorderHandle()
  // Made before the governor, which pauses and resumes them (CPU CRITICAL) through these.
  const audioHandle = new AudioHandle(config.audio)
  const motionHandle = new MotionHandle(config.motion)
  const governorHandle = new GovernorHandle(config.governor)
  registerGovernorCommands(ctx.router, governorHandle)
  // The holder is what viewers get (the web's live routes, the page); the camera keeps the level in its status.
  const setPreview = (level: PreviewLevel, reason: string) => {
    ctx.preview.set(level, reason)
    ctx.supervisor().childActor('camera')?.send({ type: 'SET_PREVIEW', level })
  }
  const governor = spec('governor', {
    factory: governorChild(
      {
        config: config.governor,
        dataDir: ctx.dirs.root,
        log: log.child({ actor: 'governor' }),
        alert: ctx.alert,
        setPreview,
        // The recording comes first (DESIGN.md §9.3): CPU CRITICAL takes analysis off the CPU.
        pauseAnalysis: (paused) => {
          audioHandle.setPaused(paused)
          motionHandle.setPaused(paused)
        },
        stopRecording: () =>
          recordings.stop().then(
            () => true,
            (err: unknown) =>
              err instanceof VigilError && (err.code === 'NOT_RECORDING' || err.code === 'UNAVAILABLE') ? false : Promise.reject(err),
          ),
      },
      governorHandle,
    ),
  })

  // Webhooks (DESIGN.md §9.2): the outbox and its feed routing are made once, here, so an
  // alert raised while the notify actor restarts is still queued.
  const notifySys = notifySubsystem({
    config: config.notify,
    dataDir: ctx.dirs.root,
    node: ctx.node,
    feed: ctx.feed,
    clock: ctx.clock,
    log: log.child({ actor: 'notify' }),
    alert: ctx.alert,
    router: ctx.router,
  })
  const notify = spec('notify', { factory: notifySys.factory })

  const media = spec('media', {
    factory: mediaChild({
      config: {
        ...mediaPorts,
        probeIntervalMs: config.media.probeIntervalMs,
        probeMisses: config.media.probeMisses,
        heartbeatTimeoutMs: config.media.heartbeatTimeoutMs,
      },
      processes,
      log: log.child({ actor: 'media' }),
      signer: ctx.mediaSigner,
      dataDir: join(ctx.dirs.root, 'media'),
      spare: ctx.mediaSpare,
    }),
  })
  const camera = spec('camera', {
    factory: cameraChild({
      config: config.camera,
      // Signed per spawn: only the camera holds a publish signature for live/cam.
      rtmpUrl: () => signedRtmpUrl(mediaPorts, ctx.mediaSigner),
      ffmpegPath: ctx.ffmpegPath,
      processes,
      log: log.child({ actor: 'camera' }),
      frames,
      clock: ctx.clock,
      alert: ctx.alert,
      onFrameDrop: (record) => {
        ctx.logFiles.frameDropLog.write(record)
        ctx.webMetrics.frameDropped('camera', record.reason)
      },
    }),
  })

  // The recorder copies the camera's stream from the media server. node-media-server keeps
  // a player connected across a publisher's restart and, for the same publisher within its
  // grace window, continues the timeline: the recorder's ffmpeg reads on through a camera
  // restart and footage resumes with the camera's first frame (no new ffmpeg to start, no
  // probe, no GOP to wait for). The recorder is told, so it records the gap. Without the
  // media server (or before it is known to run) the stream is gone: the recorder stops its
  // ffmpeg and starts a new one when the camera streams again.
  // A camera that comes back after a restart also gets the governor's current preview level.
  let mediaRunning = false
  ctx.feed.subscribe((item) => {
    // Recording modes (events): motion and sound, as every other listener sees them, open or extend a session.
    if (item.type === 'event' && (item.kind === 'motion' || item.kind === 'sound')) {
      recordings.event(item.kind, typeof item.payload.at === 'string' ? item.payload.at : item.at)
      return
    }
    if (item.type !== 'state') return
    if (item.actor === 'camera') {
      if (item.state === 'streaming') {
        recordings.sourceResumed()
        const level = ctx.preview.level()
        if (level !== 'full') ctx.supervisor().childActor('camera')?.send({ type: 'SET_PREVIEW', level })
      } else if (mediaRunning) recordings.sourcePaused(`camera ${item.state}`)
      else recordings.sourceLost(`camera ${item.state}`)
    } else if (item.actor === 'media') {
      mediaRunning = item.state === 'running'
      if (!mediaRunning) recordings.sourceLost(`media server ${item.state}`)
    }
  })
  const recorder = spec('recorder', {
    // Finalizing a session (ffmpeg flushing its last fragment, session.json) takes a moment.
    shutdownMs: Math.max(config.supervisor.shutdownMs, 8000),
    factory: recorderChild(
      {
        config: { ...config.recorder, node: ctx.node },
        recordingsDir: ctx.dirs.recordings,
        inputUrl: () => signedRtmpUrl(mediaPorts, ctx.mediaSigner),
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
  registerRecordingDeleteCommand(ctx.router, { recordingsDir: ctx.dirs.recordings, node: ctx.node, activeSessionId: () => recordings.status().session?.id ?? null })

  registerAudioCommands(ctx.router, audioHandle)
  const audio = spec('audio', {
    factory: audioChild(
      {
        config: config.audio,
        ffmpegPath: ctx.ffmpegPath,
        processes,
        log: log.child({ actor: 'audio' }),
        clock: ctx.clock,
        cameraUrl: () => signedRtmpUrl(mediaPorts, ctx.mediaSigner),
        alert: ctx.alert,
        publishEvent: ctx.publishEvent,
      },
      audioHandle,
    ),
  })

  registerMotionCommands(ctx.router, motionHandle)
  const motionDeps = {
    config: config.motion,
    snapshotsDir: ctx.dirs.snapshots,
    frames,
    latestJpeg: () => frames.latestSnapshot(),
    ffmpegPath: ctx.ffmpegPath,
    processes,
    log: log.child({ actor: 'motion' }),
    clock: ctx.clock,
    publishEvent: ctx.publishEvent,
  }
  const motion = spec('motion', { factory: motionChild(motionDeps, motionHandle) })

  registerCameraCommands(ctx.router, {
    actor: () => ctx.supervisor().childActor('camera'),
    source: config.camera.source,
    frames,
    // The motion actor's store: one naming sequence and one bound for every snapshot.
    saveSnapshot: (jpeg) => {
      const at = ctx.clock.now()
      return storeSnapshot(
        { dir: ctx.dirs.snapshots, maxSnapshots: config.motion.maxSnapshots, log: motionDeps.log },
        jpeg,
        snapshotName(at, motionHandle.nextSeq()),
        at,
      )
    },
  })

  const web = spec('web', {
    factory: webChild(
      webDepsFromRig(ctx, {
        metrics: ctx.webMetrics,
        recorderStatus: () => recordings.status(),
        // Made once: its layout cache outlives web restarts (and the rig's event log the web server).
        plugins: [
          inspectPlugin({ supervisor: ctx.supervisor, events: ctx.inspectEvents, secrets: config.web.token ? [config.web.token] : [] }),
          // The page's video: the web server reads the media port with a signature only the rig holds.
          // The governor's preview level decides who gets the video, a still, or neither.
          liveVideoPlugin({
            sourceUrl: () => signedFlvUrl(mediaPorts, ctx.mediaSigner, undefined, undefined, LIVE_PROXY_SIGN_TTL_S),
            preview: ctx.preview,
            still: () => {
              const jpeg = frames.latestSnapshot()
              const ageMs = frames.snapshotAgeMs()
              return jpeg && ageMs !== null ? { jpeg, ageMs } : null
            },
          }),
        ],
      }),
    ),
  })
  const upload = config.upload.enabled ? [uploadSpec(ctx, spec, () => recordings.status().session?.id ?? null)] : []
  return [logs, governor, notify, media, camera, recorder, ...upload, audio, motion, web]
}
