import { lstat, readdir, readFile } from 'node:fs/promises'
import { join } from 'node:path'
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify'
import { sendError } from '../httpErrors.js'
import { sendFileHandle } from '../files.js'
import { RECORDING_FILE, SESSION_DIR, SNAPSHOT_FILE, checkName, openRegularFile, rawRest, resolveInside } from '../paths.js'

/**
 * Recordings and snapshots: the listing, and downloads that only ever serve a
 * plain owned name from inside its dir (actors/web/paths.ts says how).
 */

export interface FileDirs {
  recordings: string
  snapshots: string
}

export interface RecordingFile {
  name: string
  bytes: number
  url: string
}

export interface RecordingSession {
  id: string
  /** session.json present and readable; false for a dir being created or damaged. */
  valid: boolean
  name: string | null
  state: string | null
  startedAt: string | null
  stoppedAt: string | null
  durationMs: number | null
  stopReason: string | null
  segments: number
  bytes: number
  files: RecordingFile[]
  /** session.json `node`: the rig that recorded it. */
  node: string | null
  /** This rig's session (valid session.json naming this node): the only ones it deletes. */
  owned: boolean
  /** What opened the session (events mode); null: started by hand ("manual"). */
  trigger: { kind: string; at: string | null } | null
  /** Stretches the stream was lost while recording (session.json `gaps`). */
  gaps: Array<{ at: string | null; reason: string | null; ms: number }>
}

/** session.json is small; a huge one is not ours and is not read into memory. */
const MAX_SESSION_JSON_BYTES = 1024 * 1024

const str = (v: unknown): string | null => (typeof v === 'string' ? v : null)
const num = (v: unknown): number | null => (typeof v === 'number' && Number.isFinite(v) ? v : null)

function triggerOf(v: unknown): RecordingSession['trigger'] {
  if (typeof v !== 'object' || v === null || Array.isArray(v)) return null
  const kind = str((v as Record<string, unknown>)['kind'])
  return kind === null ? null : { kind, at: str((v as Record<string, unknown>)['at']) }
}

function gapsOf(v: unknown): RecordingSession['gaps'] {
  if (!Array.isArray(v)) return []
  return v.flatMap((g: unknown) => {
    if (typeof g !== 'object' || g === null) return []
    const r = g as Record<string, unknown>
    const ms = num(r['ms'])
    return ms === null ? [] : [{ at: str(r['at']), reason: str(r['reason']), ms }]
  })
}

async function readSession(recordings: string, id: string, node: string | undefined): Promise<RecordingSession> {
  const dir = join(recordings, id)
  const files: RecordingFile[] = []
  const entries = await readdir(dir, { withFileTypes: true }).catch(() => [])
  for (const e of entries) {
    // Dirent types come from lstat: a symlink is never listed, even one named like a segment.
    if (!e.isFile() || !RECORDING_FILE.test(e.name)) continue
    const st = await lstat(join(dir, e.name)).catch(() => null)
    if (st?.isFile()) files.push({ name: e.name, bytes: st.size, url: `/recordings/${id}/${e.name}` })
  }
  files.sort((a, b) => a.name.localeCompare(b.name))
  const segments = files.filter((f) => f.name !== 'session.json')
  let meta: Record<string, unknown> | null = null
  const json = files.find((f) => f.name === 'session.json')
  if (json && json.bytes <= MAX_SESSION_JSON_BYTES) {
    try {
      const parsed: unknown = JSON.parse(await readFile(join(dir, 'session.json'), 'utf8'))
      if (typeof parsed === 'object' && parsed !== null && !Array.isArray(parsed)) meta = parsed as Record<string, unknown>
    } catch {
      // Being rewritten (the recorder renames it into place) or damaged: listed as not valid.
    }
  }
  return {
    id,
    valid: meta !== null,
    name: str(meta?.['name']),
    state: str(meta?.['state']),
    startedAt: str(meta?.['startedAt']),
    stoppedAt: str(meta?.['stoppedAt']),
    durationMs: num(meta?.['durationMs']),
    stopReason: str(meta?.['stopReason']),
    segments: segments.length,
    bytes: segments.reduce((n, f) => n + f.bytes, 0),
    files,
    node: str(meta?.['node']),
    owned: meta !== null && node !== undefined && meta['node'] === node && meta['id'] === id,
    trigger: triggerOf(meta?.['trigger']),
    gaps: gapsOf(meta?.['gaps']),
  }
}

