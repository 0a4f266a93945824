import t from 'tap'
import { execFileSync } from 'node:child_process'
import { mkdirSync, mkdtempSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { pino } from 'pino'
import { createLogFiles, type LogFiles } from '../../../actors/logs/index.js'
import { waitFor } from '../../helpers/wait.js'

const KB = 1000
const CONFIG = { vigilMaxBytes: 100 * KB, vigilBackups: 5, commandsMaxBytes: 50 * KB, commandsBackups: 3, frameDropsMaxBytes: 50 * KB, frameDropsBackups: 3 }
/** The table's total (each file at its limit, with all its backups) plus one file. */
const LIMIT = 100 * KB * 6 + 50 * KB * 4 * 2 + 100 * KB

function onDisk(dir: string): { total: number; files: Record<string, number> } {
  const files: Record<string, number> = {}
  let total = 0
  try {
    for (const name of readdirSync(dir)) {
      const size = statSync(join(dir, name)).size
      files[name] = size
      total += size
    }
  } catch {
    // The dir is gone or is a file right now: nothing of ours on disk.
  }
  return { total, files }
}

/** Writes like a busy rig: the main log through pino, commands and frame drops as records. */
async function flood(logFiles: LogFiles, log: pino.Logger, rounds: number, watch: () => void): Promise<void> {
  for (let r = 0; r < rounds; r++) {
    for (let i = 0; i < 200; i++) {
      log.info({ round: r, i, camera: 'testsrc', detail: 'x'.repeat(120) }, 'a busy line')
      logFiles.commandLog.write({ at: new Date().toISOString(), traceId: `t${r}-${i}`, actor: 'recorder', verb: 'status', code: 'OK', ms: 0.4 })
      logFiles.frameDropLog.write({ at: new Date().toISOString(), actor: 'camera', reason: 'stall', framesSeen: i })
    }
    await new Promise((resolve) => setImmediate(resolve))
    watch()
  }
  await logFiles.flush()
  watch()
}

function setup(t: { teardown(fn: () => unknown): void }, dir: string, retryMs = 200) {
  const warnings: Array<{ fields: Record<string, unknown>; msg: string }> = []
  const infos: string[] = []
  const logFiles = createLogFiles({ dir, config: CONFIG, retryMs, warn: (fields, msg) => warnings.push({ fields, msg }), info: (_f, m) => infos.push(m) })
  t.teardown(() => logFiles.close())
  // The same wiring as createLogger({ streams: [logFiles.mainStream] }), without the stdout stream.
  const log = pino({ level: 'info', base: { node: 'logtest' } }, pino.multistream([{ level: 'info', stream: logFiles.mainStream }]))
  return { logFiles, log, warnings, infos }
}

t.test('write flood: sizes and counts bounded as the table says', async (t) => {
  const root = mkdtempSync(join(tmpdir(), 'vigil-logs-'))
  t.teardown(() => rmSync(root, { recursive: true, force: true }))
  const dir = join(root, 'logs')
  const { logFiles, log, warnings } = setup(t, dir)
  let peak = 0
  const watch = () => {
    peak = Math.max(peak, onDisk(dir).total)
  }
  await flood(logFiles, log, 60, watch)
  const { files, total } = onDisk(dir)
  t.same(Object.keys(files).sort(), [
    'commands.jsonl', 'commands.jsonl.1', 'commands.jsonl.2', 'commands.jsonl.3',
    'frame_drops.jsonl', 'frame_drops.jsonl.1', 'frame_drops.jsonl.2', 'frame_drops.jsonl.3',
    'vigil.log', 'vigil.log.1', 'vigil.log.2', 'vigil.log.3', 'vigil.log.4', 'vigil.log.5',
  ])
  for (const [name, bytes] of Object.entries(files)) {
    const max = name.startsWith('vigil.log') ? 100 * KB : 50 * KB
    t.ok(bytes <= max + 1024, `${name} ${bytes} <= ${max} + one line`)
  }
  t.ok(total <= LIMIT, `total ${total} <= ${LIMIT}`)
  t.ok(peak <= LIMIT, `peak while writing ${peak} <= ${LIMIT}`)
  const status = await logFiles.status()
  t.equal(status.dropped, 0)
  t.equal(status.files[0]!.lines, 60 * 200)
  t.same(warnings, [])

  const rotated = await logFiles.rotateAll()
  t.same(rotated.map((r) => r.rotated), [true, true, true], 'logs.rotate rotates all three')
  t.equal(onDisk(dir).files['vigil.log'], 0)
})

t.test('the logs dir replaced by a file mid-run: one warning, no crash, dropped lines counted, recovery', async (t) => {
  const root = mkdtempSync(join(tmpdir(), 'vigil-logs-'))
  t.teardown(() => rmSync(root, { recursive: true, force: true }))
  const dir = join(root, 'logs')
  const { logFiles, log, warnings, infos } = setup(t, dir)
  await flood(logFiles, log, 10, () => {})
  t.equal((await logFiles.status()).dropped, 0)

  rmSync(dir, { recursive: true, force: true })
  writeFileSync(dir, 'not a directory any more')
  await flood(logFiles, log, 30, () => {})
  const broken = await logFiles.status()
  t.ok(broken.dropped > 0, `dropped ${broken.dropped}`)
  t.notOk(broken.healthy)
  t.equal(warnings.length, 1, 'exactly one warning for the episode')
  t.match(warnings[0]!.fields, { code: 'ENOTDIR' })
  t.match(warnings[0]!.msg, /log write failed/)

  // More failures later in the same episode: still one warning, the count keeps growing.
  await new Promise((r) => setTimeout(r, 250))
  await flood(logFiles, log, 5, () => {})
  const later = await logFiles.status()
  t.ok(later.dropped > broken.dropped, 'dropped count grows')
  t.equal(warnings.length, 1)

  // The operator fixes the disk: writes resume on their own.
  rmSync(dir)
  await new Promise((r) => setTimeout(r, 250))
  await waitFor(
    async () => {
      // A file is known to write again only once a line reaches it: probe all three.
      log.info('probe')
      logFiles.commandLog.write({ probe: true })
      logFiles.frameDropLog.write({ probe: true })
      await logFiles.flush()
      return (await logFiles.status()).healthy
    },
    5000,
    'log files healthy again',
  )
  t.ok(infos.includes('log writes resumed'))
  t.ok(onDisk(dir).files['vigil.log']! > 0)
})

t.test('a full disk (a tiny tmpfs): ENOSPC drops lines, one warning, bounded', async (t) => {
  const root = mkdtempSync(join(tmpdir(), 'vigil-logs-'))
  const dir = join(root, 'logs')
  mkdirSync(dir)
  try {
    execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=256k', 'tmpfs', dir], { stdio: 'ignore' })
  } catch {
    rmSync(root, { recursive: true, force: true })
    t.comment('skipped: cannot mount a tmpfs here (not root, or no mount namespace); ENOSPC is covered by the unit tests')
    t.pass('no tmpfs available')
    return
  }
  t.teardown(() => {
    try {
      execFileSync('umount', [dir], { stdio: 'ignore' })
    } finally {
      rmSync(root, { recursive: true, force: true })
    }
  })
  const { logFiles, log, warnings } = setup(t, dir)
  await flood(logFiles, log, 60, () => {})
  const status = await logFiles.status()
  t.ok(status.dropped > 0, `dropped ${status.dropped}`)
  t.equal(warnings.length, 1)
  t.equal(warnings[0]!.fields['code'], 'ENOSPC')
  t.ok(onDisk(dir).total <= 256 * 1024)
})
