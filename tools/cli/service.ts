import { execFileSync } from 'node:child_process'
import { accessSync, chownSync, constants, mkdirSync, renameSync, writeFileSync } from 'node:fs'
import { userInfo } from 'node:os'
import { join, resolve } from 'node:path'
import { fileURLToPath } from 'node:url'
import { parseArgs } from 'node:util'
import { loadConfigFromArgs } from './configArgs.js'
import { renderUnit, stateDirectoryName, unitPathProblem, unitWarnings, UNIT_NAME } from './serviceUnit.js'

const help = `usage: vigil service print [--user U] [--data-dir D] [--config F]
       vigil service install [--user U] [--data-dir D] [--config F] [--enable] [--unit-dir DIR]

print     writes a systemd unit for this rig to stdout: Type=notify with a watchdog,
          Restart=always, TimeoutStopSec above the config's shutdown.timeoutMs, hardening.
install   writes it to /etc/systemd/system/${UNIT_NAME} (root) and makes the data dir,
          owned by the user. It does not enable or start the service unless --enable is
          given (systemctl daemon-reload, then enable --now); it says what to run next.

--user U       run the rig as U (default: $SUDO_USER, else you when not root; root otherwise)
--data-dir D   the only directory the service may write (default: the config's dataDir;
               /var/lib/NAME becomes StateDirectory=NAME)
--config F     the config file the service reads (default: VIGIL_CONFIG, else
               ./vigil.config.json when there is one, else the built-in defaults)
--unit-dir DIR where install writes the unit (default /etc/systemd/system)

The unit follows the config file and --data-dir only: other VIGIL_* variables of this shell
are not carried into it (put those settings in the config file).
`

const repoRoot = resolve(fileURLToPath(import.meta.url), '../../..')
const DEFAULT_UNIT_DIR = '/etc/systemd/system'
/** Environment the unit keeps from this shell: where the binaries are. */
const CARRIED_ENV = ['FFMPEG_PATH', 'FFPROBE_PATH', 'NATS_SERVER_BIN'] as const

export interface ServiceIo {
  out: (text: string) => void
  err: (text: string) => void
  env: NodeJS.ProcessEnv
  cwd: string
  uid: number
}

const processIo = (): ServiceIo => ({
  out: (text) => process.stdout.write(text),
  err: (text) => process.stderr.write(text),
  env: process.env,
  cwd: process.cwd(),
  uid: process.getuid?.() ?? -1,
})

interface Built {
  unit: string
  dataDir: string
  user: string | undefined
}

/** The unit for these flags, or an exit code after saying why not. */
function build(values: { user?: string | undefined; 'data-dir'?: string | undefined; config?: string | undefined }, io: ServiceIo): Built | number {
  // The service sees the config file and VIGIL_DATA_DIR only; so does the config read here.
  const env: NodeJS.ProcessEnv = {}
  const dropped: string[] = []
  for (const [k, v] of Object.entries(io.env)) {
    if (!k.startsWith('VIGIL_') || k === 'VIGIL_CONFIG' || k === 'VIGIL_DATA_DIR') env[k] = v
    else dropped.push(k)
  }
  if (dropped.length > 0) io.err(`vigil service: not carried into the unit (put them in the config file): ${dropped.sort().join(', ')}\n`)
  if (values['data-dir'] !== undefined) env.VIGIL_DATA_DIR = resolve(io.cwd, values['data-dir'])
  const loaded = loadConfigFromArgs({ config: values.config }, { env, cwd: io.cwd, write: io.err })
  if ('exitCode' in loaded) return loaded.exitCode
  const { config } = loaded
  const explicit = values.config ?? env.VIGIL_CONFIG
  const defaultFile = resolve(io.cwd, 'vigil.config.json')
  let configFile: string | undefined
  if (explicit) configFile = resolve(io.cwd, explicit)
  else {
    try {
      accessSync(defaultFile, constants.R_OK)
      configFile = defaultFile
    } catch {
      // No config file: the service runs the defaults too.
    }
  }
  const sudoUser = io.env.SUDO_USER && io.env.SUDO_USER !== 'root' ? io.env.SUDO_USER : undefined
  const user = values.user ?? sudoUser ?? (io.uid !== 0 ? userInfo().username : undefined)
  if (user !== undefined && !/^[a-z_][a-z0-9_-]*[$]?$/i.test(user)) {
    io.err(`vigil service: --user ${JSON.stringify(user)} is not a user name\n`)
    return 2
  }
  const environment: Record<string, string> = {}
  for (const k of CARRIED_ENV) {
    const v = io.env[k]
    if (v) environment[k] = resolve(io.cwd, v)
  }
  try {
    const unit = renderUnit({
      nodePath: process.execPath,
      vigilBin: join(repoRoot, 'bin/vigil.js'),
      dataDir: config.dataDir,
      ...(configFile ? { configFile } : {}),
      ...(user ? { user } : {}),
      shutdownTimeoutMs: config.shutdown.timeoutMs,
      startTimeoutMs: config.supervisor.startTimeoutMs,
      environment,
    })
    for (const w of unitWarnings({ dataDir: config.dataDir })) io.err(`vigil service: warning: ${w}\n`)
    return { unit, dataDir: config.dataDir, user: user === 'root' ? undefined : user }
  } catch (err) {
    io.err(`vigil service: ${(err as Error).message}\n`)
    return 2
  }
}

