import { Type } from '@sinclair/typebox'
import type { AnyActorRef } from 'xstate'
import { VigilError } from '../../infra/errors.js'
import type { CommandRouter } from '../../infra/nats/commands.js'
import { cameraStatus, type CameraActor, type CameraFrames } from './index.js'

const NoArgs = Type.Object({}, { additionalProperties: false })

export interface CameraCommandDeps {
  /** The current camera instance's actor; undefined while it is restarting or parked. */
  actor(): AnyActorRef | undefined
  source: string
  frames: CameraFrames
  /** Writes a JPEG to snapshots/ (the motion actor's store); resolves to the file name. */
  saveSnapshot(jpeg: Buffer, reason: string): Promise<{ file: string; bytes: number } | null>
}

const current = (deps: CameraCommandDeps): CameraActor => {
  const actor = deps.actor()
  if (!actor) throw new VigilError('UNAVAILABLE', 'the camera is not running (restarting or parked); see supervisor.status')
  return actor as unknown as CameraActor
}

/** camera.status | restart | snapshot (DESIGN.md §4). */
export function registerCameraCommands(router: CommandRouter, deps: CameraCommandDeps): void {
  router.register({
    actor: 'camera',
    verb: 'status',
    description: 'capture state, ffmpeg pid, source (credentials redacted), frames seen, last error',
    readOnly: true,
    args: NoArgs,
    handler: async () => cameraStatus(current(deps), deps.source),
  })
  router.register({
    actor: 'camera',
    verb: 'restart',
    description: 'restart the capture ffmpeg now',
    args: NoArgs,
    handler: async () => {
      current(deps).send({ type: 'RESTART' })
      return { accepted: true }
    },
  })
  router.register({
    actor: 'camera',
    verb: 'snapshot',
    description: 'save the newest camera picture as a JPEG in snapshots/',
    args: NoArgs,
    handler: async () => {
      const jpeg = deps.frames.latestSnapshot()
      if (!jpeg) throw new VigilError('UNAVAILABLE', 'no picture from the camera yet')
      const saved = await deps.saveSnapshot(jpeg, 'command')
      if (!saved) throw new VigilError('DISK_FULL', 'snapshot save failed — disk may be full')
      return saved
    },
  })
}
