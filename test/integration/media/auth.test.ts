/**
 * DESIGN.md §9.1 "Live video only through the web origin", the media server's side: its
 * ports refuse play and publish without the rig's signature and refuse any request from a
 * web page (an Origin header), over HTTP-FLV, WebSocket-FLV and RTMP. Every client here is
 * on loopback, like the rig's own: loopback is not exempt.
 */
import t from 'tap'
import { execFile, spawn, type ChildProcess } from 'node:child_process'
import { request } from 'node:http'
import { createRequire } from 'node:module'
import { captureMediaLog, startMediaServer, type RunningMediaServer } from '../../helpers/media.js'
import { isAlive, waitFor } from '../../helpers/wait.js'
import { streamPath } from '../../../actors/media/urls.js'

const FFMPEG = process.env.FFMPEG_PATH ?? 'ffmpeg'
const FFPROBE = process.env.FFPROBE_PATH ?? 'ffprobe'
const FOREIGN_ORIGIN = 'http://evil.example'

interface Read {
  status: number
  headers: Record<string, string | string[] | undefined>
  body: Buffer
}

/** Up to `maxBytes` of an HTTP answer (a live FLV never ends on its own). */
function read(url: string, opts: { method?: string; headers?: Record<string, string>; maxBytes?: number } = {}): Promise<Read> {
  return new Promise((resolve, reject) => {
    const req = request(url, { method: opts.method ?? 'GET', headers: opts.headers ?? {}, agent: false, timeout: 15000 }, (res) => {
      const chunks: Buffer[] = []
      let size = 0
      const done = () => {
        res.destroy()
        resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks) })
      }
      res.on('data', (c: Buffer) => {
        chunks.push(c)
        size += c.length
        if (size >= (opts.maxBytes ?? 4096)) done()
      })
      res.on('end', done)
      res.on('error', done)
    })
    req.once('timeout', () => req.destroy(new Error('no answer')))
    req.once('error', reject)
    req.end()
  })
}

const isFlv = (b: Buffer) => b.subarray(0, 3).toString('latin1') === 'FLV'

interface WsOutcome {
  opened: boolean
  messages: number
  status?: number
}

type WsLike = {
  on(event: 'open' | 'close', cb: () => void): void
  on(event: 'message', cb: (data: Buffer) => void): void
  on(event: 'error', cb: (err: Error) => void): void
  on(event: 'unexpected-response', cb: (req: unknown, res: { statusCode?: number; resume(): void }) => void): void
  terminate(): void
}
const WsClient = (createRequire(import.meta.url)('ws') as { WebSocket: new (url: string, opts?: { origin?: string }) => WsLike }).WebSocket

/** Opens a WebSocket-FLV session and counts what arrives until the server closes it or `forMs` has passed. */
function wsRead(url: string, opts: { origin?: string; forMs?: number } = {}): Promise<WsOutcome> {
  return new Promise((resolve) => {
    const ws = new WsClient(url, opts.origin ? { origin: opts.origin } : {})
    const outcome: WsOutcome = { opened: false, messages: 0 }
    let timer: NodeJS.Timeout | undefined
    const finish = () => {
      clearTimeout(timer)
      ws.terminate()
      resolve(outcome)
    }
    ws.on('open', () => {
      outcome.opened = true
      timer = setTimeout(finish, opts.forMs ?? 2000)
    })
    ws.on('message', () => {
      outcome.messages += 1
    })
    ws.on('unexpected-response', (_req, res) => {
      outcome.status = res.statusCode
      res.resume()
      finish()
    })
    ws.on('error', finish)
    ws.on('close', finish)
  })
}

/** ffprobe's verdict on a URL: the codecs it found, or null when it could not read it. */
function probe(url: string): Promise<string[] | null> {
  return new Promise((resolve) => {
    execFile(FFPROBE, ['-v', 'error', '-rw_timeout', '10000000', '-show_entries', 'stream=codec_name', '-of', 'json', url], { timeout: 25000 }, (err, stdout) => {
      if (err) return resolve(null)
      const parsed = JSON.parse(stdout) as { streams?: Array<{ codec_name?: string }> }
      resolve((parsed.streams ?? []).map((s) => s.codec_name ?? '?'))
    })
  })
}

