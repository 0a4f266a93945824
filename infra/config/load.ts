import { readFileSync, mkdirSync, accessSync, chmodSync, statSync, constants } from 'node:fs'
import { hostname } from 'node:os'
import { resolve, dirname, isAbsolute } from 'node:path'
import { Value, ValueErrorType, type ValueError } from '@sinclair/typebox/value'
import { ConfigSchema, type Config } from './schema.js'
import { cameraCodecProblems, parseAudioSource, parseCameraSource, type CodecChoice } from '../sources.js'
import { isSecretKey, redactCredentials } from '../redaction.js'
import { jsonShapeProblem } from '../jsonShape.js'
import { toNodeName } from '../subjects.js'
import { webhookProblems, withEnvWebhook } from './webhooks.js'
import { natsAuthProblems, natsEnvLayer, resolveNatsFiles, withoutReplacedAuth } from './natsAuth.js'

/** A config that cannot run: `problems` lists every bad field with its path. Exit code 2. */
export class ConfigError extends Error {
  readonly problems: string[]
  constructor(message: string, problems: string[]) {
    super(problems.length ? `${message}\n${problems.map((p) => `  - ${p}`).join('\n')}` : message)
    this.name = 'ConfigError'
    this.problems = problems
  }
}

export interface LoadOptions {
  /** Path given by --config; else VIGIL_CONFIG; else ./vigil.config.json when it exists. */
  file?: string
  env?: NodeJS.ProcessEnv
  /** Overrides that win over file and env (CLI flags such as --node). */
  overrides?: Record<string, unknown>
  cwd?: string
}

type EnvRule = { path: string[]; kind: 'string' | 'int' | 'list' | 'bool' }

/** The VIGIL_* variables that are part of the interface (DESIGN.md §7). */
export const envRules: Record<string, EnvRule> = {
  VIGIL_NODE: { path: ['node'], kind: 'string' },
  VIGIL_DATA_DIR: { path: ['dataDir'], kind: 'string' },
  VIGIL_NATS_SERVERS: { path: ['nats', 'servers'], kind: 'list' },
  VIGIL_NATS_PORT: { path: ['nats', 'port'], kind: 'int' },
  VIGIL_MQTT_PORT: { path: ['nats', 'mqttPort'], kind: 'int' },
  VIGIL_MQTT_URL: { path: ['mqtt', 'url'], kind: 'string' },
  VIGIL_WEB_HOST: { path: ['web', 'host'], kind: 'string' },
  VIGIL_WEB_PORT: { path: ['web', 'port'], kind: 'int' },
  VIGIL_WEB_TOKEN: { path: ['web', 'token'], kind: 'string' },
  VIGIL_WEB_ALLOWED_HOSTS: { path: ['web', 'allowedHosts'], kind: 'list' },
  VIGIL_WEB_TLS: { path: ['web', 'tls'], kind: 'string' },
  // Set after VIGIL_WEB_TLS: files win over auto|off.
  VIGIL_WEB_TLS_CERT: { path: ['web', 'tls', 'cert'], kind: 'string' },
  VIGIL_WEB_TLS_KEY: { path: ['web', 'tls', 'key'], kind: 'string' },
  VIGIL_MEDIA_RTMP_PORT: { path: ['media', 'rtmpPort'], kind: 'int' },
  VIGIL_MEDIA_HTTP_PORT: { path: ['media', 'httpPort'], kind: 'int' },
  VIGIL_CAMERA_SOURCE: { path: ['camera', 'source'], kind: 'string' },
  VIGIL_RECORDER_MODE: { path: ['recorder', 'mode'], kind: 'string' },
  VIGIL_LOG_LEVEL: { path: ['logs', 'level'], kind: 'string' },
  VIGIL_UPLOAD_ENABLED: { path: ['upload', 'enabled'], kind: 'bool' },
  VIGIL_UPLOAD_DELETE_LOCAL: { path: ['upload', 'deleteLocal'], kind: 'bool' },
  // VIGIL_NOTIFY_WEBHOOK is added to notify.webhooks (withEnvWebhook), not set over them.
}

type Json = Record<string, unknown>

function setPath(target: Json, path: string[], value: unknown): void {
  let cursor = target
  for (const key of path.slice(0, -1)) {
    const next = cursor[key]
    if (typeof next !== 'object' || next === null || Array.isArray(next)) cursor[key] = {}
    cursor = cursor[key] as Json
  }
  cursor[path[path.length - 1]!] = value
}

