import t from 'tap'
import { mkdtempSync, readFileSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import type { AlertInput } from '../../../infra/alerts.js'
import { systemClock } from '../../../infra/clock.js'
import { silentLogger, type LoggerOptions } from '../../../infra/logger.js'
import { createCommandRouter } from '../../../infra/nats/commands.js'
import { createLogFiles, LogsHandle, logsChild, registerLogsCommands } from '../../../actors/logs/index.js'
import type { ChildExit } from '../../../actors/supervisor/child.js'
import { waitFor } from '../../helpers/wait.js'

const CONFIG = { vigilMaxBytes: 10_000, vigilBackups: 2, commandsMaxBytes: 5000, commandsBackups: 1, frameDropsMaxBytes: 5000, frameDropsBackups: 1 }

t.test('logs.status and logs.rotate through the router; the command log gets every command', async (t) => {
  const root = mkdtempSync(join(tmpdir(), 'vigil-logscmd-'))
  t.teardown(() => rmSync(root, { recursive: true, force: true }))
  const dir = join(root, 'logs')
  const warnings: string[] = []
  const logFiles = createLogFiles({ dir, config: CONFIG, warn: (_f, m) => warnings.push(m) })
  t.teardown(() => logFiles.close())
  // The lead's wiring compiles: createLogger({ streams: [logFiles.mainStream] }).
  const streams: LoggerOptions['streams'] = [logFiles.mainStream]
  t.equal(streams.length, 1)
  const alerts: AlertInput[] = []
  const handle = new LogsHandle(logFiles)
  const router = createCommandRouter({ node: 'logstest', log: silentLogger(), clock: systemClock, onCommand: (r) => logFiles.commandLog.write(r) })
  registerLogsCommands(router, handle)

  let reply = await router.dispatch('logs', 'status', {})
  t.match(reply, { ok: true, result: { state: 'down', healthy: true, dropped: 0, limitBytes: 10_000 * 3 + 5000 * 2 + 5000 * 2 } })

  const instance = logsChild({ logFiles, alert: (a) => alerts.push(a) }, handle)()
  const exits: ChildExit[] = []
  let ready = false
  instance.start({ onReady: () => (ready = true), onExit: (e) => exits.push(e) })
  t.ok(ready)

  logFiles.mainStream.write('{"msg":"hello"}\n')
  logFiles.frameDropLog.write({ at: 'now', reason: 'stall' })
  reply = await router.dispatch('logs', 'rotate', {})
  t.match(reply, {
    ok: true,
    result: {
      rotated: [
        { file: 'vigil.log', rotated: true },
        { file: 'commands.jsonl', rotated: true },
        { file: 'frame_drops.jsonl', rotated: true },
      ],
    },
  })
  const commands = readFileSync(join(dir, 'commands.jsonl.1'), 'utf8').trim().split('\n').map((l) => JSON.parse(l) as Record<string, unknown>)
  t.match(commands[0], { actor: 'logs', verb: 'status', code: 'OK' })
  t.equal(readFileSync(join(dir, 'vigil.log.1'), 'utf8'), '{"msg":"hello"}\n')

  reply = await router.dispatch('logs', 'status', {})
  const status = (reply as { result: { state: string; files: Array<{ file: string; files: Array<{ name: string }>; forcedRotations: number }> } }).result
  t.equal(status.state, 'open')
  t.same(status.files.map((f) => f.file), ['vigil.log', 'commands.jsonl', 'frame_drops.jsonl'])
  t.same(status.files[0]!.files.map((f) => f.name), ['vigil.log', 'vigil.log.1'])
  t.equal(status.files[0]!.forcedRotations, 1)

  instance.stop()
  // It exits once the files are flushed (real disk writes): polled, not a fixed pause.
  await waitFor(() => exits.length > 0, 5000, 'the logs child exited').catch(() => {})
  t.same(exits, [{ normal: true, reason: 'stopped' }])
  t.same(warnings, [])
  t.same(alerts, [])
})
