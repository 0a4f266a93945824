import { ConfigError, loadConfig, type LoadOptions } from '../../infra/config/load.js'
import type { Config } from '../../infra/config/schema.js'

/** The flags every config-reading subcommand accepts, for `parseArgs({ options })`. */
export const configOptions = {
  config: { type: 'string', short: 'c' },
  node: { type: 'string' },
} as const

export interface ConfigArgs {
  config?: string | undefined
  node?: string | undefined
}

export type ConfigFromArgs = { config: Config } | { exitCode: 2 }

export interface ConfigFromArgsOptions {
  env?: NodeJS.ProcessEnv
  cwd?: string
  /** Where the problem list goes; default: stderr. */
  write?: (text: string) => void
}

/**
 * Loads the config named by --config / VIGIL_CONFIG / ./vigil.config.json with
 * --node winning over the rest. An invalid config is printed (every bad field with
 * its path) and becomes exit code 2, which the caller returns.
 */
export function loadConfigFromArgs(values: ConfigArgs, opts: ConfigFromArgsOptions = {}): ConfigFromArgs {
  const write = opts.write ?? ((text: string) => process.stderr.write(text))
  const load: LoadOptions = {}
  if (values.config !== undefined) load.file = values.config
  if (values.node !== undefined) load.overrides = { node: values.node }
  if (opts.env !== undefined) load.env = opts.env
  if (opts.cwd !== undefined) load.cwd = opts.cwd
  try {
    return { config: loadConfig(load) }
  } catch (err) {
    if (!(err instanceof ConfigError)) throw err
    write(`vigil: ${err.message}\n`)
    return { exitCode: 2 }
  }
}
