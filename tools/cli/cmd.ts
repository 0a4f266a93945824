import { randomUUID } from 'node:crypto'
import { parseArgs } from 'node:util'
import type { NatsConnection } from '@nats-io/transport-node'
import { command, type RequestResult } from '../../infra/nats/client.js'
import { errorReply } from '../../infra/nats/envelope.js'
import { clientOptions, clientTarget, connectClient, type ClientTarget } from './natsArgs.js'
import { isRetryable, parseTries, retryDelayMs } from './retrySchedule.js'

const help = `usage: vigil cmd <actor> <verb> [--json '{…}' | --<arg> <value> …] [--idempotency-key K]
                 [--node N] [--server URL] [--timeout MS] [--retries N] [--config F]
                 [--nkey SEEDFILE | --user U | --creds F] [--ca CAFILE]   (password, token: env only)

Sends a command to a rig (request on vigil.<node>.cmd.<actor>.<verb>) and prints the reply.
Exit 0 when the reply is ok, 1 when it is an error (its code is printed), 2 on bad usage.

A reply of TIMEOUT or UNAVAILABLE (no reply in time, no responder, a cut connection) is
tried again with backoff (0.5 s, 1 s, 2 s …), each try noted on stderr: --retries N tries
in all (default 3; 1 = no retry). Every try carries the same idempotency key (--idempotency-key,
or one made for this run), so a command the rig did run but whose reply was lost is not run
twice: the retry gets the first reply. Each try carries a deadline of now + --timeout: a
try the rig could not begin in time is never run later.

examples:
  vigil cmd supervisor status
  vigil cmd recorder start --name nap
  vigil cmd supervisor restart --child camera
  vigil cmd motion configure --json '{"threshold":0.05}'
`

/** `--name nap --limit 5` → { name: "nap", limit: 5 }: a value that parses as JSON keeps its type. */
export function parseArgPairs(rest: string[]): { args: Record<string, unknown> } | { error: string } {
  // Entries, not `args[key] =`: `--__proto__ …` must become a key the rig refuses, not this object's prototype.
  const args = new Map<string, unknown>()
  for (let i = 0; i < rest.length; i++) {
    const flag = rest[i]!
    if (!flag.startsWith('--') || flag.length < 3) return { error: `expected --<arg> <value>, got ${JSON.stringify(flag)}` }
    const eq = flag.indexOf('=')
    const key = eq > 0 ? flag.slice(2, eq) : flag.slice(2)
    let raw: string
    if (eq > 0) raw = flag.slice(eq + 1)
    else if (i + 1 < rest.length && !rest[i + 1]!.startsWith('--')) raw = rest[++i]!
    else raw = 'true'
    args.set(key, parseValue(raw))
  }
  return { args: Object.fromEntries(args) }
}

function parseValue(raw: string): unknown {
  if (/^(-?\d+(\.\d+)?|true|false|null)$/.test(raw) || raw.startsWith('{') || raw.startsWith('[')) {
    try {
      return JSON.parse(raw)
    } catch {
      return raw
    }
  }
  return raw
}