function deepMerge(base: Json, over: Json): Json {
  const out: Json = { ...base }
  for (const [k, v] of Object.entries(over)) {
    const b = out[k]
    out[k] =
      typeof v === 'object' && v !== null && !Array.isArray(v) && typeof b === 'object' && b !== null && !Array.isArray(b)
        ? deepMerge(b as Json, v as Json)
        : v
  }
  return out
}

function readFileLayer(path: string, problems: string[]): Json {
  let text: string
  try {
    text = readFileSync(path, 'utf8')
  } catch (err) {
    const e = err as NodeJS.ErrnoException
    problems.push(`${path}: cannot read config file (${e.code ?? e.message})`)
    return {}
  }
  try {
    const parsed: unknown = JSON.parse(text)
    if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) {
      problems.push(`${path}: the config must be a JSON object`)
      return {}
    }
    // Before the merge: `out[k] = v` with k "__proto__" would set a prototype, not a field.
    const shape = jsonShapeProblem(parsed, 16)
    if (shape) {
      problems.push(`${fieldName(shape.path)}: ${shape.reason === 'forbidden key' ? `key "${shape.key}" is not allowed` : `nested deeper than ${shape.limit} levels`}`)
      return {}
    }
    return parsed as Json
  } catch (err) {
    problems.push(`${path}: invalid JSON (${jsonErrorReason(err as Error, text)})`)
    return {}
  }
}

/**
 * V8's JSON.parse message quotes the text around the error, which may be a token or a
 * password: keep the reason and the position, drop the quote and the offending character.
 */
function jsonErrorReason(err: Error, text: string): string {
  const at = /at position (\d+)/.exec(err.message)
  const reason = err.message
    .replace(/, (?:\.\.\.)?".*" is not valid JSON$/s, '')
    .replace(/^Unexpected token '.*?'/s, 'unexpected character')
    .replace(/\s*in JSON at position \d+.*$/s, '')
  if (!at) return reason
  const before = text.slice(0, Number(at[1])).split('\n')
  return `${reason} at line ${before.length} column ${before.at(-1)!.length + 1}`
}

function envLayer(env: NodeJS.ProcessEnv, problems: string[]): Json {
  const layer: Json = {}
  for (const [name, rule] of Object.entries(envRules)) {
    const raw = env[name]
    if (raw === undefined || raw === '') continue
    if (rule.kind === 'int') {
      if (!/^\d+$/.test(raw.trim())) {
        problems.push(`${name}: must be a whole number, got ${JSON.stringify(raw)}`)
        continue
      }
      setPath(layer, rule.path, Number(raw.trim()))
    } else if (rule.kind === 'bool') {
      const v = raw.trim().toLowerCase()
      if (!['1', 'true', 'yes', 'on', '0', 'false', 'no', 'off'].includes(v)) {
        problems.push(`${name}: must be true or false, got ${JSON.stringify(raw)}`)
        continue
      }
      setPath(layer, rule.path, ['1', 'true', 'yes', 'on'].includes(v))
    } else if (rule.kind === 'list') {
      setPath(layer, rule.path, raw.split(',').map((s) => s.trim()).filter(Boolean))
    } else {
      setPath(layer, rule.path, raw)
    }
  }
  return layer
}

