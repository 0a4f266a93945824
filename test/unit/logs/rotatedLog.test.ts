import t from 'tap'
import { mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { Writable } from 'node:stream'
import { RotatedLog, type LogFailure } from '../../../actors/logs/rotatedLog.js'
import { waitFor } from '../../helpers/wait.js'

function tempDir(t: { teardown(fn: () => void): void }) {
  const dir = mkdtempSync(join(tmpdir(), 'vigil-rlog-'))
  t.teardown(() => rmSync(dir, { recursive: true, force: true }))
  return dir
}

const sizes = (dir: string) => Object.fromEntries(readdirSync(dir).map((n) => [n, statSync(join(dir, n)).size]))
const errno = (code: string) => Object.assign(new Error(`${code}: simulated`), { code })

/** A stream that accepts `okWrites` writes and then fails every one with `code`, as a full disk does. */
function failingStream(state: { okWrites: number; code: string; written: string[] }) {
  return () =>
    new Writable({
      construct(cb) {
        cb()
        queueMicrotask(() => this.emit('open', 'fake'))
      },
      write(chunk: Buffer, _enc, cb) {
        if (state.okWrites <= 0) return cb(errno(state.code))
        state.okWrites -= 1
        state.written.push(chunk.toString())
        cb()
      },
    })
}

t.test('rotates by size: every file within its limit plus one line, exactly `backups` copies', async (t) => {
  const dir = tempDir(t)
  const log = new RotatedLog({ dir, name: 'vigil.log', maxBytes: 2000, backups: 3 })
  const line = `${'x'.repeat(99)}\n`
  for (let i = 0; i < 500; i++) log.write(line)
  await log.flush()
  const s = sizes(dir)
  t.same(Object.keys(s).sort(), ['vigil.log', 'vigil.log.1', 'vigil.log.2', 'vigil.log.3'])
  for (const [name, bytes] of Object.entries(s)) t.ok(bytes <= 2000 + line.length, `${name}: ${bytes}`)
  t.equal(log.status().lines, 500)
  t.equal(log.status().dropped, 0)
  t.ok(log.status().healthy)
  const files = await log.files()
  t.same(files.map((f) => f.name), ['vigil.log', 'vigil.log.1', 'vigil.log.2', 'vigil.log.3'])
  await log.close()
})

t.test('forced rotation: the live file becomes .1, lines keep flowing, an empty file is not rotated', async (t) => {
  const dir = tempDir(t)
  const log = new RotatedLog({ dir, name: 'commands.jsonl', maxBytes: 1_000_000, backups: 2 })
  log.write('{"a":1}\n')
  const rotating = log.rotate()
  log.write('{"a":2}\n') // arrives while the rotation runs: held, then written to the new file
  t.equal(await rotating, true)
  await log.flush()
  t.equal(readFileSync(join(dir, 'commands.jsonl.1'), 'utf8'), '{"a":1}\n')
  t.equal(readFileSync(join(dir, 'commands.jsonl'), 'utf8'), '{"a":2}\n')
  t.equal(await log.rotate(), true)
  t.equal(await log.rotate(), false, 'nothing to rotate')
  t.same(Object.keys(sizes(dir)).sort(), ['commands.jsonl', 'commands.jsonl.1', 'commands.jsonl.2'])
  t.equal(log.status().forcedRotations, 2)
  await log.close()
})

t.test('backups 0: no copy is kept', async (t) => {
  const dir = tempDir(t)
  const log = new RotatedLog({ dir, name: 'a.log', maxBytes: 1024, backups: 0 })
  for (let i = 0; i < 100; i++) log.write(`${'y'.repeat(63)}\n`)
  await log.flush()
  // The rotated copy is unlinked asynchronously after the rotation: polled, not a fixed pause.
  await waitFor(() => readdirSync(dir).length === 1, 5000, 'only the live file left').catch(() => {})
  t.same(Object.keys(sizes(dir)), ['a.log'])
  await log.close()
})

for (const code of ['ENOSPC', 'EIO', 'EACCES']) {
  t.test(`${code}: lines dropped and counted, one failure report, never a throw; recovery after retryMs`, async (t) => {
    const state = { okWrites: 3, code, written: [] as string[] }
    let now = 0
    const failures: LogFailure[] = []
    const recoveries: Array<{ file: string; dropped: number }> = []
    const log = new RotatedLog({
      dir: '/nonexistent',
      name: 'vigil.log',
      maxBytes: 10_000,
      backups: 1,
      retryMs: 1000,
      now: () => now,
      createStream: failingStream(state),
      onFailure: (f) => failures.push(f),
      onRecovered: (r) => recoveries.push(r),
    })
    for (let i = 0; i < 10; i++) log.write(`line ${i}\n`)
    await log.flush()
    await new Promise((r) => setTimeout(r, 10))
    for (let i = 10; i < 20; i++) log.write(`line ${i}\n`)
    await log.flush()
    t.equal(state.written.length, 3)
    t.equal(log.status().lines, 3)
    t.equal(log.status().dropped, 17)
    t.equal(log.status().droppedBy.failed, 17)
    t.notOk(log.status().healthy)
    t.same(log.status().lastError?.code, code)
    t.equal(failures.length, 1, 'reported once')
    t.match(failures[0], { file: 'vigil.log', code })

    now = 500
    log.write('still broken\n')
    t.equal(log.status().dropped, 18, 'no retry before retryMs')
    now = 1000
    state.okWrites = 100
    log.write('back\n')
    await log.flush()
    t.equal(state.written.at(-1), 'back\n')
    t.ok(log.status().healthy)
    t.same(recoveries, [{ file: 'vigil.log', dropped: 18 }])
  })
}

t.test('a disk that stops answering: pending lines beyond maxPendingBytes are dropped as overflow', async (t) => {
  const held: Array<() => void> = []
  const log = new RotatedLog({
    dir: '/x',
    name: 'vigil.log',
    maxBytes: 1e9,
    backups: 1,
    maxPendingBytes: 1000,
    createStream: () =>
      new Writable({
        write(_c, _e, cb) {
          held.push(() => cb())
        },
      }),
  })
  for (let i = 0; i < 100; i++) log.write(`${'z'.repeat(99)}\n`)
  t.ok(log.status().droppedBy.overflow > 80, `overflow drops: ${log.status().droppedBy.overflow}`)
  t.ok(log.status().healthy, 'a slow disk is not a failure')
  while (held.length) held.shift()!()
  await log.flush()
})

t.test('after close, lines are dropped as closed', async (t) => {
  const dir = tempDir(t)
  const log = new RotatedLog({ dir, name: 'v.log', maxBytes: 10_000, backups: 1 })
  log.write('a\n')
  await log.close()
  log.write('b\n')
  t.equal(readFileSync(join(dir, 'v.log'), 'utf8'), 'a\n')
  t.equal(log.status().droppedBy.closed, 1)
})
