import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import type { FastifyInstance } from 'fastify'
import { createActor, fromCallback } from 'xstate'
import { AlertLog } from '../../../infra/alerts.js'
import { systemClock } from '../../../infra/clock.js'
import { createManualDisk } from '../../../infra/disk.js'
import { createFeed } from '../../../infra/feed.js'
import { silentLogger } from '../../../infra/logger.js'
import { createCommandRouter } from '../../../infra/nats/commands.js'
import { createSupervisor, type SupervisedChild } from '../../../actors/supervisor/index.js'
import { machineChild } from '../../../actors/supervisor/machineChild.js'
import { createWebMetrics, webChild } from '../../../actors/web/index.js'
import { inspectPlugin } from '../../../actors/inspect/routes.js'
import { cameraMachine, type FfmpegCommand, type FfmpegEvent } from '../../../machines/camera.machine.js'
import { supervisedChild } from '../../helpers/supervised.js'
import { waitFor } from '../../helpers/wait.js'
import { PreviewState } from '../../../infra/preview.js'

export const TOKEN = 'inspect-test-token-0123456789'

/**
 * The real camera machine with its ffmpeg replaced by a callback the test drives
 * (`frame()`), and the real web machine serving the inspector through
 * WebServerDeps.plugins, exactly as the rig wires it.
 */
export async function startInspectRig() {
  const root = await mkdtemp(join(tmpdir(), 'vigil-inspect-'))
  const log = silentLogger()
  const feed = createFeed()
  const alerts = new AlertLog({ node: 'inspecttest' })
  const ffmpegs: Array<{ frame(): void; die(): void }> = []
  const runFfmpeg = fromCallback<FfmpegCommand, { attempt: number }>(({ sendBack, receive }) => {
    const send = (e: FfmpegEvent) => sendBack(e)
    ffmpegs.push({
      frame: () => send({ type: 'FRAME' }),
      // As if its process were killed: the camera machine decides what follows.
      die: () => send({ type: 'FFMPEG.EXITED', reason: 'killed by SIGKILL', normal: false, stderr: '' }),
    })
    // A first frame at once: the camera is streaming (and so ready for the supervisor).
    queueMicrotask(() => send({ type: 'FRAME' }))
    receive((cmd) => send({ type: 'FFMPEG.EXITED', reason: cmd.type === 'QUIT' ? 'quit' : 'killed', normal: cmd.type === 'QUIT', stderr: '' }))
  })
  const spec = (id: string, factory: SupervisedChild['factory']) => supervisedChild(id, factory, { backoff: { initialMs: 50, factor: 2, maxMs: 500, jitter: 0, resetAfterMs: 60000 } })

  let app: FastifyInstance | undefined
  let port = 0
  const supervisor = createSupervisor({
    log,
    alert: () => {},
    children: [
      spec('camera', () =>
        machineChild(() =>
          createActor(cameraMachine.provide({ actors: { runFfmpeg } }), {
            // A long reconnect backoff: `reconnecting` stays long enough to be seen.
            input: { frameTimeoutMs: 60000, backoff: { initialMs: 30000, maxMs: 30000 } },
          }) as never,
        ),
      ),
      spec(
        'web',
        webChild({
          config: { host: '127.0.0.1', port: 0, token: TOKEN },
          node: 'inspecttest',
          log,
          router: createCommandRouter({ node: 'inspecttest', log, clock: systemClock }),
          alerts,
          alert: () => {},
          feed,
          preview: new PreviewState(),
          supervisor: () => supervisor,
          dirs: { recordings: root, snapshots: root },
          ports: { flv: 18000 },
          disk: createManualDisk(50 * 1024 ** 3, 100 * 1024 ** 3),
          stopBelowBytes: 1024,
          natsConnected: () => true,
          metrics: createWebMetrics({ node: 'inspecttest' }),
          // The wiring under test: the rig passes the same plugin.
          plugins: [inspectPlugin({ supervisor: () => supervisor, secrets: [TOKEN] })],
          onListening: (a) => {
            app = a
            const address = a.server.address()
            port = typeof address === 'object' && address ? address.port : 0
          },
        }),
      ),
    ],
  })
  supervisor.start()
  await waitFor(() => app !== undefined && supervisor.state() === 'running', 10000, 'web listening and supervisor running')
  return {
    supervisor,
    ffmpegs,
    /**
     * The camera's ffmpeg dies twice in a row, so the camera waits in `reconnecting` (30 s
     * here): the first reconnect after a stable stream is immediate (DESIGN.md §9.5), too
     * short a state to look at.
     */
    async dieIntoBackoff() {
      const before = ffmpegs.length
      ffmpegs.at(-1)!.die()
      const deadline = Date.now() + 5000
      while (ffmpegs.length === before) {
        if (Date.now() > deadline) throw new Error('the camera did not start a new ffmpeg after the first exit')
        await new Promise((r) => setTimeout(r, 10))
      }
      ffmpegs.at(-1)!.die()
    },
    url: (path: string) => `http://127.0.0.1:${port}${path}`,
    async stop() {
      await supervisor.shutdown()
      await rm(root, { recursive: true, force: true })
    },
  }
}

