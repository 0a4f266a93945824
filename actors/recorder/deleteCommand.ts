import { lstat } from 'node:fs/promises'
import { join } from 'node:path'
import { Type } from '@sinclair/typebox'
import { VigilError } from '../../infra/errors.js'
import type { CommandRouter } from '../../infra/nats/commands.js'
import { deleteSessionDir, readSession } from './session.js'
import { isSessionId } from './sessionId.js'

/**
 * recorder.delete {id}: an operator removes one finished session (DESIGN.md §9.2; HTTP
 * `DELETE /api/v1/recordings/<id>`). The same ownership rule as retention: only a dir named
 * like a session id, holding a valid session.json with that id and this rig's `node`; never
 * the session being recorded, nor one still marked `recording` (a crashed run not yet
 * reconciled, or another process's). The id never becomes a path until it has matched the
 * session-id pattern, and `deleteSessionDir` checks again that the dir is a direct child of
 * the recordings dir.
 */

export interface RecordingDeleteDeps {
  recordingsDir: string
  node: string
  /** The session being recorded now, if any (RecorderHandle.status()). */
  activeSessionId(): string | null
}

export function registerRecordingDeleteCommand(router: CommandRouter, deps: RecordingDeleteDeps): void {
  router.register({
    actor: 'recorder',
    verb: 'delete',
    description: 'delete a finished session of this rig (never the one being recorded)',
    args: Type.Object({ id: Type.String({ minLength: 1, maxLength: 64 }) }, { additionalProperties: false }),
    handler: async (args, ctx) => {
      const { id } = args
      if (!isSessionId(id)) throw new VigilError('BAD_REQUEST', 'id is not a session id (YYYYMMDDTHHMMSSZ-xxxxxx)', { id: String(id).slice(0, 64) })
      const dir = join(deps.recordingsDir, id)
      // A symlink named like a session is not the recorder's: it is not followed, not deleted.
      const st = await lstat(dir).catch(() => null)
      if (!st || !st.isDirectory()) throw new VigilError('NOT_FOUND', `no session ${id}`, { id })
      const session = await readSession(dir)
      if (!session || session.node !== deps.node) throw new VigilError('NOT_FOUND', `no session ${id} of this rig`, { id })
      if (deps.activeSessionId() === id || session.state === 'recording') {
        throw new VigilError('ALREADY_RECORDING', `session ${id} is being recorded: stop it first`, { id })
      }
      await deleteSessionDir(deps.recordingsDir, dir)
      ctx.log.info({ session: id, name: session.name }, 'session deleted by request')
      return { id, deleted: true }
    },
  })
}