/** JSON-pointer-ish `/web/port` → `web.port`, the way an operator names the field. */
const fieldName = (path: string) => (path === '' ? '(root)' : path.replace(/^\//, '').replaceAll('/', '.'))

// Fields whose every entry holds a credential (web.users: names with password hashes;
// notify.webhooks: a URL's path may be the secret, e.g. an ntfy topic).
const CREDENTIAL_LISTS: ReadonlySet<string> = new Set(['users', 'webhooks'])

/**
 * The offending value, for the operator to find it, unless it may be a secret: nothing
 * for a field whose path names one (web.token, nats.auth.*, a passwordHash) or a key the
 * schema does not know (a misspelt `pasword` is still a password), nothing for an object
 * (it may hold one); URL credentials removed from a string.
 */
function shownValue(error: ValueError): string {
  const { value } = error
  if (value === undefined || error.type === ValueErrorType.ObjectAdditionalProperties) return ''
  if (error.path.split('/').some((segment) => isSecretKey(segment) || CREDENTIAL_LISTS.has(segment))) return ''
  if (typeof value === 'object' && value !== null) return ''
  const text = typeof value === 'string' ? JSON.stringify(redactCredentials(value.length > 200 ? `${value.slice(0, 200)}…` : value)) : JSON.stringify(value)
  return ` (got ${text})`
}

/** TypeBox's message, in an operator's words where TypeBox's own are opaque. */
function problemText(error: ValueError): string {
  const got = shownValue(error)
  if (error.type === ValueErrorType.ObjectAdditionalProperties) return `${fieldName(error.path)}: unknown key`
  if (error.type === ValueErrorType.Union) {
    const choices = ((error.schema.anyOf ?? []) as Array<{ const?: unknown }>).map((s) => s.const)
    if (choices.length > 0 && choices.every((c) => typeof c === 'string')) {
      return `${fieldName(error.path)}: must be one of ${choices.join(', ')}${got}`
    }
  }
  return `${fieldName(error.path)}: ${error.message}${got}`
}

/**
 * Loads file + env + overrides, fills defaults, validates with the one schema.
 * Throws ConfigError listing every bad field; never returns a half-valid config.
 */
export function loadConfig(opts: LoadOptions = {}): Config {
  const env = opts.env ?? process.env
  const cwd = opts.cwd ?? process.cwd()
  const problems: string[] = []
  const explicit = opts.file ?? env.VIGIL_CONFIG
  const defaultFile = resolve(cwd, 'vigil.config.json')
  let fileLayer: Json = {}
  if (explicit) fileLayer = readFileLayer(resolve(cwd, explicit), problems)
  else {
    try {
      accessSync(defaultFile, constants.R_OK)
      fileLayer = readFileLayer(defaultFile, problems)
    } catch {
      // No config file: the embedded demo defaults apply.
    }
  }
  const overrides = opts.overrides ?? {}
  const envL = deepMerge(envLayer(env, problems), natsEnvLayer(env))
  const base = deepMerge({ node: toNodeName(hostname()) }, fileLayer)
  const merged = withEnvWebhook(deepMerge(withoutReplacedAuth(deepMerge(withoutReplacedAuth(base, envL), envL), overrides), overrides), env)
  // Fill defaults on a copy first, so a wrong type is reported, not silently replaced.
  const withDefaults = Value.Default(ConfigSchema, structuredClone(merged))
  const schemaProblems = [...Value.Errors(ConfigSchema, withDefaults)].map(problemText)
  problems.push(...schemaProblems)
  // Cross-field rules run on the fields that passed, so one run lists every problem.
  const candidate = withDefaults as Partial<Config>
  const hasProblem = (field: string) => schemaProblems.some((p) => p.startsWith(`${field}:`) || p.startsWith(`${field}.`))
  const { recorder, web } = candidate
  if (recorder && !hasProblem('recorder') && recorder.stopBelowBytes > recorder.minFreeBytes) {
    problems.push('recorder.stopBelowBytes: must not exceed recorder.minFreeBytes')
  }
  const keepFree = recorder?.retention?.keepFreeBytes
  if (recorder && keepFree !== undefined && keepFree !== 0 && !hasProblem('recorder') && keepFree <= recorder.minFreeBytes) {
    problems.push(`recorder.retention.keepFreeBytes: must exceed recorder.minFreeBytes (${recorder.minFreeBytes}), so room is made before a start is refused (0 turns free-space retention off)`)
  }
  const webUsers = Array.isArray(web?.users) ? web.users.length : 0
  if (web && !hasProblem('web.host') && !hasProblem('web.token') && !hasProblem('web.users') && typeof web.host === 'string' && !isLoopback(web.host) && !web.token && webUsers === 0) {
    problems.push(`web.token: required when web.host (${web.host}) is not loopback and web.users is empty; set VIGIL_WEB_TOKEN or add web.users (hashes from \`vigil passwd\`)`)
  }
  if (web && typeof web.tls === 'object' && web.tls !== null && !hasProblem('web.tls')) {
    web.tls = { cert: resolve(cwd, web.tls.cert), key: resolve(cwd, web.tls.key) }
  }
  const notify = candidate.notify
  if (notify && Array.isArray(notify.webhooks) && !hasProblem('notify.webhooks')) problems.push(...webhookProblems(notify.webhooks))
  const nats = candidate.nats
  if (typeof nats === 'object' && nats !== null && !['nats.auth', 'nats.tls', 'nats.servers', 'nats.host'].some(hasProblem)) {
    resolveNatsFiles(nats, cwd)
    problems.push(...natsAuthProblems(nats))
  }
  for (const [field, parse] of [['camera', parseCameraSource], ['audio', parseAudioSource]] as const) {
    const source = (candidate[field] as { source?: unknown } | undefined)?.source
    if (typeof source !== 'string' || hasProblem(`${field}.source`)) continue
    try {
      parse(source)
    } catch (err) {
      problems.push(`${field}.source: ${(err as Error).message}`)
    }
  }
  const camera = candidate.camera as { source?: unknown; videoCodec?: CodecChoice; audioCodec?: CodecChoice } | undefined
  if (camera && typeof camera.source === 'string' && !['camera.source', 'camera.videoCodec', 'camera.audioCodec'].some(hasProblem)) {
    try {
      problems.push(...cameraCodecProblems(parseCameraSource(camera.source), camera))
    } catch {
      // An unsupported source is already listed above.
    }
  }
  // Every line once more through the redaction: a cross-field rule may quote a URL.
  if (problems.length > 0) throw new ConfigError('invalid configuration:', dedupe(problems).map((p) => redactCredentials(p)))
  const config = withDefaults as Config
  config.dataDir = isAbsolute(config.dataDir) ? config.dataDir : resolve(cwd, config.dataDir)
  return config
}

function dedupe(lines: string[]): string[] {
  return [...new Set(lines)]
}

export function isLoopback(host: string): boolean {
  return host === 'localhost' || host === '::1' || /^127\.\d+\.\d+\.\d+$/.test(host)
}

function dataDirReason(e: NodeJS.ErrnoException): string {
  switch (e.code) {
    case 'EACCES':
    case 'EPERM':
      return 'permission denied'
    case 'ENOTDIR':
      return 'a part of the path is a file, not a directory (ENOTDIR)'
    case 'EEXIST':
      return 'exists and is not a directory (EEXIST)'
    case 'EROFS':
      return 'read-only file system (EROFS)'
    case 'ENOSPC':
      return 'no space left on the device (ENOSPC)'
    default:
      return e.code ?? e.message
  }
}

/** Recordings of a home are private: the data dir and every dir in it 0700, every file 0600. */
export const PRIVATE_DIR_MODE = 0o700
/** The process mask that gives those modes to whatever the rig and its children create. */
export const PRIVATE_UMASK = 0o077

/**
 * A dir an older version made 0755 is closed at start. Only the dirs themselves: with the
 * root 0700 nobody else can reach the files inside (OPERATIONS.md: `chmod -R go-rwx`).
 */
function tighten(path: string, onLoose?: (path: string, reason: string) => void): void {
  const mode = statSync(path).mode & 0o777
  if ((mode & 0o077) === 0) return
  try {
    chmodSync(path, mode & PRIVATE_DIR_MODE)
  } catch (err) {
    // Not ours (another owner): the rig still runs, and says so.
    onLoose?.(path, (err as NodeJS.ErrnoException).code ?? (err as Error).message)
  }
}

export const dataDirs = ['recordings', 'snapshots', 'logs', 'jetstream'] as const
export type DataDirs = Record<(typeof dataDirs)[number], string> & { root: string }

/** Folders the rig runs without: a read-only logs dir drops log lines (counted, alerted), it does not stop recording. */
const degradable: ReadonlySet<string> = new Set(['logs'])

/**
 * Creates the data dir and its folders; a permission problem names the path. A folder
 * the rig can run without (logs/) that cannot be written is reported to `onDegraded`
 * instead of refusing to start: an unattended rig keeps recording.
 */
export function prepareDataDir(
  root: string,
  opts: { onDegraded?: (problem: string) => void; onLoose?: (path: string, reason: string) => void } = {},
): DataDirs {
  const dirs = { root } as DataDirs
  for (const [name, path] of [['', root], ...dataDirs.map((d) => [d, resolve(root, d)])] as Array<[string, string]>) {
    try {
      mkdirSync(path, { recursive: true, mode: PRIVATE_DIR_MODE })
      accessSync(path, constants.W_OK)
      tighten(path, opts.onLoose)
    } catch (err) {
      const e = err as NodeJS.ErrnoException
      // e.path is the component that failed (a parent, for a missing chain); path is what we wanted.
      const where = e.path ?? path
      const problem = `${where}: ${dataDirReason(e)} (dataDir ${root}; creating ${path}, parent ${dirname(path)})`
      if (degradable.has(name) && opts.onDegraded) {
        opts.onDegraded(problem)
        continue
      }
      throw new ConfigError('cannot prepare the data directory:', [problem])
    }
  }
  for (const d of dataDirs) dirs[d] = resolve(root, d)
  return dirs
}
