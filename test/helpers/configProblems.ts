import { ConfigError } from '../../infra/config/load.js'

/** The problem lines a config load reports (none when it loads); any other error is rethrown. */
export function configProblems(fn: () => unknown): string[] {
  try {
    fn()
  } catch (err) {
    if (err instanceof ConfigError) return err.problems
    throw err
  }
  return []
}
