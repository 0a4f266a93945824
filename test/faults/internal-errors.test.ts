/**
 * Issue 13 (hygiene) finding 7: an internal failure's message (an fs error naming an
 * absolute path under the data dir) reached NATS and HTTP callers. Now the caller gets
 * the code, a generic message and the trace id; the detail is in the log once, with that
 * trace id. Provoked for real: the recordings dir is replaced by a file, so opening a
 * session (mkdir: EEXIST) and listing recordings (readdir: ENOTDIR) fail.
 */
import { rm, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { Writable } from 'node:stream'
import t from 'tap'
import { pino } from 'pino'
import { startTestRig } from '../helpers/rig.js'
import { waitCameraStreaming } from '../integration/pipeline/common.js'

// An absolute path anywhere in a text: `/tmp/…`, `'/var/…'`.
const ABSOLUTE_PATH = /(^|[\s'"(=,:])\/(?:tmp|var|home|root|srv|work|usr|proc|etc|opt|run|mnt)\b/

t.test('internal errors reach callers as code + generic message + trace id; the detail stays in the log', async (t) => {
  const lines: Array<Record<string, unknown>> = []
  const sink = new Writable({
    write(chunk: Buffer, _enc, done) {
      for (const l of chunk.toString('utf8').split('\n').filter(Boolean)) lines.push(JSON.parse(l) as Record<string, unknown>)
      done()
    },
  })
  const r = await startTestRig(t, { node: 'internalerr', log: pino({ level: 'info' }, sink) })
  await r.ready(['media', 'camera', 'recorder', 'web'], 90_000)
  await waitCameraStreaming(r)
  const web = `http://127.0.0.1:${r.rig.ports.web}`

  const recordings = join(r.dataDir, 'recordings')
  await rm(recordings, { recursive: true, force: true })
  await writeFile(recordings, 'not a directory\n')

  const checkBody = (what: string, error: { code: string; message: string; details?: Record<string, unknown> }, traceId: string | undefined | null) => {
    t.comment(`${what}: ${JSON.stringify(error)}`)
    t.equal(error.code, 'INTERNAL', `${what}: INTERNAL`)
    t.notMatch(error.message, ABSOLUTE_PATH, `${what}: no absolute path in the message`)
    t.notMatch(JSON.stringify(error), r.dataDir, `${what}: nothing of the data dir anywhere in the error`)
    t.notMatch(JSON.stringify(error), /EEXIST|ENOTDIR|mkdir|readdir|scandir/, `${what}: no syscall detail`)
    t.ok(traceId, `${what}: a trace id`)
    t.equal(error.details?.['traceId'], traceId, `${what}: the trace id is in the error`)
    const logged = lines.filter((l) => l['traceId'] === traceId && (l['level'] as number) >= 50 && /EEXIST|ENOTDIR/.test(JSON.stringify(l)))
    t.equal(logged.length, 1, `${what}: the detail is logged once, at error, with the trace id (${logged.map((l) => l['msg']).join(' | ')})`)
  }

  const viaNats = await r.cmd('recorder', 'start', { name: 'boom' })
  t.notOk(viaNats.ok, 'recorder.start over NATS fails')
  if (!viaNats.ok) checkBody('NATS recorder.start', viaNats.error, viaNats.traceId)

  const viaHttp = await fetch(`${web}/api/v1/recorder/start`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ name: 'boom2' }) })
  t.equal(viaHttp.status, 500)
  const httpBody = (await viaHttp.json()) as { error: { code: string; message: string; details?: Record<string, unknown> } }
  checkBody('HTTP POST /api/v1/recorder/start', httpBody.error, viaHttp.headers.get('x-trace-id'))

  const list = await fetch(`${web}/api/v1/recordings`)
  t.equal(list.status, 500)
  const listBody = (await list.json()) as { error: { code: string; message: string; details?: Record<string, unknown> } }
  checkBody('HTTP GET /api/v1/recordings', listBody.error, list.headers.get('x-trace-id'))

  // Deliberate refusals keep their words (and hold no path).
  const bad = await r.cmd('recorder', 'start', { name: 5 })
  t.notOk(bad.ok)
  if (!bad.ok) {
    t.equal(bad.error.code, 'BAD_REQUEST')
    t.match(bad.error.message, /name/, 'a BAD_REQUEST still says what was wrong')
    t.notMatch(bad.error.message, ABSOLUTE_PATH)
  }
})
