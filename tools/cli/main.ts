import { existsSync } from 'node:fs'
import { fileURLToPath } from 'node:url'
import { parseArgs } from 'node:util'
import { redactCredentials, redactSecrets } from '../../infra/redaction.js'
import { binaryNames, type BinaryName } from '../../infra/binaries.js'
import { ensureBinaries } from '../ensureBinaries.js'
import { configOptions, loadConfigFromArgs } from './configArgs.js'
import { describeAuth } from '../../infra/config/natsAuth.js'
import { webhookOrigin } from '../../infra/config/webhooks.js'

/** Subcommands that live in their own module `./<name>.ts` exporting `run(argv)`. */
const moduleCommands = ['start', 'cmd', 'alerts', 'status', 'inspect', 'bench', 'nats-config', 'fleet', 'passwd', 'service', 'soak', 'recordings'] as const
type ModuleCommand = (typeof moduleCommands)[number]

export const usage = `usage: vigil <command> [options]

commands:
  start              run the supervisor (no config: the embedded demo on http://127.0.0.1:8080)
  cmd                send a command: vigil cmd <actor> <verb> [args], e.g. vigil cmd recorder start --name nap
  alerts             list alerts; --follow to stream them from every node
  status             show a node's supervisor status (children, pids, ports)
  inspect            look at the live statecharts of every actor
  ensure-binaries    check ffmpeg, ffprobe and nats-server; install the Debian packages where allowed
  check-config       validate the config (--config FILE, VIGIL_* env) and print the resolved node and data dir
  passwd             hash a password for web.users (read from stdin, never from argv)
  service            print or install a systemd unit (Type=notify, watchdog, hardening): vigil service print|install
  bench              run the benchmarks
  soak               use a real rig for an hour and judge its memory, fds, handles and processes: vigil soak --minutes 60
  nats-config        write a nats-server config with one identity per rig and operator (--rigs a,b --operators ops --out DIR)
  fleet init         create the JetStream streams rigs publish into and the recordings bucket (an operator's identity)
  recordings pull    fetch an uploaded session back, digests checked: vigil recordings pull <node>/<session> --to DIR
  help [command]     this text, or a command's own help

config: --config FILE (or VIGIL_CONFIG, or ./vigil.config.json); every VIGIL_* variable overrides the file.
`

export interface MainIo {
  out: (text: string) => void
  err: (text: string) => void
}

const stdio: MainIo = {
  out: (text) => process.stdout.write(text),
  err: (text) => process.stderr.write(text),
}

/** Parses argv, reporting a bad flag as a usage error (exit 2) instead of a stack trace. */
function parseOrReport<T>(command: string, parse: () => T, io: MainIo): T | null {
  try {
    return parse()
  } catch (err) {
    io.err(`vigil ${command}: ${(err as Error).message}\n`)
    return null
  }
}

async function ensureBinariesCommand(argv: string[], io: MainIo): Promise<number> {
  const parsed = parseOrReport(
    'ensure-binaries',
    () =>
      parseArgs({
        args: argv,
        options: {
          need: { type: 'string', multiple: true },
          install: { type: 'boolean' },
          'no-install': { type: 'boolean' },
          help: { type: 'boolean', short: 'h' },
        },
        strict: true,
      }),
    io,
  )
  if (!parsed) return 2
  const { values } = parsed
  if (values.help) {
    io.out(`usage: vigil ensure-binaries [--need ffmpeg,ffprobe,nats-server] [--install | --no-install]

Finds each binary (FFMPEG_PATH / FFPROBE_PATH / NATS_SERVER_BIN, ffmpeg-static, PATH, /usr/sbin).
Missing ones are installed with apt-get when running as root on Linux and either CI is set,
stdin is a terminal, VIGIL_INSTALL=1 or --install is given. Exit 1 names what is still missing.
`)
    return 0
  }
  const need = (values.need ?? []).flatMap((v) => v.split(',')).map((v) => v.trim()).filter(Boolean)
  const unknown = need.filter((n) => !(binaryNames as readonly string[]).includes(n))
  if (unknown.length > 0) {
    io.err(`vigil ensure-binaries: unknown binary ${unknown.join(', ')} (known: ${binaryNames.join(', ')})\n`)
    return 2
  }
  const install = values.install ? true : values['no-install'] ? false : undefined
  const result = await ensureBinaries({
    ...(need.length > 0 ? { need: need as BinaryName[] } : {}),
    ...(install !== undefined ? { install } : {}),
    log: (line) => io.err(`${line}\n`),
  })
  return result.exitCode
}

