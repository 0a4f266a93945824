/**
 * Issue 5 at rig level: logs.rotate over NATS rotates (logs.status shows the backup),
 * and logs/commands.jsonl holds one line per command with its trace id, actor, verb,
 * result code and ms, across the rotation.
 */
import { readFile } from 'node:fs/promises'
import { join } from 'node:path'
import t from 'tap'
import { startTestRig } from '../../helpers/rig.js'
import { waitFor } from '../../helpers/wait.js'
import { must } from '../pipeline/common.js'

interface LogFileStatus {
  file: string
  bytes: number
  backups: number
  lines: number
  dropped: number
  healthy: boolean
  forcedRotations: number
  files: Array<{ name: string; bytes: number }>
}
interface LogsStatus {
  state: string
  dir: string
  healthy: boolean
  totalBytes: number
  limitBytes: number
  dropped: number
  files: LogFileStatus[]
}
interface CommandLine {
  traceId: string
  actor: string
  verb: string
  code: string
  ok: boolean
  ms: number
  source?: string
}

async function readLines(path: string): Promise<CommandLine[]> {
  const text = await readFile(path, 'utf8').catch(() => '')
  return text
    .split('\n')
    .filter((l) => l.trim() !== '')
    .map((l) => JSON.parse(l) as CommandLine)
}

t.test('logs.rotate over NATS rotates; commands.jsonl has a line per command (traceId, actor, verb, code, ms)', async (t) => {
  const r = await startTestRig(t, { node: 'monlogs' })
  await r.ready()
  const dir = join(r.dataDir, 'logs')
  const live = join(dir, 'commands.jsonl')
  const backup = join(dir, 'commands.jsonl.1')

  // A mix of successes and failures; the replies carry the trace ids to look for.
  const sent: Array<{ actor: string; verb: string; traceId: string; code: string }> = []
  const send = async (actor: string, verb: string, args: Record<string, unknown> = {}) => {
    const reply = await r.cmd(actor, verb, args)
    sent.push({ actor, verb, traceId: reply.traceId, code: reply.ok ? 'OK' : reply.error.code })
  }
  await send('supervisor', 'status')
  await send('governor', 'status')
  await send('audio', 'status')
  await send('motion', 'status')
  await send('recorder', 'stop') // nothing to stop: an error code
  await send('logs', 'status')
  await send('camera', 'nosuchverb') // unknown verb
  t.comment(`sent: ${sent.map((s) => `${s.actor}.${s.verb}=${s.code}`).join(', ')}`)
  t.ok(sent.some((s) => s.code !== 'OK'), 'failures among them')

  await waitFor(async () => {
    const lines = await readLines(live)
    return sent.every((s) => lines.some((l) => l.traceId === s.traceId))
  }, 10000, 'every command in commands.jsonl', 100)

  const before = await must<LogsStatus>(r, 'logs', 'status')
  const cmdBefore = before.files.find((f) => f.file === 'commands.jsonl')!
  t.comment(`before rotate: commands.jsonl ${cmdBefore.bytes} bytes, ${cmdBefore.lines} lines, files ${cmdBefore.files.map((f) => `${f.name}=${f.bytes}`).join(' ')}`)
  t.notOk(cmdBefore.files.some((f) => f.name === 'commands.jsonl.1'), 'no backup yet')

  const rotated = await r.cmd<{ rotated: Array<{ file: string; rotated: boolean }> }>('logs', 'rotate')
  t.ok(rotated.ok, 'logs.rotate replies')
  if (!rotated.ok) return
  sent.push({ actor: 'logs', verb: 'rotate', traceId: rotated.traceId, code: 'OK' })
  t.comment(`logs.rotate: ${JSON.stringify(rotated.result.rotated)}`)
  t.ok(rotated.result.rotated.find((f) => f.file === 'commands.jsonl')?.rotated, 'commands.jsonl rotated')

  let after!: LogsStatus
  await waitFor(async () => {
    after = await must<LogsStatus>(r, 'logs', 'status')
    return after.files.find((f) => f.file === 'commands.jsonl')!.files.some((f) => f.name === 'commands.jsonl.1')
  }, 10000, 'logs.status shows commands.jsonl.1', 100)
  const cmdAfter = after.files.find((f) => f.file === 'commands.jsonl')!
  t.comment(`after rotate: healthy ${after.healthy}, total ${after.totalBytes} of ${after.limitBytes} bytes, dropped ${after.dropped}; commands.jsonl files ${cmdAfter.files.map((f) => `${f.name}=${f.bytes}`).join(' ')}, forcedRotations ${cmdAfter.forcedRotations}`)
  t.ok(cmdAfter.forcedRotations >= 1, 'a forced rotation counted')
  t.ok(after.healthy && after.dropped === 0, 'healthy, nothing dropped')

  // After the rotation, new commands go to the new live file.
  await send('alerts', 'list')
  await waitFor(async () => (await readLines(live)).some((l) => l.traceId === sent.at(-1)!.traceId), 10000, 'a command after the rotation in the new commands.jsonl', 100)

  const lines = [...(await readLines(backup)), ...(await readLines(live))]
  const backupLines = await readLines(backup)
  t.comment(`commands.jsonl.1 ${backupLines.length} lines, commands.jsonl ${lines.length - backupLines.length} lines; first: ${JSON.stringify(lines[0])}`)
  for (const s of sent) {
    const mine = lines.filter((l) => l.traceId === s.traceId)
    t.equal(mine.length, 1, `${s.actor}.${s.verb}: one line for trace ${s.traceId}`)
    const l = mine[0]
    if (!l) continue
    t.match(l, { actor: s.actor, verb: s.verb, code: s.code }, `${s.actor}.${s.verb}: actor, verb, code ${s.code}`)
    t.ok(typeof l.ms === 'number' && l.ms >= 0, `${s.actor}.${s.verb}: ms ${l.ms}`)
  }
  t.ok(backupLines.some((l) => l.traceId === sent[0]!.traceId), 'the commands before the rotation are in commands.jsonl.1')
  t.ok(lines.every((l) => typeof l.traceId === 'string' && l.traceId.length > 0 && typeof l.actor === 'string' && typeof l.verb === 'string' && typeof l.code === 'string' && typeof l.ms === 'number'), `every one of the ${lines.length} lines has traceId, actor, verb, code, ms`)
})
