import { spawn } from 'node:child_process'
import {
  binaryNames,
  debianPackageFor,
  envVarFor,
  findOnPath,
  resolveBinary,
  type BinaryName,
  type ResolveOptions,
  type ResolvedBinary,
} from '../infra/binaries.js'

export interface EnsureBinariesOptions {
  need?: readonly BinaryName[]
  /** One line at a time; default: stderr. */
  log?: (line: string) => void
  env?: NodeJS.ProcessEnv
  /**
   * true: install with apt-get whenever possible; false: never; undefined: only
   * when nobody can be surprised by it (root, and CI or a terminal). VIGIL_INSTALL=0|1
   * in the environment decides the undefined case too.
   */
  install?: boolean
  /** Runs a command with its output on our stderr; resolves to its exit code. Tests swap it. */
  runCommand?: (command: string, args: readonly string[], env: NodeJS.ProcessEnv) => Promise<number>
  resolve?: ResolveOptions
  /** Facts about this machine; tests swap them. */
  host?: Partial<HostFacts>
}

export interface HostFacts {
  platform: NodeJS.Platform
  isRoot: boolean
  stdinIsTTY: boolean
  aptGet: string | null
}

export interface EnsureBinariesResult {
  /** 0: all found; 1: something is missing (each was reported on its own line). */
  exitCode: 0 | 1
  found: Partial<Record<BinaryName, ResolvedBinary>>
  missing: BinaryName[]
}

const truthy = (v: string | undefined) => v !== undefined && v !== '' && v !== '0' && v.toLowerCase() !== 'false'

function hostFacts(env: NodeJS.ProcessEnv, given: Partial<HostFacts> = {}): HostFacts {
  return {
    platform: given.platform ?? process.platform,
    isRoot: given.isRoot ?? process.getuid?.() === 0,
    stdinIsTTY: given.stdinIsTTY ?? process.stdin.isTTY === true,
    aptGet: given.aptGet !== undefined ? given.aptGet : findOnPath('apt-get', env, ['/usr/bin', '/usr/sbin']),
  }
}

/**
 * Installing system packages is only done where it cannot surprise anyone: as root
 * on Linux with apt-get, and either in CI (no one to ask, and a fresh machine) or
 * at a terminal where the operator sees apt's output. A service started without a
 * terminal reports what is missing instead of changing the system under itself.
 */
function mayInstall(opts: EnsureBinariesOptions, env: NodeJS.ProcessEnv, host: HostFacts): boolean {
  if (host.platform !== 'linux' || !host.isRoot || host.aptGet === null) return false
  if (opts.install !== undefined) return opts.install
  if (env.VIGIL_INSTALL !== undefined && env.VIGIL_INSTALL !== '') return truthy(env.VIGIL_INSTALL)
  return truthy(env.CI) || host.stdinIsTTY
}

function runWithOutputOnStderr(command: string, args: readonly string[], env: NodeJS.ProcessEnv): Promise<number> {
  return new Promise((resolve) => {
    // apt's progress goes to our stderr, so stdout stays clean for whatever reads it.
    const child = spawn(command, args, { env, stdio: ['ignore', 2, 2] })
    child.once('error', () => resolve(127))
    child.once('exit', (code, signal) => resolve(code ?? (signal ? 128 : 1)))
  })
}

async function resolveAll(need: readonly BinaryName[], env: NodeJS.ProcessEnv, opts: ResolveOptions) {
  const found: Partial<Record<BinaryName, ResolvedBinary>> = {}
  const missing: BinaryName[] = []
  for (const name of need) {
    const hit = await resolveBinary(name, env, opts)
    if (hit) found[name] = hit
    else missing.push(name)
  }
  return { found, missing }
}

function missingLine(name: BinaryName, env: NodeJS.ProcessEnv, installNote: string): string {
  const variable = envVarFor[name]
  const pkg = debianPackageFor(name)
  const set = env[variable]
  if (set) return `vigil: ${name} not found — ${variable}=${set} is not an executable file; fix or unset ${variable}`
  return `vigil: ${name} not found${installNote} — install the Debian package "${pkg}" (apt-get install ${pkg}) or set ${variable}`
}

/**
 * Makes sure the external programs vigil runs are there, installing the Debian
 * packages where that is safe, and says in one line each what is still missing.
 */
export async function ensureBinaries(opts: EnsureBinariesOptions = {}): Promise<EnsureBinariesResult> {
  const env = opts.env ?? process.env
  const log = opts.log ?? ((line: string) => process.stderr.write(`${line}\n`))
  const need = [...new Set(opts.need ?? binaryNames)]
  let { found, missing } = await resolveAll(need, env, opts.resolve ?? {})

  let installNote = ''
  // A binary the operator pointed at explicitly is not fixed by installing another one.
  const installable = missing.filter((name) => !env[envVarFor[name]])
  const host = hostFacts(env, opts.host)
  if (installable.length > 0 && mayInstall(opts, env, host)) {
    const aptGet = host.aptGet!
    const run = opts.runCommand ?? runWithOutputOnStderr
    const aptEnv = { ...env, DEBIAN_FRONTEND: 'noninteractive' }
    const packages = [...new Set(installable.map(debianPackageFor))]
    log(`vigil: installing ${packages.join(' ')} with apt-get`)
    const updateCode = await run(aptGet, ['update'], aptEnv)
    // A failed update (one unreachable mirror) can still leave usable lists: try the install anyway.
    const installCode = await run(
      aptGet,
      ['install', '-y', '--no-install-recommends', '-o', 'DPkg::Lock::Timeout=120', ...packages],
      aptEnv,
    )
    if (installCode !== 0) {
      installNote = ` (apt-get install exited with code ${installCode}${updateCode !== 0 ? `; apt-get update exited with code ${updateCode}` : ''})`
    }
    ;({ found, missing } = await resolveAll(need, env, opts.resolve ?? {}))
  }

  if (missing.length > 0) {
    for (const name of missing) log(missingLine(name, env, installNote))
    return { exitCode: 1, found, missing }
  }
  log(`vigil: ${need.map((name) => `${name} ${found[name]!.path} (${found[name]!.source})`).join(', ')}`)
  return { exitCode: 0, found, missing }
}