function publish(url: string, marker = 'vigil-test'): ChildProcess {
  return spawn(
    FFMPEG,
    ['-hide_banner', '-loglevel', 'error', '-re', '-f', 'lavfi', '-i', 'testsrc=size=160x120:rate=10', '-c:v', 'libx264', '-preset', 'ultrafast', '-g', '10',
      '-metadata', `comment=${marker}`, '-f', 'flv', url],
    { stdio: 'ignore' },
  )
}

/** A signed reader already waiting on a stream: collects whatever any publisher gets onto it. */
function listen(url: string): { text(): string; stop(): void } {
  let text = ''
  let res: import('node:http').IncomingMessage | null = null
  const req = request(url, { agent: false }, (r) => {
    res = r
    r.on('data', (c: Buffer) => (text += c.toString('latin1')))
    r.on('error', () => {})
  })
  req.on('error', () => {})
  req.end()
  return {
    text: () => text,
    stop: () => {
      res?.destroy()
      req.destroy()
    },
  }
}

async function reap(p: ChildProcess): Promise<void> {
  if (p.exitCode !== null || p.signalCode !== null) return
  const exited = new Promise<void>((r) => p.once('exit', () => r()))
  p.kill('SIGKILL')
  await exited
}

let media: RunningMediaServer
const mediaLog = captureMediaLog()

t.before(async () => {
  media = await startMediaServer({ log: mediaLog.log })
  const camera = publish(media.rtmpUrl())
  t.teardown(async () => {
    await reap(camera)
    await media.stop()
  })
  // The signed reader (what the rig's proxy and recorder do) gets the stream: the positive control.
  await waitFor(async () => {
    const r = await read(media.flvUrl(), { maxBytes: 4096 }).catch(() => null)
    return r !== null && r.status === 200 && isFlv(r.body) && r.body.length >= 4096
  }, 30000, 'the signed publisher is on air and a signed HTTP-FLV read gets it', 200)
})

t.test('HTTP-FLV: an unsigned play is refused', async (t) => {
  const r = await read(media.unsignedFlvUrl(), { maxBytes: 65536 })
  t.equal(r.status, 403, 'unsigned GET refused')
  t.notOk(isFlv(r.body), 'no FLV bytes')
})

t.test('HTTP-FLV: a cross-origin read is refused, even signed, and nothing says Access-Control-Allow-Origin', async (t) => {
  for (const url of [media.unsignedFlvUrl(), media.flvUrl()]) {
    const r = await read(url, { headers: { Origin: FOREIGN_ORIGIN }, maxBytes: 65536 })
    t.equal(r.status, 403, `GET with Origin refused (${url === media.flvUrl() ? 'signed' : 'unsigned'})`)
    t.notOk(isFlv(r.body), 'no FLV bytes')
    t.equal(r.headers['access-control-allow-origin'], undefined, 'no Access-Control-Allow-Origin')
  }
  const preflight = await read(media.flvUrl(), { method: 'OPTIONS', headers: { Origin: FOREIGN_ORIGIN, 'Access-Control-Request-Method': 'GET' } })
  t.not(preflight.status, 204, 'no CORS preflight approval')
  t.equal(preflight.headers['access-control-allow-origin'], undefined, 'preflight: no Access-Control-Allow-Origin')
  const ok = await read(media.flvUrl(), { maxBytes: 4096 })
  t.equal(ok.headers['access-control-allow-origin'], undefined, 'the signed read of the rig carries no CORS header either')
})

