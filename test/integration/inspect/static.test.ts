/**
 * Issue 13 (hygiene) finding 5: the inspector's file table was a plain object looked
 * up by the URL's name, so `/inspect/static/__proto__` (or `constructor`, `toString`)
 * found Object.prototype's members and answered 500. Every name not in the table is a
 * 404 with the JSON error body, and no error is logged.
 */
import t from 'tap'
import { startInspectRig, TOKEN } from './rig.js'

t.test('/inspect/static/<Object.prototype member> is a 404 JSON error', async (t) => {
  const rig = await startInspectRig()
  t.teardown(() => rig.stop())
  const auth = { authorization: `Bearer ${TOKEN}` }
  for (const name of ['__proto__', 'constructor', 'toString', 'hasOwnProperty', 'valueOf', '__defineGetter__', 'prototype', 'nope.js']) {
    const res = await fetch(rig.url(`/inspect/static/${name}`), { headers: auth })
    t.equal(res.status, 404, `${name}: 404`)
    t.match(res.headers.get('content-type'), /application\/json/, `${name}: JSON`)
    const body = (await res.json()) as { ok?: boolean; error?: { code?: string; message?: string } }
    t.equal(body.ok, false, `${name}: ok false`)
    t.equal(body.error?.code, 'NOT_FOUND', `${name}: NOT_FOUND`)
  }
  const js = await fetch(rig.url('/inspect/static/inspect.js'), { headers: auth })
  t.equal(js.status, 200, 'the real file is still served')
})