export async function run(argv: string[]): Promise<number> {
  const [actor, verb, ...rest] = argv
  if (!actor || actor === '--help' || actor === '-h' || actor === 'help') {
    process.stdout.write(help)
    return actor ? 0 : 2
  }
  if (!verb) {
    process.stderr.write(`vigil cmd: missing the verb after ${actor}\n${help}`)
    return 2
  }
  // Client flags are ours; every other --flag is a command argument.
  const own = new Set(['--node', '--server', '-s', '--timeout', '--retries', '--config', '-c', '--json', '--idempotency-key', '--user', '--nkey', '--creds', '--ca'])
  const clientArgv: string[] = []
  const argPairs: string[] = []
  let json: string | undefined
  let idempotencyKey: string | undefined
  let retries: string | undefined
  for (let i = 0; i < rest.length; i++) {
    const a = rest[i]!
    const name = a.includes('=') ? a.slice(0, a.indexOf('=')) : a
    if (!own.has(name)) {
      argPairs.push(a)
      continue
    }
    const value = a.includes('=') ? a.slice(a.indexOf('=') + 1) : rest[++i]
    if (value === undefined) {
      process.stderr.write(`vigil cmd: ${name} needs a value\n`)
      return 2
    }
    if (name === '--json') json = value
    else if (name === '--idempotency-key') idempotencyKey = value
    else if (name === '--retries') retries = value
    else clientArgv.push(name, value)
  }
  const { values } = parseArgs({ args: clientArgv, options: clientOptions, strict: true })
  let args: Record<string, unknown>
  if (json !== undefined) {
    if (argPairs.length > 0) {
      process.stderr.write('vigil cmd: give the arguments either as --json or as --<arg> <value>, not both\n')
      return 2
    }
    try {
      const parsed: unknown = JSON.parse(json)
      if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) throw new Error('not a JSON object')
      args = parsed as Record<string, unknown>
    } catch (err) {
      process.stderr.write(`vigil cmd: --json must be a JSON object: ${(err as Error).message}\n`)
      return 2
    }
  } else {
    const pairs = parseArgPairs(argPairs)
    if ('error' in pairs) {
      process.stderr.write(`vigil cmd: ${pairs.error}\n`)
      return 2
    }
    args = pairs.args
  }
  const tries = parseTries(retries)
  if (typeof tries !== 'number') {
    process.stderr.write(`vigil cmd: ${tries.error}\n`)
    return 2
  }
  const target = clientTarget(values)
  if ('exitCode' in target) return target.exitCode
  let nc = await connectClient(target)
  if (!nc) return 1
  // One key for every try. Sent on every verb: the rig ignores it on a read-only one, so
  // the CLI needs no list of which verbs change something.
  const key = idempotencyKey ?? `cli-${randomUUID()}`
  try {
    let reply!: RequestResult
    for (let n = 1; n <= tries; n++) {
      reply = await attempt(nc, target, actor, verb, args, key)
      if (reply.ok || !isRetryable(reply.error) || n === tries) break
      const wait = retryDelayMs(n + 1)
      process.stderr.write(`vigil cmd: try ${n} of ${tries}: ${reply.error.code}: ${reply.error.message}; trying again in ${(wait / 1000).toFixed(1)} s (idempotency key ${key})\n`)
      await new Promise((r) => setTimeout(r, wait))
      // A cut link closes the connection (the CLI does not reconnect on its own): dial again.
      if (nc.isClosed()) {
        await nc.close().catch(() => undefined)
        const again = await connectClient(target)
        if (!again) continue
        nc = again
      }
    }
    const { traceId, ...body } = reply
    process.stdout.write(`${JSON.stringify(body, null, 2)}\n`)
    if (!body.ok) process.stderr.write(`vigil cmd: ${body.error.code}: ${body.error.message} (trace ${traceId})\n`)
    return body.ok ? 0 : 1
  } finally {
    await nc.close()
  }
}

/** One try: the rig must begin it by now + --timeout (its clock), or never. */
async function attempt(nc: NatsConnection, target: ClientTarget, actor: string, verb: string, args: Record<string, unknown>, key: string): Promise<RequestResult> {
  if (nc.isClosed()) return { ...errorReply('UNAVAILABLE', 'the connection to NATS is closed'), traceId: '-' }
  const opts = { timeoutMs: target.timeoutMs, idempotencyKey: key }
  const reply = await command(nc, target.node, actor, verb, args, { ...opts, deadline: Date.now() + target.timeoutMs })
  // A rig from before deadlines refuses the field: ask it the old way, once.
  const fields = !reply.ok && reply.error.code === 'BAD_REQUEST' ? (reply.error.details?.['fields'] as Array<{ path?: string }> | undefined) : undefined
  if (fields?.some((f) => f.path === '/deadline')) return command(nc, target.node, actor, verb, args, opts)
  return reply
}
