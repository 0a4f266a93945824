/**
 * What the upload tests share: a light rig (router, bus, JetStream keeper real) with only the
 * uploader as a child, and synthetic finalized sessions on its disk.
 */
import { randomBytes } from 'node:crypto'
import { mkdir, mkdtemp, readFile, readdir, readlink, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { pino } from 'pino'
import type { Test } from 'tap'
import { loadConfig } from '../../../infra/config/load.js'
import { ProcessOwner } from '../../../infra/process.js'
import { startRig, type Rig } from '../../../actors/rig/index.js'
import { uploadSpec } from '../../../actors/rig/children.js'
import { writeSession, segmentFileName, SESSION_SCHEMA_VERSION } from '../../../actors/recorder/session.js'
import type { UploadState } from '../../../actors/upload/uploadState.js'

export interface UploadRig {
  rig: Rig
  dataDir: string
  recordingsDir: string
  logLines: string[]
  /** The session the test pretends is being recorded. */
  active: { id: string | null }
}

export async function startUploadRig(t: Test, env: Record<string, string>, opts: { deleteLocal?: boolean; before?: (recordingsDir: string) => Promise<void> } = {}): Promise<UploadRig> {
  const dataDir = await mkdtemp(join(tmpdir(), 'vigil-upload-'))
  t.teardown(() => rm(dataDir, { recursive: true, force: true }))
  const recordingsDir = join(dataDir, 'recordings')
  await mkdir(recordingsDir, { recursive: true })
  await opts.before?.(recordingsDir)
  const config = loadConfig({
    env: { ...env, VIGIL_DATA_DIR: dataDir, VIGIL_WEB_PORT: '0', VIGIL_MEDIA_RTMP_PORT: '0', VIGIL_MEDIA_HTTP_PORT: '0', VIGIL_UPLOAD_ENABLED: 'true', VIGIL_UPLOAD_DELETE_LOCAL: opts.deleteLocal ? 'true' : 'false' },
    cwd: dataDir,
  })
  const logLines: string[] = []
  const log = pino({ level: 'info' }, { write: (line: string) => void logLines.push(line) })
  const processes = new ProcessOwner()
  const active = { id: null as string | null }
  const rig = await startRig({ config, log, processes, children: (ctx, spec) => [uploadSpec(ctx, spec, () => active.id, { retryBaseMs: 200, retryMaxMs: 2000, timeoutMs: 5000 })] })
  t.teardown(async () => {
    rig.requestShutdown('test teardown')
    const timer = setTimeout(() => rig.requestShutdown('test teardown took too long'), 20000)
    await rig.exited
    clearTimeout(timer)
    processes.killAll()
  })
  return { rig, dataDir, recordingsDir, logLines, active }
}

let seq = 0
/** A session id of a fixed, valid shape; unique per call. */
export function sessionId(): string {
  seq++
  const s = String(seq % 60).padStart(2, '0')
  const m = String(Math.floor(seq / 60) % 60).padStart(2, '0')
  const suffix = randomBytes(6).toString('base64').toLowerCase().replace(/[^a-z2-7]/g, 'a').slice(0, 6).padEnd(6, 'a')
  return `20260101T12${m}${s}Z-${suffix}`
}

/** A finalized session with segments of these sizes (random bytes: the uploader does not look inside). */
export async function makeSession(recordingsDir: string, sizes: number[], state: 'finalized' | 'recording' = 'finalized'): Promise<{ id: string; files: Map<string, Buffer> }> {
  const id = sessionId()
  const dir = join(recordingsDir, id)
  await mkdir(dir, { recursive: true })
  const files = new Map<string, Buffer>()
  const segments = []
  for (let k = 0; k < sizes.length; k++) {
    const file = segmentFileName(k + 1)
    const bytes = randomBytes(sizes[k]!)
    await writeFile(join(dir, file), bytes)
    files.set(file, bytes)
    segments.push({ file, bytes: bytes.length })
  }
  await writeSession(dir, {
    schemaVersion: SESSION_SCHEMA_VERSION,
    node: 'a',
    name: 'test',
    id,
    startedAt: new Date().toISOString(),
    startedMono: 0,
    state,
    stopReason: state === 'finalized' ? 'requested' : null,
    stoppedAt: state === 'finalized' ? new Date().toISOString() : null,
    durationMs: state === 'finalized' ? 1000 : null,
    segments,
    gaps: [],
  })
  files.set('session.json', await readFile(join(dir, 'session.json')))
  return { id, files }
}

export async function uploadState(dataDir: string, id: string): Promise<UploadState | null> {
  try {
    return JSON.parse(await readFile(join(dataDir, 'upload', `${id}.json`), 'utf8')) as UploadState
  } catch {
    return null
  }
}

/** Files under `dir` this process holds open now (/proc/self/fd). */
export async function openFilesUnder(dir: string): Promise<string[]> {
  const out: string[] = []
  for (const fd of await readdir('/proc/self/fd')) {
    const target = await readlink(join('/proc/self/fd', fd)).catch(() => '')
    if (target.startsWith(dir)) out.push(target)
  }
  return out
}

/** The recorder's `recording.stopped` on the rig's feed, as the recorder sends it (the summary's id). */
export function stopped(r: UploadRig, id: string): void {
  r.rig.feed.next({ type: 'event', kind: 'recording.stopped', payload: { id, state: 'finalized' }, at: new Date().toISOString() })
}
