import { parseArgs, type ParseArgsConfig } from 'node:util'

type Options = NonNullable<ParseArgsConfig['options']>
type Values<O extends Options> = ReturnType<typeof parseArgs<{ args: string[]; options: O; strict: true }>>['values']

/**
 * A subcommand's flags (strict: an unknown or malformed flag is refused). The caller gets
 * the values, or the exit code to return at once: 2 after one line on stderr naming the
 * command and the bad flag (and the usage, with `usageOnError`), 0 after printing `help`
 * for --help / -h.
 */
export function parseFlags<O extends Options>(
  command: string,
  argv: string[],
  options: O,
  help: string,
  opts: { usageOnError?: boolean } = {},
): { values: Values<O> } | { exit: number } {
  let values: Values<O>
  try {
    values = parseArgs({ args: argv, options, strict: true }).values
  } catch (err) {
    process.stderr.write(`vigil ${command}: ${(err as Error).message}\n${opts.usageOnError ? help : ''}`)
    return { exit: 2 }
  }
  if ((values as Record<string, unknown>)['help'] === true) {
    process.stdout.write(help)
    return { exit: 0 }
  }
  return { values }
}
