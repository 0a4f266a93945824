/**
 * Issue 13 (hygiene): the one redaction function. Userinfo ends at the LAST `@` of the
 * authority (RFC 3986 §3.2), so a password with `@` in it is hidden whole; signed and
 * secret query parameters are hidden too. Every ffmpeg stderr line, status reply, alert
 * and config error passes through here.
 */
import t from 'tap'
import { redactCredentials } from '../../../infra/sources.js'
import { REDACTED, redactString } from '../../../actors/web/redact.js'

const cases: Array<[string, string, string]> = [
  ['plain userinfo', 'rtsp://admin:hunter2@10.0.0.9:554/s', 'rtsp://***@10.0.0.9:554/s'],
  ['an @ in the password', 'rtsp://admin:p@ss@host/s', 'rtsp://***@host/s'],
  ['several @ in the password', 'rtsp://admin:a@b@c@@host:554/s?x=1', 'rtsp://***@host:554/s?x=1'],
  ['an @ in the user name', 'rtmp://me@corp:pw@media/live', 'rtmp://***@media/live'],
  ['percent-encoded @ and colon', 'rtsp://adm%40in:p%3Ass%40word@cam/s', 'rtsp://***@cam/s'],
  ['user only (a token as user)', 'nats://s3cr3t-token@nats.example:4222', 'nats://***@nats.example:4222'],
  ['IPv6 host', 'rtsp://admin:pw@[fe80::1%25eth0]:554/s', 'rtsp://***@[fe80::1%25eth0]:554/s'],
  ['IPv6 host, no userinfo', 'rtsp://[::1]:554/s', 'rtsp://[::1]:554/s'],
  ['an @ in the path is not userinfo', 'http://cam/snap@2x.jpg', 'http://cam/snap@2x.jpg'],
  ['an @ in the query is not userinfo', 'http://cam/x?who=a@b', 'http://cam/x?who=a@b'],
  ['no scheme, user:password@host', 'admin:p@ss@cam.local:554/s', '***@cam.local:554/s'],
  ['scheme-relative', 'see //admin:pw@cam/s', 'see //***@cam/s'],
  ['in ffmpeg stderr', 'rtmp://admin:p@ss@127.0.0.1:1/live/x: Connection refused', 'rtmp://***@127.0.0.1:1/live/x: Connection refused'],
  ['ffmpeg context tags are not URLs', '[tcp @ 0x55c026ab3b80] Connection to tcp://127.0.0.1:1?tcp_nodelay=0 failed', '[tcp @ 0x55c026ab3b80] Connection to tcp://127.0.0.1:1?tcp_nodelay=0 failed'],
  ['two URLs on a line', 'nats://a:b@h:4222, nats://c:d@e@g:4222', 'nats://***@h:4222, nats://***@g:4222'],
  ['an e-mail address without a password stays', 'mail ops@example.com', 'mail ops@example.com'],
  ['a file path stays', 'file:/clips/a@b.mp4', 'file:/clips/a@b.mp4'],
  ['signed URL', 'rtmp://127.0.0.1:1935/live/cam?sign=1700000000-0123abcdef', 'rtmp://127.0.0.1:1935/live/cam?sign=***'],
  ['secret query parameters', 'http://cam/x?user=a&password=hunter2&token=t0k&ok=1#f', 'http://cam/x?user=a&password=***&token=***&ok=1#f'],
  ['query secret with percent-encoding', 'http://cam/x?access_token=a%26b%40c', 'http://cam/x?access_token=***'],
  ['both at once', 'rtsp://u:p@w@cam/s?sign=abc', 'rtsp://***@cam/s?sign=***'],
  ['already redacted stays the same', 'rtsp://***@cam/s?sign=***', 'rtsp://***@cam/s?sign=***'],
]

t.test('redactCredentials hides userinfo to the last @ and secret query values', async (t) => {
  for (const [name, input, want] of cases) t.equal(redactCredentials(input), want, name)
})

t.test('no secret fragment survives', async (t) => {
  const secrets = ['hunter2', 'p@ss', 'ss@', 'a@b@c', 'p%3Ass', 's3cr3t', 'corp:pw', '0123abcdef', 't0k', 'a%26b']
  for (const [name, input, want] of cases) {
    if (input === want) continue
    for (const secret of secrets) if (input.includes(secret)) t.notOk(redactCredentials(input).includes(secret), `${name}: ${secret}`)
  }
})

t.test('the web redaction uses the same rule with its own marker', async (t) => {
  t.equal(redactString('rtsp://admin:p@ss@host/s'), `rtsp://${REDACTED}@host/s`)
  t.equal(redactString('rtmp://h/live/cam?sign=123-abc'), `rtmp://h/live/cam?sign=${REDACTED}`)
})
