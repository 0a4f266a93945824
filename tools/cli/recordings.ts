import { mkdir, readFile } from 'node:fs/promises'
import { join, resolve, sep } from 'node:path'
import { jetstream, jetstreamManager } from '@nats-io/jetstream'
import { RECORDINGS_BUCKET } from '../../infra/subjects.js'
import { parseSessionFile, SESSION_FILE } from '../../actors/recorder/session.js'
import { isRecordingFileName, objectName, parseSessionRef, type SessionRef } from '../../actors/upload/names.js'
import { readMeta, storedChunks } from '../../actors/upload/objectPut.js'
import { getObjectToFile } from '../../actors/upload/objectGet.js'
import { sessionFiles } from '../../actors/upload/uploadSession.js'
import { runClient } from './natsArgs.js'

const help = `usage: vigil recordings pull <node>/<session> --to DIR [--server URL] [--nkey F | --user U | --creds F] [--ca F]

Fetches one recording session that a rig uploaded (upload.enabled) from the Object Store
bucket ${RECORDINGS_BUCKET} into DIR/<session>/: its segments and session.json, each
checked against the bucket's SHA-256 digest (a file is written as <file>.part and renamed
only once its digest matched). Exit 0 when every file arrived whole; 1 when the session is
not in the bucket (or not completely: session.json goes up last), a file is missing or a
digest does not match; 2 on a bad name or usage.
`

const fail = (text: string, code = 1) => {
  process.stderr.write(`vigil recordings pull: ${text}\n`)
  return code
}

/** `DIR/<session>/<file>`, refused if it would land anywhere else (the names come from the bucket). */
function destination(dir: string, file: string): string | null {
  if (!isRecordingFileName(file)) return null
  const path = resolve(dir, file)
  return path.startsWith(dir + sep) ? path : null
}

export async function run(argv: string[]): Promise<number> {
  const [verb, ref, ...rest] = argv
  if (verb === '--help' || verb === '-h' || verb === 'help') {
    process.stdout.write(help)
    return 0
  }
  if (verb !== 'pull') return fail(`unknown verb ${JSON.stringify(verb ?? '')}\n${help}`, 2)
  if (ref === '--help' || ref === '-h') {
    process.stdout.write(help)
    return 0
  }
  if (ref === undefined || ref.startsWith('-')) return fail(`give the session as <node>/<session>\n${help}`, 2)
  const parsed = parseSessionRef(ref)
  if ('error' in parsed) return fail(parsed.error, 2)
  return runClient<{ to?: string }>('recordings pull', help, rest, { to: { type: 'string' } }, async (nc, _target, values) => {
    if (!values.to) return fail('--to DIR is required', 2)
    return pull(nc, parsed, resolve(values.to))
  })
}

async function pull(nc: Parameters<typeof jetstream>[0], ref: SessionRef, to: string): Promise<number> {
  const jsm = await jetstreamManager(nc, { checkAPI: false })
  const js = jetstream(nc)
  const label = `${ref.node}/${ref.session}`
  let sessionMeta
  try {
    sessionMeta = await readMeta(jsm, objectName(ref, SESSION_FILE))
  } catch (err) {
    if (/stream not found/i.test((err as Error).message)) return fail(`there is no bucket ${RECORDINGS_BUCKET} on this cluster (vigil fleet init makes it)`)
    throw err
  }
  if (!sessionMeta || sessionMeta.deleted) {
    return fail(`no session ${label} in ${RECORDINGS_BUCKET} (never uploaded, or not completely: session.json goes up last)`)
  }
  const dir = join(to, ref.session)
  await mkdir(dir, { recursive: true, mode: 0o700 })
  const sessionPath = destination(dir, SESSION_FILE)!
  await getObjectToFile(js, sessionMeta, sessionPath)
  const session = parseSessionFile(JSON.parse(await readFile(sessionPath, 'utf8')), ref.session)
  if (!session) return fail(`${label}: its session.json is not a vigil session of that id`)
  let total = sessionMeta.size
  let failed = 0
  for (const file of sessionFiles(session)) {
    if (file === SESSION_FILE) continue
    const path = destination(dir, file)
    if (!path) {
      failed++
      fail(`${label}: refusing the file name ${JSON.stringify(file)} (it would not stay under ${dir})`)
      continue
    }
    const meta = await readMeta(jsm, objectName(ref, file))
    if (!meta || meta.deleted) {
      failed++
      fail(`${label}/${file}: missing from the bucket`)
      continue
    }
    const stored = await storedChunks(jsm, meta.nuid)
    if (stored !== meta.chunks) {
      failed++
      fail(`${label}/${file}: the bucket holds ${stored} of its ${meta.chunks} chunks`)
      continue
    }
    try {
      const got = await getObjectToFile(js, meta, path)
      total += got.size
      process.stdout.write(`${file}  ${got.size}  ok\n`)
    } catch (err) {
      failed++
      fail(`${label}/${file}: ${(err as Error).message}`)
    }
  }
  process.stdout.write(`${SESSION_FILE}  ${sessionMeta.size}  ok\n`)
  if (failed > 0) return fail(`${failed} file(s) of ${label} did not arrive whole`)
  process.stdout.write(`pulled ${label} (${total} bytes) into ${dir}\n`)
  return 0
}
