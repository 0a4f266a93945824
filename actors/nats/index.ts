import { mkdirSync, readFileSync, writeFileSync } from 'node:fs'
import { createActor, fromCallback, fromPromise } from 'xstate'
import type { Logger } from '../../infra/logger.js'
import type { NatsCredentialOptions } from '../../infra/nats/credentials.js'
import type { OwnedProcess, ProcessOwner } from '../../infra/process.js'
import {
  natsServerMachine,
  type NatsServerEvent,
  type NatsServerInput,
  type ProbeInput,
  type RunServerCommand,
  type RunServerInput,
} from '../../machines/natsServer.machine.js'
import type { ChildFactory } from '../supervisor/child.js'
import { machineChild } from '../supervisor/machineChild.js'
import { topStateName } from '../../machines/stateName.js'
import { createNatsPinger } from './liveness.js'
import { probeNatsReady } from './readiness.js'
import { natsServerArgs, probeHost, type NatsServerConfig } from './serverArgs.js'
import { embeddedServerConf } from './serverConf.js'

export type { NatsServerConfig } from './serverArgs.js'
export { natsServerArgs } from './serverArgs.js'

export interface NatsServerDeps {
  config: NatsServerConfig
  processes: ProcessOwner
  log: Logger
  /** Readiness poll period. */
  probeEveryMs?: number
  /** How long a stop may take before the process is killed (the machine's `stopGrace`). */
  stopGraceMs?: number
  /** Liveness probe period while running (`nats.probeIntervalMs`). */
  probeIntervalMs?: number
  /** Consecutive missed probes before the server counts as dead (`nats.probeMisses`). */
  probeMisses?: number
  /** How the liveness probe logs in: the rig's own credential (`nats.auth`), the only one the server admits. */
  probeCredentials?: NatsCredentialOptions
  /** A probe missed (the server may be frozen), and the first answer after misses. */
  onNotAnswering?: () => void
  onAnsweringAgain?: () => void
}

const SERVER_LOG_LEVEL = /\[(FTL|ERR|WRN)\]/

/** The nats-server machine with its process provided: `runServer` owns one nats-server. */
export function createNatsServerActor(deps: NatsServerDeps) {
  const { config, processes, log } = deps
  const probeEveryMs = deps.probeEveryMs ?? 50
  const pinger = createNatsPinger({ host: probeHost(config.host), ...(deps.probeCredentials ? { credentials: deps.probeCredentials } : {}) })

  const runServer = fromCallback<RunServerCommand, RunServerInput>(({ sendBack, receive }) => {
    // Events go out on a later tick, never from inside the parent's own transition.
    let disposed = false
    const report = (event: NatsServerEvent) => {
      queueMicrotask(() => {
        if (!disposed) sendBack(event)
      })
    }
    let proc: OwnedProcess | undefined
    let timer: NodeJS.Timeout | undefined

    try {
      mkdirSync(config.storeDir, { recursive: true })
      // Written on every start, so a changed nats.conf or credential is what the server reads.
      if ((config.auth || config.mqtt) && config.runConfFile) {
        const mqtt = config.mqtt ? { ...config.mqtt, host: config.host } : null
        writeFileSync(config.runConfFile, embeddedServerConf(readFileSync(config.confFile, 'utf8'), config.auth ?? null, { mqtt }), { mode: 0o600 })
      }
      proc = processes.spawn(config.binary, natsServerArgs(config), {
        name: 'nats-server',
        log,
        onStderrLine: (line) => {
          const level = SERVER_LOG_LEVEL.exec(line)?.[1]
          if (level === 'FTL' || level === 'ERR') log.error({ line }, 'nats-server')
          else if (level === 'WRN') log.warn({ line }, 'nats-server')
          else log.debug({ line }, 'nats-server')
        },
      })
    } catch (err) {
      const e = err as NodeJS.ErrnoException
      report({ type: 'SERVER.EXITED', reason: `could not start: ${e.message}`, stderr: '' })
      return () => {
        disposed = true
      }
    }
    const server = proc
    if (server.pid > 0) {
      log.info({ pid: server.pid, port: config.port, mqttPort: config.mqtt?.port ?? null, host: config.host }, 'nats-server started')
      report({ type: 'SERVER.SPAWNED', pid: server.pid })
    }

    void server.exited.then((info) => {
      clearTimeout(timer)
      timer = undefined
      if (disposed) return
      const stderr = server.stderrTail()
      log.info({ pid: server.pid, reason: info.reason }, 'nats-server exited')
      report({ type: 'SERVER.EXITED', reason: info.reason, normal: info.normal, stderr })
    })

    const poll = () => {
      timer = undefined
      void probeNatsReady({ pid: server.pid, portsFileDir: config.storeDir, host: probeHost(config.host) }).then((port) => {
        if (disposed || !server.isRunning()) return
        if (port !== null) {
          log.info({ pid: server.pid, port }, 'nats-server ready')
          report({ type: 'SERVER.READY', pid: server.pid, port })
          return
        }
        timer = setTimeout(poll, probeEveryMs)
      })
    }
    if (server.pid > 0) timer = setTimeout(poll, probeEveryMs)

    receive((event) => {
      // SIGTERM: nats-server closes clients and flushes JetStream; the machine's
      // stopGrace bounds how long that may take.
      if (event.type === 'STOP') server.signal('SIGTERM')
    })

    return () => {
      disposed = true
      pinger.close()
      clearTimeout(timer)
      timer = undefined
      if (server.isRunning()) server.signal('SIGKILL')
    }
  })

  const probeTimeoutMs = Math.max(200, Math.min(1000, Math.floor((deps.probeIntervalMs ?? 2000) / 2)))
  const probe = fromPromise<void, ProbeInput>(async ({ input, signal }) => {
    if (input.port === null) throw new Error('port unknown')
    try {
      await pinger.ping(input.port, probeTimeoutMs, signal)
    } catch (err) {
      log.warn({ err: (err as Error).message, port: input.port }, 'nats-server health probe missed')
      throw err
    }
  })

  return natsServerMachine.provide({ actors: { runServer, probe } })
}

/** The supervisor's child: every (re)start gets a fresh actor and a fresh process. */
export function natsServerChild(deps: NatsServerDeps): ChildFactory {
  const machine = createNatsServerActor(deps)
  const input: NatsServerInput = {
    ...(deps.stopGraceMs !== undefined ? { stopGraceMs: deps.stopGraceMs } : {}),
    ...(deps.probeIntervalMs !== undefined ? { probeIntervalMs: deps.probeIntervalMs } : {}),
    ...(deps.probeMisses !== undefined ? { probeMisses: deps.probeMisses } : {}),
  }
  const create = () => {
    const actor = createActor(machine, { input })
    if (deps.onNotAnswering) actor.on('notAnswering', deps.onNotAnswering)
    if (deps.onAnsweringAgain) actor.on('answeringAgain', deps.onAnsweringAgain)
    return actor
  }
  // `running` has probe substates; operators read the top-level name.
  return () => machineChild(create, { stateName: topStateName })
}
