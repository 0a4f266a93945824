import { accessSync, constants, statSync } from 'node:fs'
import { delimiter, dirname, isAbsolute, join, resolve } from 'node:path'

/** The external programs vigil runs (DESIGN.md §8). */
export type BinaryName = 'ffmpeg' | 'ffprobe' | 'nats-server'
export const binaryNames: readonly BinaryName[] = ['ffmpeg', 'ffprobe', 'nats-server']

/** Where a binary was found: an operator's variable, the optional npm package, or PATH. */
export type BinarySource = 'env' | 'ffmpeg-static' | 'path'

export interface ResolvedBinary {
  path: string
  source: BinarySource
}

export interface ResolveOptions {
  /** Loads the optional `ffmpeg-static` package; tests swap it. Resolves to its default export. */
  importFfmpegStatic?: () => Promise<unknown>
  /** Base for a relative FFMPEG_PATH / FFPROBE_PATH / NATS_SERVER_BIN. */
  cwd?: string
  /** Searched after PATH for nats-server; default /usr/sbin, /usr/local/sbin. Tests pass []. */
  sbinDirs?: readonly string[]
}

/** The variable an operator sets to point vigil at each binary. */
export const envVarFor: Record<BinaryName, string> = {
  ffmpeg: 'FFMPEG_PATH',
  ffprobe: 'FFPROBE_PATH',
  'nats-server': 'NATS_SERVER_BIN',
}

/** Debian installs nats-server to /usr/sbin, which a non-root PATH often lacks. */
const SBIN_DIRS = ['/usr/sbin', '/usr/local/sbin']

/** The Debian package that ships each binary (ffprobe comes with ffmpeg). */
export function debianPackageFor(binary: BinaryName): 'ffmpeg' | 'nats-server' {
  return binary === 'nats-server' ? 'nats-server' : 'ffmpeg'
}

export function isExecutableFile(path: string): boolean {
  try {
    if (!statSync(path).isFile()) return false
    accessSync(path, constants.X_OK)
    return true
  } catch {
    // Missing, unreadable or not executable: all mean "not usable here".
    return false
  }
}

/** The first executable `name` in the PATH dirs, then in `extraDirs`; like `which`, without a shell. */
export function findOnPath(name: string, env: NodeJS.ProcessEnv = process.env, extraDirs: readonly string[] = []): string | null {
  const dirs = (env.PATH ?? '').split(delimiter).filter((d) => d.length > 0)
  for (const dir of [...new Set([...dirs, ...extraDirs])]) {
    // An empty or relative PATH entry means "the cwd"; a daemon's cwd is not a place to trust.
    if (!isAbsolute(dir)) continue
    const candidate = join(dir, name)
    if (isExecutableFile(candidate)) return candidate
  }
  return null
}

/**
 * An operator's explicit setting wins and is never silently replaced by another
 * binary: a wrong FFMPEG_PATH resolves to null so the mistake is reported.
 * A bare name (`FFMPEG_PATH=ffmpeg5`) is looked up on PATH.
 */
function fromEnv(value: string, env: NodeJS.ProcessEnv, opts: ResolveOptions, extraDirs: readonly string[] = []): ResolvedBinary | null {
  const path = value.includes('/') ? resolve(opts.cwd ?? process.cwd(), value) : findOnPath(value, env, extraDirs)
  return path !== null && isExecutableFile(path) ? { path, source: 'env' } : null
}

const importFfmpegStatic = async (): Promise<unknown> => {
  // A variable specifier keeps TypeScript from requiring the optional package's types.
  const specifier = 'ffmpeg-static'
  const mod = (await import(specifier)) as { default?: unknown }
  return mod.default
}

async function fromFfmpegStatic(opts: ResolveOptions): Promise<ResolvedBinary | null> {
  let path: unknown
  try {
    path = await (opts.importFfmpegStatic ?? importFfmpegStatic)()
  } catch {
    // ffmpeg-static is an optional dependency: absent (or its binary download
    // failed at install) is normal, and PATH is the next place to look.
    return null
  }
  return typeof path === 'string' && isExecutableFile(path) ? { path, source: 'ffmpeg-static' } : null
}

/** ffmpeg: FFMPEG_PATH, else the optional `ffmpeg-static` package, else `ffmpeg` on PATH. */
export async function resolveFfmpeg(env: NodeJS.ProcessEnv = process.env, opts: ResolveOptions = {}): Promise<ResolvedBinary | null> {
  const explicit = env.FFMPEG_PATH
  if (explicit) return fromEnv(explicit, env, opts)
  const bundled = await fromFfmpegStatic(opts)
  if (bundled) return bundled
  const onPath = findOnPath('ffmpeg', env)
  return onPath ? { path: onPath, source: 'path' } : null
}

/**
 * ffprobe: FFPROBE_PATH, else beside the resolved ffmpeg (so the two match in
 * version), else `ffprobe` on PATH. ffmpeg-static ships no ffprobe, so that case
 * falls through to PATH.
 */
export async function resolveFfprobe(env: NodeJS.ProcessEnv = process.env, opts: ResolveOptions = {}): Promise<ResolvedBinary | null> {
  const explicit = env.FFPROBE_PATH
  if (explicit) return fromEnv(explicit, env, opts)
  const ffmpeg = await resolveFfmpeg(env, opts)
  if (ffmpeg) {
    const beside = join(dirname(ffmpeg.path), 'ffprobe')
    if (isExecutableFile(beside)) return { path: beside, source: ffmpeg.source }
  }
  const onPath = findOnPath('ffprobe', env)
  return onPath ? { path: onPath, source: 'path' } : null
}

/** nats-server: NATS_SERVER_BIN, else PATH, then /usr/sbin and /usr/local/sbin. */
export async function resolveNatsServer(env: NodeJS.ProcessEnv = process.env, opts: ResolveOptions = {}): Promise<ResolvedBinary | null> {
  const sbinDirs = opts.sbinDirs ?? SBIN_DIRS
  const explicit = env.NATS_SERVER_BIN
  if (explicit) return fromEnv(explicit, env, opts, sbinDirs)
  const onPath = findOnPath('nats-server', env, sbinDirs)
  return onPath ? { path: onPath, source: 'path' } : null
}

export function resolveBinary(name: BinaryName, env: NodeJS.ProcessEnv = process.env, opts: ResolveOptions = {}): Promise<ResolvedBinary | null> {
  switch (name) {
    case 'ffmpeg':
      return resolveFfmpeg(env, opts)
    case 'ffprobe':
      return resolveFfprobe(env, opts)
    case 'nats-server':
      return resolveNatsServer(env, opts)
  }
}