/** Newest first (session ids sort by start time). `node`: this rig's, for `owned`. */
export async function listRecordings(recordings: string, limit: number, node?: string): Promise<RecordingSession[]> {
  const entries = await readdir(recordings, { withFileTypes: true }).catch((err: NodeJS.ErrnoException) => {
    if (err.code === 'ENOENT') return []
    throw err
  })
  const ids = entries
    .filter((e) => e.isDirectory() && SESSION_DIR.test(e.name))
    .map((e) => e.name)
    .sort()
    .reverse()
    .slice(0, limit)
  return Promise.all(ids.map((id) => readSession(recordings, id, node)))
}

async function serveOwned(request: FastifyRequest, reply: FastifyReply, base: string, parts: string[]): Promise<FastifyReply> {
  const resolved = await resolveInside(base, parts)
  if (!resolved.ok) return sendError(reply, resolved.status === 400 ? 'BAD_REQUEST' : 'NOT_FOUND', resolved.reason)
  const opened = await openRegularFile(resolved.path)
  if (!opened.ok) return sendError(reply, opened.status === 400 ? 'BAD_REQUEST' : 'NOT_FOUND', opened.reason)
  return sendFileHandle(request, reply, { handle: opened.handle, size: opened.size, mtime: opened.mtime, name: parts[parts.length - 1]! })
}

const downloadSchema = () => ({
  // The wildcard is read raw from the URL (never decoded): see paths.ts.
  params: { type: 'object', properties: { '*': { type: 'string' } } },
  response: { 400: { $ref: 'vigil.error#' }, 404: { $ref: 'vigil.error#' } },
})

export function registerFileRoutes(app: FastifyInstance, dirs: FileDirs, opts: { node?: string } = {}): void {
  app.get(
    '/api/v1/recordings',
    {
      config: { role: 'viewer' },
      schema: {
        querystring: { type: 'object', properties: { limit: { type: 'integer', minimum: 1, maximum: 1000, default: 100 } }, additionalProperties: false },
      },
    },
    async (request) => {
      const { limit } = request.query as { limit: number }
      return { ok: true, sessions: await listRecordings(dirs.recordings, limit, opts.node) }
    },
  )

  app.get('/recordings/*', { config: { role: 'viewer' }, schema: downloadSchema() }, async (request, reply) => {
    const rest = rawRest(request.url, '/recordings/')
    if (rest === null) return sendError(reply, 'BAD_REQUEST', 'expected /recordings/<session>/<file>')
    const parts = rest.split('/')
    if (parts.length !== 2) return sendError(reply, 'BAD_REQUEST', 'expected /recordings/<session>/<file>: exactly one session and one file name')
    const session = checkName(parts[0]!, SESSION_DIR, 'session')
    if (!session.ok) return sendError(reply, 'BAD_REQUEST', session.reason)
    const file = checkName(parts[1]!, RECORDING_FILE, 'file')
    if (!file.ok) return sendError(reply, 'BAD_REQUEST', file.reason)
    return serveOwned(request, reply, dirs.recordings, [session.name, file.name])
  })

  app.get('/snapshots/*', { config: { role: 'viewer' }, schema: downloadSchema() }, async (request, reply) => {
    const rest = rawRest(request.url, '/snapshots/')
    if (rest === null || rest.includes('/')) return sendError(reply, 'BAD_REQUEST', 'expected /snapshots/<file>: one file name')
    const file = checkName(rest, SNAPSHOT_FILE, 'snapshot')
    if (!file.ok) return sendError(reply, 'BAD_REQUEST', file.reason)
    return serveOwned(request, reply, dirs.snapshots, [file.name])
  })
}