/** uid and gid of a user name, or undefined when there is no such user. */
function lookupUser(user: string): { uid: number; gid: number } | undefined {
  try {
    const uid = Number(execFileSync('id', ['-u', user], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).trim())
    const gid = Number(execFileSync('id', ['-g', user], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).trim())
    return Number.isInteger(uid) && Number.isInteger(gid) ? { uid, gid } : undefined
  } catch {
    return undefined
  }
}

function install(built: Built, opts: { unitDir: string; enable: boolean }, io: ServiceIo): number {
  const target = join(opts.unitDir, UNIT_NAME)
  if (opts.unitDir === DEFAULT_UNIT_DIR && io.uid !== 0) {
    io.err(`vigil service install: must run as root: it writes ${target} and makes the data dir (try: sudo ${process.argv0} ${join(repoRoot, 'bin/vigil.js')} service install ...)\n`)
    return 1
  }
  const owner = built.user ? lookupUser(built.user) : undefined
  if (built.user && !owner) {
    io.err(`vigil service install: no user ${JSON.stringify(built.user)}: create it first, e.g.\n  useradd --system --user-group --no-create-home --shell /usr/sbin/nologin ${built.user}\n`)
    return 1
  }
  try {
    // StateDirectory= dirs are made (and owned) by systemd at start; any other data dir
    // must exist before it, or ReadWritePaths= refuses to start the service.
    if (!stateDirectoryName(built.dataDir)) {
      mkdirSync(built.dataDir, { recursive: true, mode: 0o700 })
      if (owner) chownSync(built.dataDir, owner.uid, owner.gid)
    }
    // Written whole or not at all: a half-written unit must not be what systemd reads.
    const tmp = `${target}.tmp-${process.pid}`
    writeFileSync(tmp, built.unit, { mode: 0o644 })
    renameSync(tmp, target)
  } catch (err) {
    const e = err as NodeJS.ErrnoException
    io.err(`vigil service install: ${e.code === 'EACCES' || e.code === 'EPERM' ? `permission denied (${e.path ?? target}): run as root` : e.message}\n`)
    return 1
  }
  io.out(`wrote ${target}${built.user ? ` (runs as ${built.user})` : ' (runs as root)'}; data dir ${built.dataDir}\n`)
  if (!opts.enable) {
    io.out(`next:\n  systemctl daemon-reload\n  systemctl enable --now vigil\n  journalctl -u vigil -f        # its log; systemctl status vigil shows its STATUS line\n`)
    return 0
  }
  try {
    execFileSync('systemctl', ['daemon-reload'], { stdio: ['ignore', 'inherit', 'inherit'] })
    execFileSync('systemctl', ['enable', '--now', UNIT_NAME], { stdio: ['ignore', 'inherit', 'inherit'] })
  } catch (err) {
    io.err(`vigil service install: the unit is written, but systemctl failed: ${(err as Error).message}\n`)
    return 1
  }
  io.out('enabled and started: systemctl status vigil\n')
  return 0
}

export async function run(argv: string[], io: ServiceIo = processIo()): Promise<number> {
  const [action, ...rest] = argv
  if (action === undefined || action === '--help' || action === '-h' || action === 'help') {
    ;(action === undefined ? io.err : io.out)(help)
    return action === undefined ? 2 : 0
  }
  if (action !== 'print' && action !== 'install') {
    io.err(`vigil service: unknown action ${JSON.stringify(action)}\n${help}`)
    return 2
  }
  let values
  try {
    ;({ values } = parseArgs({
      args: rest,
      options: {
        user: { type: 'string' },
        'data-dir': { type: 'string' },
        config: { type: 'string', short: 'c' },
        enable: { type: 'boolean' },
        'unit-dir': { type: 'string' },
        help: { type: 'boolean', short: 'h' },
      },
      strict: true,
    }))
  } catch (err) {
    io.err(`vigil service ${action}: ${(err as Error).message}\n${help}`)
    return 2
  }
  if (values.help) {
    io.out(help)
    return 0
  }
  if (action === 'print' && (values.enable || values['unit-dir'] !== undefined)) {
    io.err('vigil service print: --enable and --unit-dir go with install\n')
    return 2
  }
  const built = build(values, io)
  if (typeof built === 'number') return built
  if (action === 'print') {
    io.out(built.unit)
    return 0
  }
  const unitDir = values['unit-dir'] !== undefined ? resolve(io.cwd, values['unit-dir']) : DEFAULT_UNIT_DIR
  const problem = unitPathProblem(unitDir)
  if (problem) {
    io.err(`vigil service install: --unit-dir ${problem}\n`)
    return 2
  }
  return install(built, { unitDir, enable: values.enable === true }, io)
}
