import t from 'tap'
import { chmodSync, mkdirSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { ensureBinaries, type EnsureBinariesOptions, type HostFacts } from '../../../tools/ensureBinaries.js'

type Tap = Pick<typeof t, 'testdir' | 'type' | 'fail'>

function fakeBin(dir: string, name: string): string {
  mkdirSync(dir, { recursive: true })
  const path = join(dir, name)
  writeFileSync(path, '#!/bin/sh\nexit 0\n')
  chmodSync(path, 0o755)
  return path
}

const rootWithApt: HostFacts = { platform: 'linux', isRoot: true, stdinIsTTY: false, aptGet: '/usr/bin/apt-get' }

/**
 * A sandbox: PATH is one empty dir, no ffmpeg-static, no sbin dirs; the "apt-get"
 * records its calls and, on install, drops the packages' binaries into PATH.
 */
function sandbox(t: Tap, env: NodeJS.ProcessEnv = {}, host: Partial<HostFacts> = rootWithApt, installWorks = true) {
  const bin = join(t.testdir(), 'bin')
  mkdirSync(bin)
  const lines: string[] = []
  const calls: Array<{ command: string; args: readonly string[]; frontend: string | undefined }> = []
  const opts: EnsureBinariesOptions = {
    env: { PATH: bin, ...env },
    log: (line) => lines.push(line),
    host,
    resolve: { importFfmpegStatic: async () => null, sbinDirs: [] },
    runCommand: async (command, args, runEnv) => {
      calls.push({ command, args, frontend: runEnv.DEBIAN_FRONTEND })
      if (args[0] !== 'install') return 0
      if (!installWorks) return 100
      if (args.includes('ffmpeg')) ['ffmpeg', 'ffprobe'].forEach((n) => fakeBin(bin, n))
      if (args.includes('nats-server')) fakeBin(bin, 'nats-server')
      return 0
    },
  }
  return { bin, lines, calls, opts }
}

t.test('all present: one summary line, nothing installed', async (t) => {
  const s = sandbox(t, { CI: 'true' })
  for (const n of ['ffmpeg', 'ffprobe', 'nats-server']) fakeBin(s.bin, n)
  const result = await ensureBinaries(s.opts)
  t.equal(result.exitCode, 0)
  t.same(result.missing, [])
  t.same(s.calls, [])
  t.same(s.lines, [
    `vigil: ffmpeg ${s.bin}/ffmpeg (path), ffprobe ${s.bin}/ffprobe (path), nats-server ${s.bin}/nats-server (path)`,
  ])
  t.same(result.found['nats-server'], { path: `${s.bin}/nats-server`, source: 'path' })
})

t.test('missing and not root: one line per binary, exit 1, no apt', async (t) => {
  const s = sandbox(t, { CI: 'true' }, { ...rootWithApt, isRoot: false })
  fakeBin(s.bin, 'ffprobe')
  const result = await ensureBinaries(s.opts)
  t.equal(result.exitCode, 1)
  t.same(result.missing, ['ffmpeg', 'nats-server'])
  t.same(s.calls, [])
  t.same(s.lines, [
    'vigil: ffmpeg not found — install the Debian package "ffmpeg" (apt-get install ffmpeg) or set FFMPEG_PATH',
    'vigil: nats-server not found — install the Debian package "nats-server" (apt-get install nats-server) or set NATS_SERVER_BIN',
  ])
})

t.test('root in CI: apt-get update once, one install of the needed packages, then found', async (t) => {
  const s = sandbox(t, { CI: 'true' })
  const result = await ensureBinaries(s.opts)
  t.equal(result.exitCode, 0)
  t.same(
    s.calls.map((c) => [c.command, ...c.args]),
    [
      ['/usr/bin/apt-get', 'update'],
      ['/usr/bin/apt-get', 'install', '-y', '--no-install-recommends', '-o', 'DPkg::Lock::Timeout=120', 'ffmpeg', 'nats-server'],
    ],
    'ffmpeg and ffprobe share one package',
  )
  t.ok(s.calls.every((c) => c.frontend === 'noninteractive'), 'apt never asks a question')
  t.match(s.lines.at(-1), /^vigil: ffmpeg .*\/ffmpeg \(path\), ffprobe .*\/ffprobe \(path\), nats-server .*\/nats-server \(path\)$/)
})

t.test('only what is needed is checked and installed', async (t) => {
  const s = sandbox(t, { CI: '1' })
  const result = await ensureBinaries({ ...s.opts, need: ['nats-server'] })
  t.equal(result.exitCode, 0)
  t.same(s.calls.at(-1)?.args.at(-1), 'nats-server')
  t.notOk(s.calls.at(-1)?.args.includes('ffmpeg'))
  t.same(s.lines.at(-1), `vigil: nats-server ${s.bin}/nats-server (path)`)
})

t.test('root without CI or a terminal does not change the system', async (t) => {
  const s = sandbox(t, {})
  t.equal((await ensureBinaries(s.opts)).exitCode, 1)
  t.same(s.calls, [])
  t.equal(s.lines.length, 3, 'one line per missing binary')
})

t.test('root at a terminal installs', async (t) => {
  const s = sandbox(t, {}, { ...rootWithApt, stdinIsTTY: true })
  t.equal((await ensureBinaries(s.opts)).exitCode, 0)
  t.equal(s.calls.length, 2)
})

t.test('VIGIL_INSTALL and the install option decide', async (t) => {
  const off = sandbox(t, { CI: 'true', VIGIL_INSTALL: '0' })
  t.equal((await ensureBinaries(off.opts)).exitCode, 1)
  t.same(off.calls, [], 'VIGIL_INSTALL=0 wins over CI')
  const on = sandbox(t, { VIGIL_INSTALL: '1' })
  t.equal((await ensureBinaries(on.opts)).exitCode, 0, 'VIGIL_INSTALL=1 without CI or terminal')
  const flag = sandbox(t, { CI: 'true' })
  t.equal((await ensureBinaries({ ...flag.opts, install: false })).exitCode, 1)
  t.same(flag.calls, [], '--no-install')
})

t.test('no apt-get, or not Linux: report only', async (t) => {
  for (const host of [{ ...rootWithApt, aptGet: null }, { ...rootWithApt, platform: 'darwin' as const }]) {
    const s = sandbox(t, { CI: 'true' }, host)
    t.equal((await ensureBinaries({ ...s.opts, install: true })).exitCode, 1)
    t.same(s.calls, [])
  }
})

t.test('a failed install says so in each line', async (t) => {
  const s = sandbox(t, { CI: 'true' }, rootWithApt, false)
  const result = await ensureBinaries(s.opts)
  t.equal(result.exitCode, 1)
  const missingLines = s.lines.filter((l) => l.includes('not found'))
  t.equal(missingLines.length, 3)
  for (const line of missingLines) t.match(line, /\(apt-get install exited with code 100\) — install the Debian package/)
})

t.test('a wrong FFMPEG_PATH is named, and not "fixed" by installing another ffmpeg', async (t) => {
  const s = sandbox(t, { CI: 'true', FFMPEG_PATH: '/opt/nowhere/ffmpeg' })
  fakeBin(s.bin, 'ffprobe')
  fakeBin(s.bin, 'nats-server')
  const result = await ensureBinaries(s.opts)
  t.equal(result.exitCode, 1)
  t.same(s.calls, [])
  t.same(s.lines, ['vigil: ffmpeg not found — FFMPEG_PATH=/opt/nowhere/ffmpeg is not an executable file; fix or unset FFMPEG_PATH'])
})
