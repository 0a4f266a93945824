import t from 'tap'
import { mkdir, readFile, symlink, writeFile } from 'node:fs/promises'
import { connect } from 'node:net'
import { join } from 'node:path'
import { rawRequest, startWebRig } from '../../helpers/webRig.js'

/**
 * Path safety of /recordings/<session>/<file> and /snapshots/<file>: every
 * variant answers 400 JSON (or 404 JSON for a well-formed owned name that does
 * not exist), and no response ever carries a byte of a file outside the data dir.
 */

const SESSION = '20250102T030405Z-abcdef'
const LINKED_SESSION = '20250102T030406Z-linked'
const SNAP = 'snap-20250102T030405123Z-1.jpg'
const SNAP_TO_SECRET = 'snap-20250102T030405123Z-7.jpg'
const SNAP_TO_PASSWD = 'snap-20250102T030405123Z-8.jpg'

/** Bytes no HTTP client library will send as they are (raw NUL, raw UTF-8). */
function rawSocket(port: number, pathBytes: Buffer): Promise<{ status: number; text: string }> {
  return new Promise((resolve, reject) => {
    const socket = connect(port, '127.0.0.1')
    const chunks: Buffer[] = []
    socket.on('connect', () => {
      socket.write(Buffer.concat([Buffer.from('GET '), pathBytes, Buffer.from(' HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n')]))
    })
    socket.on('data', (c: Buffer) => chunks.push(c))
    socket.on('error', reject)
    socket.on('close', () => {
      const text = Buffer.concat(chunks).toString('utf8')
      resolve({ status: Number(/^HTTP\/1\.1 (\d{3})/.exec(text)?.[1] ?? 0), text })
    })
  })
}

