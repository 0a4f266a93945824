import t from 'tap'
import { chmodSync, mkdirSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import {
  debianPackageFor,
  findOnPath,
  resolveFfmpeg,
  resolveFfprobe,
  resolveNatsServer,
  type ResolveOptions,
} from '../../../infra/binaries.js'

type Tap = Pick<typeof t, 'testdir' | 'type' | 'fail'>

/** Fake executables in fresh dirs, so the machine's real binaries never leak in. */
function fakeBin(dir: string, name: string, mode = 0o755): string {
  mkdirSync(dir, { recursive: true })
  const path = join(dir, name)
  writeFileSync(path, '#!/bin/sh\nexit 0\n')
  chmodSync(path, mode)
  return path
}

const absent = async () => {
  throw Object.assign(new Error("Cannot find package 'ffmpeg-static'"), { code: 'ERR_MODULE_NOT_FOUND' })
}
/** No ffmpeg-static, no /usr/sbin: only what the test puts on PATH. */
const isolated: ResolveOptions = { importFfmpegStatic: absent, sbinDirs: [] }

function dirs(t: Tap) {
  const base = t.testdir()
  return { base, a: join(base, 'a'), b: join(base, 'b'), other: join(base, 'other') }
}

t.test('debianPackageFor names the package that ships each binary', async (t) => {
  t.equal(debianPackageFor('ffmpeg'), 'ffmpeg')
  t.equal(debianPackageFor('ffprobe'), 'ffmpeg')
  t.equal(debianPackageFor('nats-server'), 'nats-server')
})

t.test('findOnPath takes the first executable file in PATH order', async (t) => {
  const d = dirs(t)
  fakeBin(d.a, 'tool', 0o644) // not executable: skipped
  const second = fakeBin(d.b, 'tool')
  mkdirSync(join(d.other, 'tool'), { recursive: true }) // a directory: skipped
  t.equal(findOnPath('tool', { PATH: `${d.other}:${d.a}::relative:${d.b}` }), second)
  t.equal(findOnPath('tool', { PATH: d.a }), null)
  t.equal(findOnPath('tool', {}), null, 'no PATH at all')
  t.equal(findOnPath('tool', { PATH: d.a }, [d.b]), second, 'extra dirs are searched after PATH')
})

t.test('ffmpeg: FFMPEG_PATH wins over everything', async (t) => {
  const d = dirs(t)
  const mine = fakeBin(d.a, 'my-ffmpeg')
  fakeBin(d.b, 'ffmpeg')
  const staticBin = fakeBin(d.other, 'ffmpeg')
  const got = await resolveFfmpeg({ FFMPEG_PATH: mine, PATH: d.b }, { importFfmpegStatic: async () => staticBin })
  t.same(got, { path: mine, source: 'env' })
})

t.test('ffmpeg: a wrong FFMPEG_PATH is not silently replaced', async (t) => {
  const d = dirs(t)
  fakeBin(d.b, 'ffmpeg')
  t.equal(await resolveFfmpeg({ FFMPEG_PATH: join(d.a, 'missing'), PATH: d.b }, isolated), null)
})

t.test('ffmpeg: a bare FFMPEG_PATH name is looked up on PATH; a relative path against cwd', async (t) => {
  const d = dirs(t)
  const named = fakeBin(d.b, 'ffmpeg6')
  t.same(await resolveFfmpeg({ FFMPEG_PATH: 'ffmpeg6', PATH: d.b }, isolated), { path: named, source: 'env' })
  const rel = fakeBin(d.a, 'ffmpeg')
  t.same(await resolveFfmpeg({ FFMPEG_PATH: 'a/ffmpeg' }, { ...isolated, cwd: d.base }), { path: rel, source: 'env' })
})

t.test('ffmpeg: ffmpeg-static before PATH, when importable and its file exists', async (t) => {
  const d = dirs(t)
  const staticBin = fakeBin(d.other, 'ffmpeg')
  fakeBin(d.b, 'ffmpeg')
  t.same(await resolveFfmpeg({ PATH: d.b }, { importFfmpegStatic: async () => staticBin }), { path: staticBin, source: 'ffmpeg-static' })
})

t.test('ffmpeg: ffmpeg-static absent, or installed without its binary, falls back to PATH', async (t) => {
  const d = dirs(t)
  const onPath = fakeBin(d.b, 'ffmpeg')
  const expected = { path: onPath, source: 'path' }
  t.same(await resolveFfmpeg({ PATH: d.b }, { importFfmpegStatic: absent }), expected, 'not installed')
  t.same(await resolveFfmpeg({ PATH: d.b }, { importFfmpegStatic: async () => join(d.other, 'gone') }), expected, 'binary download failed')
  t.same(await resolveFfmpeg({ PATH: d.b }, { importFfmpegStatic: async () => null }), expected, 'unsupported platform: null export')
})

t.test('ffmpeg: the real optional import does not throw when the package is missing', async (t) => {
  const d = dirs(t)
  const onPath = fakeBin(d.b, 'ffmpeg')
  const got = await resolveFfmpeg({ PATH: d.b })
  t.ok(got, 'something is found')
  // Whichever is true on this machine, the answer is consistent with it.
  if (got?.source === 'ffmpeg-static') t.pass('ffmpeg-static is installed here')
  else t.same(got, { path: onPath, source: 'path' })
})

t.test('ffmpeg: nothing anywhere is null', async (t) => {
  const d = dirs(t)
  t.equal(await resolveFfmpeg({ PATH: d.a }, isolated), null)
})

t.test('ffprobe: FFPROBE_PATH, then beside ffmpeg, then PATH', async (t) => {
  const d = dirs(t)
  const explicit = fakeBin(d.other, 'probe')
  const ffmpegA = fakeBin(d.a, 'ffmpeg')
  const besideA = fakeBin(d.a, 'ffprobe')
  const onPathB = fakeBin(d.b, 'ffprobe')
  t.same(await resolveFfprobe({ FFPROBE_PATH: explicit, PATH: d.b }, isolated), { path: explicit, source: 'env' })
  t.same(
    await resolveFfprobe({ FFMPEG_PATH: ffmpegA, PATH: d.b }, isolated),
    { path: besideA, source: 'env' },
    'beside an FFMPEG_PATH binary, so the two match',
  )
  t.same(
    await resolveFfprobe({ PATH: `${d.b}:${d.a}` }, isolated),
    { path: besideA, source: 'path' },
    "beside PATH's ffmpeg, even when another ffprobe comes first on PATH",
  )
  const lonelyFfmpeg = fakeBin(join(d.base, 'lonely'), 'ffmpeg')
  t.same(await resolveFfprobe({ FFMPEG_PATH: lonelyFfmpeg, PATH: d.b }, isolated), { path: onPathB, source: 'path' }, 'PATH when none is beside ffmpeg')
  t.equal(await resolveFfprobe({ FFPROBE_PATH: join(d.a, 'nope'), PATH: d.b }, isolated), null, 'a wrong FFPROBE_PATH is reported')
})

t.test('ffprobe: ffmpeg-static ships none, so PATH is used', async (t) => {
  const d = dirs(t)
  const staticBin = fakeBin(d.other, 'ffmpeg')
  const onPath = fakeBin(d.b, 'ffprobe')
  t.same(await resolveFfprobe({ PATH: d.b }, { importFfmpegStatic: async () => staticBin }), { path: onPath, source: 'path' })
  t.equal(await resolveFfprobe({ PATH: d.a }, { importFfmpegStatic: async () => staticBin }), null)
})

t.test('nats-server: NATS_SERVER_BIN, then PATH, then the sbin dirs', async (t) => {
  const d = dirs(t)
  const explicit = fakeBin(d.other, 'nats-server-2.10')
  const onPath = fakeBin(d.a, 'nats-server')
  const sbin = fakeBin(d.b, 'nats-server')
  t.same(await resolveNatsServer({ NATS_SERVER_BIN: explicit, PATH: d.a }, { sbinDirs: [d.b] }), { path: explicit, source: 'env' })
  t.same(await resolveNatsServer({ PATH: d.a }, { sbinDirs: [d.b] }), { path: onPath, source: 'path' })
  t.same(await resolveNatsServer({ PATH: '/nonexistent' }, { sbinDirs: [d.b] }), { path: sbin, source: 'path' }, 'found in sbin though not on PATH')
  t.equal(await resolveNatsServer({ PATH: d.other }, { sbinDirs: [] }), null)
  t.equal(await resolveNatsServer({ NATS_SERVER_BIN: join(d.a, 'nope'), PATH: d.a }, { sbinDirs: [] }), null, 'a wrong NATS_SERVER_BIN is reported')
})

t.test('nats-server: the default sbin dirs are searched', { skip: process.platform !== 'linux' && 'Linux layout' }, async (t) => {
  const got = await resolveNatsServer({ PATH: '/nonexistent' })
  if (got === null) t.pass('no nats-server in /usr/sbin or /usr/local/sbin on this machine')
  else t.match(got.path, /^\/usr\/(local\/)?sbin\/nats-server$/)
})
