import { stat } from 'node:fs/promises'
import { join } from 'node:path'
import type { Actor } from 'xstate'
import type { Clock } from '../../infra/clock.js'
import type { Logger } from '../../infra/logger.js'
import type { recorderMachine } from '../../machines/recorder.machine.js'
import { takeBridge } from './preRollBuffer.js'
import { appendPreRollFiles } from './session.js'

/** A buffered segment that began this much before the recorder's first footage is not the same second. */
const BRIDGE_MARGIN_MS = 300
/** After the recorder's first progress: the buffer has closed the segment that ends at its first keyframe. */
const BRIDGE_DELAY_MS = 1000

/**
 * Closes the hole a start can leave between its pre-roll and the recorder's own footage
 * (preRollBuffer.ts takeBridge): once per session with pre-roll files, a second after the
 * recorder ffmpeg first said where its footage begins (session `preRollMs`), the buffered
 * segments in between are moved in. Returns the unsubscribe.
 */
export function bridgeToFirstFootage(o: { actor: Actor<typeof recorderMachine>; bufferDir: string; clock: Clock; log: Logger }): () => void {
  let seen: string | null = null
  const timers = new Set<NodeJS.Timeout>()
  const run = async (id: string) => {
    const s = o.actor.getSnapshot().context.session
    const last = s?.preRollFiles?.at(-1)
    if (!s || s.id !== id || !last || s.preRollMs === null) return
    const afterWallMs = (await stat(join(s.dir, last.file)).catch(() => null))?.mtimeMs
    if (afterWallMs === undefined) return
    // The recorder's footage began preRollMs before the start (after it, when negative): as a wall time.
    const firstFootageWallMs = o.clock.now() - (o.clock.monotonic() - (s.startedMono - s.preRollMs))
    const moved = await takeBridge({ bufferDir: o.bufferDir, sessionDir: s.dir, afterWallMs, beforeWallMs: firstFootageWallMs - BRIDGE_MARGIN_MS, firstIndex: (s.preRollFiles?.length ?? 0) + 1, log: o.log })
    if (moved.length === 0) return
    // Listed on disk first (a crash then still finds them), then in the machine (the finalize writes them).
    await appendPreRollFiles(s.dir, moved).catch((err: unknown) => o.log.warn({ err, session: s.id }, 'could not list the bridged files in session.json yet'))
    o.actor.send({ type: 'PREROLL.ADDED', sessionId: s.id, files: moved })
  }
  const sub = o.actor.subscribe((snap) => {
    const s = snap.context.session
    if (!s || s.id === seen || s.preRollMs === null) return
    seen = s.id
    if ((s.preRollFiles ?? []).length === 0) return
    const timer = setTimeout(() => {
      timers.delete(timer)
      run(s.id).catch((err: unknown) => o.log.warn({ err, session: s.id }, 'bridging buffered footage failed'))
    }, BRIDGE_DELAY_MS)
    timers.add(timer)
  })
  return () => {
    sub.unsubscribe()
    for (const t of timers) clearTimeout(t)
    timers.clear()
  }
}