t.test('path traversal corpus', async (t) => {
  const rig = await startWebRig()
  t.teardown(() => rig.stop())
  const { recordings, snapshots } = rig.dirs
  const secret = rig.secretContent
  const passwd = await readFile('/etc/passwd', 'utf8').catch(() => 'root:x:0:0')
  const passwdMarker = passwd.split('\n')[0]!

  await mkdir(join(recordings, SESSION))
  await writeFile(join(recordings, SESSION, 'seg-00001.mp4'), 'segment-bytes')
  await writeFile(join(snapshots, SNAP), 'jpeg-bytes')
  // Planted escapes: well-formed names that resolve outside.
  await symlink(rig.secretFile, join(snapshots, SNAP_TO_SECRET))
  await symlink('/etc/passwd', join(snapshots, SNAP_TO_PASSWD))
  await mkdir(join(rig.dataDir, '..', 'outside-session'))
  await writeFile(join(rig.dataDir, '..', 'outside-session', 'session.json'), secret)
  await symlink(join(rig.dataDir, '..', 'outside-session'), join(recordings, LINKED_SESSION))
  await symlink(rig.secretFile, join(recordings, SESSION, 'seg-00002.mp4'))

  const overlong = 'snap-' + '1'.repeat(4000) + '.jpg'
  // [path as sent, expected status]
  const corpus: Array<[string, 400 | 404]> = [
    ['/snapshots/../secret.txt', 400],
    ['/snapshots/../../secret.txt', 400],
    ['/snapshots/..%2fsecret.txt', 400],
    ['/snapshots/..%2F..%2Fsecret.txt', 400],
    ['/snapshots/%2e%2e%2fsecret.txt', 400],
    ['/snapshots/%2E%2E%2F%2E%2E%2Fsecret.txt', 400],
    ['/snapshots/%2e%2e/secret.txt', 400],
    ['/snapshots/.%2e/secret.txt', 400],
    ['/snapshots/%252e%252e%252fsecret.txt', 400],
    ['/snapshots/..%252f..%252fsecret.txt', 400],
    ['/snapshots/%25252e%25252e%25252fsecret.txt', 400],
    ['/snapshots/..\\secret.txt', 400],
    ['/snapshots/..\\..\\secret.txt', 400],
    ['/snapshots/..%5csecret.txt', 400],
    ['/snapshots/..%5Csecret.txt', 400],
    ['/snapshots/%2e%2e%5csecret.txt', 400],
    [`/snapshots/${SNAP}%00`, 400],
    [`/snapshots/${SNAP}%00.txt`, 400],
    ['/snapshots/%00', 400],
    ['/snapshots//etc/passwd', 400],
    ['/snapshots/%2fetc%2fpasswd', 400],
    ['/snapshots/%2Fetc%2Fpasswd', 400],
    ['/snapshots/file:%2f%2f%2fetc%2fpasswd', 400],
    ['/snapshots/C:%5cWindows%5cwin.ini', 400],
    ['/snapshots/....//....//secret.txt', 400],
    ['/snapshots/..../secret.txt', 400],
    ['/snapshots/%c0%ae%c0%ae/secret.txt', 400],
    ['/snapshots/%c0%ae%c0%ae%c0%afsecret.txt', 400],
    ['/snapshots/%e2%80%a4%e2%80%a4/secret.txt', 400],
    ['/snapshots/%ef%bc%8e%ef%bc%8e%ef%bc%8fsecret.txt', 400],
    ['/snapshots/%u002e%u002e%u2215secret.txt', 400],
    [`/snapshots/${SNAP}/../../secret.txt`, 400],
    [`/snapshots/${SNAP_TO_SECRET}`, 400],
    [`/snapshots/${SNAP_TO_PASSWD}`, 400],
    [`/snapshots/${overlong}`, 400],
    ['/snapshots/' + 'a'.repeat(300), 400],
    ['/snapshots/secret.txt', 400],
    ['/snapshots/.secret.jpg', 400],
    ['/snapshots/~root', 400],
    ['/snapshots/', 400],
    ['/snapshots/.', 400],
    ['/snapshots/..', 400],
    [`/snapshots/${SNAP};.txt`, 400],
    [`/snapshots/${SNAP.toUpperCase()}`, 400],
    ['/snapshots/snap-20250102T030405123Z-99.jpg', 404],
    ['/recordings/../secret.txt', 400],
    ['/recordings/..%2f..%2fsecret.txt', 400],
    ['/recordings/%2e%2e/%2e%2e/secret.txt', 400],
    ['/recordings/%252e%252e/session.json', 400],
    [`/recordings/${SESSION}/../../../secret.txt`, 400],
    [`/recordings/${SESSION}/..%2f..%2f..%2fsecret.txt`, 400],
    [`/recordings/${SESSION}/..\\..\\secret.txt`, 400],
    ['/recordings/../../secret.txt/seg-00001.mp4', 400],
    ['/recordings/..%2f/seg-00001.mp4', 400],
    ['/recordings/20250102T030405Z-ab..ef/session.json', 400],
    ['/recordings/..%2520/session.json', 400],
    [`/recordings/${SESSION}%2fseg-00001.mp4`, 400],
    [`/recordings/${SESSION}%2Fseg-00001.mp4`, 400],
    [`/recordings/${SESSION}//seg-00001.mp4`, 400],
    ['/recordings//etc/passwd', 400],
    ['/recordings/%2fetc/passwd', 400],
    [`/recordings/${LINKED_SESSION}/session.json`, 400],
    [`/recordings/${SESSION}/seg-00002.mp4`, 400],
    [`/recordings/${SESSION}/seg-00001.mp4%00.txt`, 400],
    [`/recordings/${SESSION}/seg-00001.mp4/extra`, 400],
    [`/recordings/${SESSION}/secret.txt`, 400],
    [`/recordings/${SESSION}/SEG-00001.MP4`, 400],
    [`/recordings/${SESSION}/seg-1.mp4`, 400],
    [`/recordings/${SESSION}/`, 400],
    [`/recordings/${SESSION}`, 400],
    ['/recordings/not-a-session/seg-00001.mp4', 400],
    [`/recordings/${SESSION}/seg-00099.mp4`, 404],
    ['/recordings/20250102T030499Z-zzzzzz/session.json', 404],
  ]
  t.ok(corpus.length >= 30, `${corpus.length} variants`)

  for (const [path, expected] of corpus) {
    const r = await rawRequest(rig.baseUrl, path)
    const label = path.length > 80 ? `${path.slice(0, 77)}…` : path
    t.equal(r.status, expected, `${label} → ${expected}`)
    t.match(String(r.headers['content-type']), /^application\/json/, `${label}: JSON`)
    let body: { ok?: unknown; error?: { code?: unknown } } = {}
    try {
      body = JSON.parse(r.body) as typeof body
    } catch {
      t.fail(`${label}: body is not JSON: ${r.body.slice(0, 100)}`)
    }
    t.equal(body.ok, false, `${label}: ok false`)
    t.equal(body.error?.code, expected === 400 ? 'BAD_REQUEST' : 'NOT_FOUND', `${label}: code`)
    t.notMatch(r.body, secret, `${label}: no secret`)
    t.notMatch(r.body, passwdMarker, `${label}: no /etc/passwd`)
    t.notMatch(r.body, 'segment-bytes', `${label}: no file content at all`)
  }

  t.test('bytes no client library sends raw: NUL, UTF-8 look-alikes, control characters', async (t) => {
    const raw = [
      Buffer.concat([Buffer.from(`/snapshots/${SNAP}`), Buffer.from([0])]),
      Buffer.from('/snapshots/\u2024\u2024/secret.txt', 'utf8'),
      Buffer.from('/snapshots/\uff0e\uff0e\uff0fsecret.txt', 'utf8'),
      Buffer.from('/recordings/\u2025/secret.txt', 'utf8'),
      Buffer.concat([Buffer.from('/snapshots/a'), Buffer.from([0x7f]), Buffer.from('.jpg')]),
      Buffer.concat([Buffer.from('/snapshots/'), Buffer.from([0xc0, 0xae, 0xc0, 0xae]), Buffer.from('/secret.txt')]),
    ]
    for (const bytes of raw) {
      const r = await rawSocket(rig.port, bytes)
      const label = JSON.stringify(bytes.toString('latin1'))
      t.equal(r.status, 400, `${label} → 400`)
      t.match(r.text, /"code":"BAD_REQUEST"/, `${label}: our JSON error`)
      t.notMatch(r.text, secret)
      t.notMatch(r.text, passwdMarker)
    }
  })

  t.test('the owned files themselves are served', async (t) => {
    const seg = await rawRequest(rig.baseUrl, `/recordings/${SESSION}/seg-00001.mp4`)
    t.equal(seg.status, 200)
    t.equal(seg.body, 'segment-bytes')
    const snap = await rawRequest(rig.baseUrl, `/snapshots/${SNAP}`)
    t.equal(snap.status, 200)
    t.equal(snap.body, 'jpeg-bytes')
  })

  t.test('nothing else leaks either: static assets and the listing', async (t) => {
    for (const path of ['/static/../package.json', '/static/..%2fpackage.json', '/static/%2e%2e/package.json', '/static/vendor/../../package.json']) {
      const r = await rawRequest(rig.baseUrl, path)
      t.not(r.status, 200, path)
      t.notMatch(r.body, /"name": "vigil"/, path)
    }
    const list = await rawRequest(rig.baseUrl, '/api/v1/recordings')
    t.notMatch(list.body, LINKED_SESSION, 'a symlinked session dir is not listed')
    t.notMatch(list.body, secret)
    t.notMatch(list.body, 'seg-00002.mp4', 'a symlinked segment is not listed')
  })
})