async function checkConfigCommand(argv: string[], io: MainIo): Promise<number> {
  const parsed = parseOrReport(
    'check-config',
    () =>
      parseArgs({
        args: argv,
        options: { ...configOptions, json: { type: 'boolean' }, help: { type: 'boolean', short: 'h' } },
        strict: true,
      }),
    io,
  )
  if (!parsed) return 2
  const { values } = parsed
  if (values.help) {
    io.out(`usage: vigil check-config [--config FILE] [--node NAME] [--json]

Loads the config exactly as start does and reports every bad field with its path (exit 2).
--json prints the whole resolved config (secrets and URL credentials redacted).
`)
    return 0
  }
  const loaded = loadConfigFromArgs(values, { write: io.err })
  if ('exitCode' in loaded) return loaded.exitCode
  const { config } = loaded
  if (values.json) {
    // Every secret field (web.token, nats.auth, users' hashes) and every URL's credentials.
    io.out(`${JSON.stringify(redactSecrets(config), null, 2)}\n`)
    return 0
  }
  const nats = config.nats.servers.length > 0 ? redactCredentials(config.nats.servers.join(',')) : `embedded on ${config.nats.host}:${config.nats.port}`
  const { webTlsMode } = await import('../../actors/web/security/tls.js')
  const scheme = webTlsMode(config.web.tls, config.web.host, config.dataDir).kind === 'off' ? 'http' : 'https'
  io.out(`config ok\nnode: ${config.node}\ndataDir: ${config.dataDir}\nnats: ${nats}\nnats auth: ${describeAuth(config.nats.auth)}${config.nats.tls ? `, TLS (CA ${config.nats.tls.ca})` : ''}\nweb: ${scheme}://${config.web.host}:${config.web.port}\n`)
  // Receivers by origin only: a URL's path may be the secret (an ntfy topic).
  const hooks = config.notify.webhooks.map((w, i) => `webhook-${i + 1} ${webhookOrigin(w.url)} ${w.format}${w.secret ? ' signed' : ''}: ${w.events.join(',')}`)
  io.out(`webhooks: ${hooks.length === 0 ? 'none' : hooks.join('; ')}\n`)
  const { mqttEndpoint } = await import('../../actors/mqtt/endpoint.js')
  const listener = config.nats.servers.length === 0 ? `listener ${config.nats.host}:${config.nats.mqttPort}` : 'no listener (nats.servers)'
  const publisher = mqttEndpoint(config, config.nats.mqttPort)
  const discovery = 'off' in publisher ? `off (${publisher.off})` : `${publisher.endpoint.host}:${publisher.endpoint.port}${publisher.endpoint.username ? ` as ${publisher.endpoint.username}` : ''}`
  io.out(`mqtt: ${listener}; Home Assistant discovery: ${discovery}\n`)
  return 0
}

/**
 * Each remaining subcommand is its own module, loaded only when asked for, so a
 * quick `vigil status` does not load the whole supervisor.
 */
async function moduleCommand(name: ModuleCommand, argv: string[], io: MainIo): Promise<number> {
  const url = new URL(`./${name}.ts`, import.meta.url)
  let mod: { run?: unknown }
  try {
    mod = (await import(url.href)) as { run?: unknown }
  } catch (err) {
    // Only "this command's file is not there" means not built yet; a missing import
    // inside an existing command is a real failure and keeps its stack.
    if ((err as NodeJS.ErrnoException).code === 'ERR_MODULE_NOT_FOUND' && !existsSync(fileURLToPath(url))) {
      io.err(`vigil ${name}: not available yet\n`)
      return 1
    }
    throw err
  }
  if (typeof mod.run !== 'function') {
    io.err(`vigil ${name}: not available yet (${name}.ts exports no run)\n`)
    return 1
  }
  const code: unknown = await (mod.run as (argv: string[]) => Promise<number>)(argv)
  return typeof code === 'number' ? code : 0
}

const isModuleCommand = (name: string): name is ModuleCommand => (moduleCommands as readonly string[]).includes(name)

/** The `vigil` CLI. Returns the process exit code: 0 ok, 1 failure, 2 usage or config error. */
export async function main(argv: string[], io: MainIo = stdio): Promise<number> {
  const [command, ...rest] = argv
  if (command === undefined) {
    io.err(usage)
    return 2
  }
  if (command.startsWith('-')) {
    // The only flag before a command is --help; anything else is a usage mistake.
    const help = command === '--help' || command === '-h'
    ;(help ? io.out : io.err)(usage)
    return help ? 0 : 2
  }
  switch (command) {
    case 'help': {
      const topic = rest[0]
      if (topic === undefined) {
        io.out(usage)
        return 0
      }
      return main([topic, '--help'], io)
    }
    case 'ensure-binaries':
      return ensureBinariesCommand(rest, io)
    case 'check-config':
      return checkConfigCommand(rest, io)
    default:
      if (isModuleCommand(command)) return moduleCommand(command, rest, io)
      io.err(`vigil: unknown command "${command}"\n\n${usage}`)
      return 2
  }
}
