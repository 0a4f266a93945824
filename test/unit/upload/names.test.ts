import { createHash } from 'node:crypto'
import t from 'tap'
import { Base64UrlPaddedCodec } from '@nats-io/obj/internal'
import { encodeObjectName, isRecordingFileName, objectName, parseSessionRef } from '../../../actors/upload/names.js'
import { objectDigest } from '../../../actors/upload/objectPut.js'

t.test('session refs: <node>/<session> only; anything that could leave --to DIR is refused', async (t) => {
  t.same(parseSessionRef('barn-1/20260101T120000Z-abcdef'), { node: 'barn-1', session: '20260101T120000Z-abcdef' })
  for (const bad of ['', 'a', 'a/', '/20260101T120000Z-abcdef', '../20260101T120000Z-abcdef', 'a/..', 'a/20260101T120000Z-abcdef/x', 'A/20260101T120000Z-abcdef', 'a/20261399T120000Z-abcdef', 'a/20260101T120000Z-ABCDEF', 'a b/20260101T120000Z-abcdef']) {
    t.ok('error' in parseSessionRef(bad), `${JSON.stringify(bad)} refused`)
  }
})

t.test('file names: plain names, no path, no leading dot', async (t) => {
  for (const ok of ['seg-00001.mp4', 'pre-00002.mp4', 'session.json']) t.ok(isRecordingFileName(ok), ok)
  for (const bad of ['', '.', '..', '../x', 'a/b', '.hidden', 'x..y', 'a\\b', 'a\u0000']) t.notOk(isRecordingFileName(bad), JSON.stringify(bad))
  t.equal(objectName({ node: 'a', session: '20260101T120000Z-abcdef' }, 'seg-00001.mp4'), 'a/20260101T120000Z-abcdef/seg-00001.mp4')
  t.throws(() => objectName({ node: 'a', session: '20260101T120000Z-abcdef' }, '../x'))
  t.throws(() => objectName({ node: 'a.b', session: '20260101T120000Z-abcdef' }, 'x'))
})

t.test("encodings match @nats-io/obj's, so `nats object` tools read what vigil writes", async (t) => {
  // ASCII only (the names are checked): the library btoa()s a string, which is not UTF-8 beyond it.
  for (const name of ['a/20260101T120000Z-abcdef/seg-00001.mp4', 'a/x', 'ab', 'a/20260101T120000Z-abcdef/session.json']) {
    t.equal(encodeObjectName(name), Base64UrlPaddedCodec.encode(name), name)
  }
  const sha = createHash('sha256').update('hello').digest()
  t.equal(objectDigest(sha), `SHA-256=${Base64UrlPaddedCodec.encode(new Uint8Array(sha))}`)
})
