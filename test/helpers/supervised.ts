import type { SupervisedChild } from '../../actors/supervisor/index.js'

/**
 * A supervised child for tests: quick backoff without jitter, a generous intensity,
 * timeouts long enough for a loaded CI machine; `over` sets what a test is about.
 */
export function supervisedChild(id: string, factory: SupervisedChild['factory'], over: Partial<Omit<SupervisedChild, 'id' | 'factory'>> = {}): SupervisedChild {
  return {
    id,
    restart: 'permanent',
    shutdownMs: 2000,
    startTimeoutMs: 5000,
    backoff: { initialMs: 50, factor: 2, maxMs: 1000, jitter: 0, resetAfterMs: 60000 },
    intensity: { maxRestarts: 10, periodMs: 60000 },
    parkMs: 300000,
    factory,
    ...over,
  }
}