t.test('HTTP-FLV: forged, expired and repeated signatures are refused', async (t) => {
  const path = streamPath()
  const base = media.unsignedFlvUrl()
  const expired = media.signer.sign(path, -10)
  const forged = `${Math.floor(Date.now() / 1000) + 60}-${'0'.repeat(32)}`
  const otherStream = media.signer.sign(streamPath('live', 'other'))
  for (const [what, query] of [
    ['expired', `sign=${expired}`],
    ['forged', `sign=${forged}`],
    ['signed for another stream', `sign=${otherStream}`],
    ['sign given twice', `sign=${media.signer.sign(path)}&sign=x`],
  ] as const) {
    const r = await read(`${base}?${query}`, { maxBytes: 65536 })
    t.ok(r.status >= 400, `${what}: refused (${r.status})`)
    t.notOk(isFlv(r.body), `${what}: no FLV bytes`)
  }
})

t.test('WebSocket-FLV: a foreign Origin is refused, so is an unsigned or malformed session', async (t) => {
  const wsUrl = (u: string) => u.replace(/^http:/, 'ws:')
  const foreign = await wsRead(wsUrl(media.flvUrl()), { origin: FOREIGN_ORIGIN })
  t.notOk(foreign.opened, `signed, with a foreign Origin: upgrade refused (${foreign.status})`)
  t.equal(foreign.messages, 0, 'not one message')
  const unsigned = await wsRead(wsUrl(media.unsignedFlvUrl()))
  t.equal(unsigned.messages, 0, 'unsigned: not one message')
  t.notOk(unsigned.opened, 'unsigned: upgrade refused')
  // node-media-server's own parser throws on an array `sign`; over WS that was uncaught.
  const twice = await wsRead(`${wsUrl(media.unsignedFlvUrl())}?sign=a&sign=b`)
  t.notOk(twice.opened, 'sign given twice: refused')
  t.ok(isAlive(media.pid), 'the media server is still alive')
})

t.test('RTMP: an unsigned play is refused; the signed one plays', async (t) => {
  t.same(await probe(media.unsignedRtmpUrl()), null, 'ffprobe cannot read the unsigned RTMP URL')
  t.same(await probe(media.rtmpUrl()), ['h264'], 'the signed RTMP URL plays')
})

t.test('publish: unsigned, forged and expired RTMP publishes and an HTTP POST publish are refused', async (t) => {
  const stream = (n: string) => `intruder${n}`
  const unsigned = media.unsignedRtmpUrl('live', stream('a'))
  const forged = `${media.unsignedRtmpUrl('live', stream('b'))}?sign=${Math.floor(Date.now() / 1000) + 60}-${'f'.repeat(32)}`
  const expired = `${media.unsignedRtmpUrl('live', stream('c'))}?sign=${media.signer.sign(streamPath('live', stream('c')), -10)}`
  for (const [what, url, name] of [
    ['unsigned', unsigned, stream('a')],
    ['forged', forged, stream('b')],
    ['expired', expired, stream('c')],
  ] as const) {
    const viewer = listen(media.flvUrl('live', name))
    await mediaLog.waitForLine(new RegExp(`start play /live/${name}\\b`))
    const marker = `intruder-${name}-${Date.now()}`
    const p = publish(url, marker)
    try {
      // The server's own word on this session: accepted ("start push") or refused ("push … error").
      const verdict = await mediaLog.waitForLine(new RegExp(`(start push|push) /live/${name}\\b`))
      t.notMatch(verdict, /start push/, `${what} publish not accepted`)
      t.match(verdict, /error/, `${what} publish refused: ${verdict}`)
      if (p.exitCode === null && p.signalCode === null) await new Promise<void>((res) => p.once('exit', () => res()))
      // node-media-server parsed the burst that came with a refused publish and broadcast it.
      t.notOk(viewer.text().includes(marker), `${what}: nothing of the refused publisher reached a viewer`)
    } finally {
      viewer.stop()
      await reap(p)
    }
  }
  const post = await read(media.flvUrl('live', stream('d')), { method: 'POST', headers: { 'Content-Type': 'video/x-flv' } })
  t.equal(post.status, 403, 'HTTP-FLV POST (publish) refused, even signed')
})
