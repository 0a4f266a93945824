/**
 * The media server's one access decision (actors/media/access.ts), with no process: who may
 * play or publish which stream path over which transport.
 */
import t from 'tap'
import { mediaAccess, signsOfQuery, type MediaRequest } from '../../../actors/media/access.js'
import { MediaSigner, streamSignature } from '../../../actors/media/signer.js'

const SECRET = 'a'.repeat(64)
const NOW_S = 1_800_000_000
const signer = new MediaSigner({ secret: SECRET, nowMs: () => NOW_S * 1000 })

const play = (over: Partial<MediaRequest> = {}): MediaRequest => ({
  action: 'play',
  transport: 'http-flv',
  streamPath: '/live/cam',
  signs: [signer.sign('/live/cam')],
  otherQueryKeys: [],
  ...over,
})

const refusal = (req: MediaRequest) => {
  const v = mediaAccess(req, SECRET, NOW_S)
  return v.ok ? 'ok' : v.refusal
}

t.test('a valid signature for the path plays over every transport and publishes over RTMP', async (t) => {
  for (const transport of ['rtmp', 'http-flv', 'ws-flv'] as const) t.equal(refusal(play({ transport })), 'ok', `play over ${transport}`)
  t.equal(refusal(play({ action: 'publish', transport: 'rtmp' })), 'ok', 'publish over RTMP')
})

t.test('node-media-server computes the same signature (its verifyAuth: md5 of path-exp-secret)', async (t) => {
  t.match(streamSignature('/live/cam', 1700000000, 's'), /^1700000000-[0-9a-f]{32}$/)
  t.equal(signer.sign('/live/cam', 60), streamSignature('/live/cam', NOW_S + 60, SECRET))
})

t.test('refusals, each for its reason', async (t) => {
  t.equal(refusal(play({ origin: 'http://evil.example' })), 'foreign_origin', 'any Origin, even with a valid signature')
  t.equal(refusal(play({ origin: '' })), 'foreign_origin', 'an empty Origin header is still a page')
  t.equal(refusal(play({ action: 'publish', transport: 'http-flv' })), 'publish_transport', 'HTTP POST publish')
  t.equal(refusal(play({ action: 'publish', transport: 'ws-flv' })), 'publish_transport', 'WS publish')
  t.equal(refusal(play({ signs: [] })), 'unsigned')
  t.equal(refusal(play({ signs: [''] })), 'unsigned')
  t.equal(refusal(play({ signs: [signer.sign('/live/cam', -1)] })), 'expired')
  t.equal(refusal(play({ signs: [signer.sign('/live/other')] })), 'bad_signature', 'signed for another path')
  t.equal(refusal(play({ signs: [streamSignature('/live/cam', NOW_S + 60, 'b'.repeat(64))] })), 'bad_signature', 'another secret')
  t.equal(refusal(play({ signs: ['123-abc'] })), 'bad_signature', 'malformed')
  t.equal(refusal(play({ signs: [signer.sign('/live/cam'), signer.sign('/live/cam')] })), 'bad_query', 'sign given twice')
  t.equal(refusal(play({ otherQueryKeys: ['x'] })), 'bad_query', 'other query keys')
  t.equal(refusal(play({ streamPath: '/live/../cam' })), 'bad_path')
  t.equal(refusal(play({ streamPath: '' })), 'bad_path')
})

t.test('signsOfQuery splits a raw query', async (t) => {
  t.same(signsOfQuery('sign=1-a'), { signs: ['1-a'], otherQueryKeys: [] })
  t.same(signsOfQuery('sign=1-a&sign=2-b&x=1'), { signs: ['1-a', '2-b'], otherQueryKeys: ['x'] })
  t.same(signsOfQuery(''), { signs: [], otherQueryKeys: [] })
})

t.test('the signer never prints its secret', async (t) => {
  const s = new MediaSigner()
  const secret = s.secretForMediaServer()
  t.equal(secret.length, 64, '32 random bytes, hex')
  t.notOk(JSON.stringify({ s }).includes(secret), 'JSON')
  const { inspect } = await import('node:util')
  t.notOk(inspect(s, { showHidden: true, depth: 5 }).includes(secret), 'util.inspect')
  t.not(new MediaSigner().secretForMediaServer(), secret, 'a new secret per signer (per rig start)')
})
