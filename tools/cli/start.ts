import { parseArgs } from 'node:util'
import { ConfigError } from '../../infra/config/load.js'
import { createLogger } from '../../infra/logger.js'
import { createLogFiles, logsDirOf } from '../../actors/logs/index.js'
import { PRIVATE_UMASK } from '../../infra/config/load.js'
import { startRig, RigStartError, type Rig } from '../../actors/rig/index.js'
import { startSystemdNotifier } from '../../actors/systemd/index.js'
import { ProcessOwner } from '../../infra/process.js'
import { configOptions, loadConfigFromArgs } from './configArgs.js'
import { EXIT_FATAL, installFatalHandlers } from './fatal.js'
import { installTestHooks } from './testHooks.js'

const help = `usage: vigil start [--config FILE] [--node NAME] [--inspect stately] [--stately-url ws://HOST:PORT]

Runs the supervisor tree. With no config: the embedded demo (its own nats-server,
a synthetic camera, web UI on http://127.0.0.1:8080). SIGTERM or SIGINT stops it in
order (exit 0); a second signal, or shutdown.timeoutMs passing, forces it (exit 1).
An invalid config exits 2 listing every bad field. An uncaught exception or unhandled
rejection is logged (fatal, with its stack), stops the rig in the same order and exits 70.
Under systemd (NOTIFY_SOCKET set) it reports READY, STATUS, WATCHDOG and STOPPING.

--inspect stately   also stream every actor (redacted) to Stately's inspector server
--stately-url URL   where that server listens (implies --inspect stately); default
                    ws://localhost:8080, the web UI's default port: move one of them
`

export async function run(argv: string[]): Promise<number> {
  let values
  try {
    ;({ values } = parseArgs({
      args: argv,
      options: { ...configOptions, inspect: { type: 'string' }, 'stately-url': { type: 'string' }, help: { type: 'boolean', short: 'h' } },
      strict: true,
    }))
  } catch (err) {
    process.stderr.write(`vigil start: ${(err as Error).message}\n${help}`)
    return 2
  }
  if (values.help) {
    process.stdout.write(help)
    return 0
  }
  if (values.inspect !== undefined && values.inspect !== 'stately' && values.inspect !== 'none') {
    process.stderr.write(`vigil start: --inspect takes "stately" (got ${JSON.stringify(values.inspect)})\n`)
    return 2
  }
  const statelyUrl = values['stately-url']
  if (statelyUrl !== undefined) {
    const problem = wsUrlProblem(statelyUrl)
    if (problem) {
      process.stderr.write(`vigil start: --stately-url ${problem} (got ${JSON.stringify(statelyUrl)})\n`)
      return 2
    }
    if (values.inspect === 'none') {
      process.stderr.write('vigil start: --stately-url streams to Stately\'s inspector; it cannot go with --inspect none\n')
      return 2
    }
  }
  const loaded = loadConfigFromArgs(values)
  if ('exitCode' in loaded) return loaded.exitCode
  const config = loaded.config
  if (values.inspect) config.inspect = values.inspect as 'stately' | 'none'
  if (statelyUrl !== undefined) config.inspect = 'stately'
  // Private by default, before the first file: recordings, snapshots and logs are the
  // household's, and the children (ffmpeg writing segments, nats-server, node-media-server)
  // inherit the mask. startRig sets it too, for rigs started without this CLI.
  process.umask(PRIVATE_UMASK)
  // The log files first, so vigil.log gets every line the rig writes, its start included.
  let logFiles
  try {
    logFiles = createLogFiles({ dir: logsDirOf(config.dataDir), config: config.logs })
  } catch (err) {
    process.stderr.write(`vigil: cannot open the log files under ${logsDirOf(config.dataDir)}: ${(err as Error).message}\n`)
    return 2
  }
  const log = createLogger({ level: config.logs.level, base: { node: config.node }, streams: [logFiles.mainStream] })
  const flushLogs = async () => {
    await new Promise<void>((resolve) => log.flush(() => resolve()))
    await logFiles.close()
  }

  // From here to the exit: the watchdog pings while the tree starts, and a fatal error at
  // any point still ends in an ordered stop and exit 70.
  const notifier = startSystemdNotifier({ log })
  const processes = new ProcessOwner()
  let rig: Rig | undefined
  let fatalBeforeRig!: () => void
  const beforeRig = new Promise<'fatal'>((resolve) => {
    fatalBeforeRig = () => resolve('fatal')
  })
  const fatal = installFatalHandlers({
    log,
    onFirst: (info) => {
      notifier?.stopping(`fatal ${info.kind}, trace ${info.traceId}`)
      if (rig) rig.requestShutdown(`fatal ${info.kind} (trace ${info.traceId})`)
      else fatalBeforeRig()
    },
    // The rig's second request forces: kills what is left, exits.
    onAgain: (info) => (rig ? rig.requestShutdown(`another fatal ${info.kind}`) : fatalBeforeRig()),
  })
  const removeTestHooks = installTestHooks(process.env, log)
  const onSignal = (signal: NodeJS.Signals) => {
    notifier?.stopping(`signal ${signal}`)
    rig?.requestShutdown(signal)
  }
  try {
    let started: Rig | 'fatal'
    const starting = startRig({ config, log, logFiles, processes, ...(statelyUrl !== undefined ? { statelyUrl } : {}) })
    // When a fatal error wins the race, a later failure of the start is moot, not a second crash.
    starting.catch(() => {})
    try {
      started = await Promise.race([starting, beforeRig])
    } catch (err) {
      if (err instanceof ConfigError || err instanceof RigStartError) {
        process.stderr.write(`vigil: ${err.message}\n`)
        log.flush()
        return err instanceof ConfigError ? 2 : 1
      }
      throw err
    }
    if (started === 'fatal') {
      // No rig to stop in order yet: end what the half-started one spawned.
      processes.killAll()
      await flushLogs()
      return EXIT_FATAL
    }
    rig = started
    notifier?.follow(rig)
    process.on('SIGTERM', onSignal)
    process.on('SIGINT', onSignal)
    const code = await rig.exited
    await notifier?.close()
    await flushLogs()
    return fatal.first ? EXIT_FATAL : code
  } finally {
    process.off('SIGTERM', onSignal)
    process.off('SIGINT', onSignal)
    removeTestHooks()
    fatal.remove()
    await notifier?.close()
  }
}

/** Why `value` is not a WebSocket URL, or undefined when it is one. */
function wsUrlProblem(value: string): string | undefined {
  let url: URL
  try {
    url = new URL(value)
  } catch {
    return 'must be a URL like ws://127.0.0.1:8090'
  }
  if (url.protocol !== 'ws:' && url.protocol !== 'wss:') return `must be a ws:// or wss:// URL, not ${url.protocol}`
  return undefined
}
