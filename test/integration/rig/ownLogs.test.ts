/**
 * A rig that opened its own log files (no `logFiles` handed in: tests, the bench, any
 * embedding) closes them when it exits; a process that makes rigs one after another
 * would otherwise keep every one of them open.
 */
import t from 'tap'
import { readdir, readlink } from 'node:fs/promises'
import { join } from 'node:path'
import { startTestRig } from '../../helpers/rig.js'

/** What this process holds open under `dir`, from /proc/self/fd. */
async function openUnder(dir: string): Promise<string[]> {
  const out: string[] = []
  for (const fd of await readdir('/proc/self/fd')) {
    const target = await readlink(`/proc/self/fd/${fd}`).catch(() => '')
    if (target.startsWith(dir)) out.push(target)
  }
  return out
}

t.test('the log files a rig opened itself are closed when it exits', async (t) => {
  const r = await startTestRig(t, { node: 'ownlogs', children: () => [] })
  await r.ready([], 30_000)
  // A command writes commands.jsonl, so that file is certainly open.
  t.ok((await r.cmd('supervisor', 'status')).ok)
  const logs = join(r.dataDir, 'logs')
  const before = await openUnder(logs)
  t.ok(before.some((f) => f.endsWith('commands.jsonl')), `open while running: ${before.map((f) => f.slice(logs.length + 1)).join(', ')}`)
  r.rig.requestShutdown('test')
  t.equal(await r.rig.exited, 0)
  t.same(await openUnder(logs), [], 'none left open after the exit')
})
