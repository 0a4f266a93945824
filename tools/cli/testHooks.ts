import { writeSync } from 'node:fs'
import type { Logger } from '../../infra/logger.js'

/**
 * Test-only triggers for what cannot be caused from outside a healthy rig: a fatal error
 * inside it (test/faults/fatal.test.ts) and a blocked event loop (the watchdog test). Each
 * is inert unless its environment variable is set; then SIGUSR2 fires it. Nothing here
 * is reachable over NATS or HTTP, and whoever can set a service's environment or signal
 * its process can stop it anyway (docs/SECURITY.md).
 *
 * - VIGIL_TEST_FATAL=exception (or 1) | rejection: throw from a callback / leave a rejection unhandled.
 * - VIGIL_TEST_BLOCK_LOOP_MS=N: busy-wait N ms on the event loop (a wedged loop, bounded).
 */
export function installTestHooks(env: NodeJS.ProcessEnv, log: Logger): () => void {
  const fatal = env.VIGIL_TEST_FATAL
  const fatalKind = fatal === '1' || fatal === 'exception' ? 'exception' : fatal === 'rejection' ? 'rejection' : null
  const blockMs = Number(env.VIGIL_TEST_BLOCK_LOOP_MS ?? '')
  const block = Number.isSafeInteger(blockMs) && blockMs > 0 ? Math.min(blockMs, 120_000) : null
  if (fatalKind === null && block === null) return () => {}
  log.warn({ fatal: fatalKind, blockLoopMs: block }, 'test hooks armed (VIGIL_TEST_*): SIGUSR2 fires them')
  const onSignal = () => {
    if (block !== null) {
      // Written synchronously (the logger's stream cannot flush during the block), with
      // CLOCK_MONOTONIC ms: the same clock a test's receiver stamps datagrams with.
      const monotonicMs = () => Number(process.hrtime.bigint() / 1000n) / 1000
      writeSync(2, `VIGIL_TEST_BLOCK_LOOP start=${monotonicMs()}\n`)
      const until = monotonicMs() + block
      while (monotonicMs() < until) {
        // Busy on purpose: a wedged loop runs no timer, no I/O callback, no watchdog tick.
      }
      writeSync(2, `VIGIL_TEST_BLOCK_LOOP end=${monotonicMs()}\n`)
    }
    if (fatalKind === 'exception') {
      setImmediate(() => {
        throw new Error('VIGIL_TEST_FATAL: an error thrown inside the running rig')
      })
    } else if (fatalKind === 'rejection') {
      void Promise.reject(new Error('VIGIL_TEST_FATAL: a rejection nobody handles inside the running rig'))
    }
  }
  process.on('SIGUSR2', onSignal)
  return () => process.off('SIGUSR2', onSignal)
}
