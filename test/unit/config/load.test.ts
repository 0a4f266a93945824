import t from 'tap'
import { writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { ConfigError, envRules, loadConfig } from '../../../infra/config/load.js'
import type { Config } from '../../../infra/config/schema.js'

type Tap = Pick<typeof t, 'testdir' | 'type' | 'fail'>

/** A cwd with no vigil.config.json and an env with no VIGIL_*: only what the test gives. */
const isolated = (t: Tap, env: NodeJS.ProcessEnv = {}) => ({ cwd: t.testdir(), env })

function configError(t: Tap, fn: () => unknown): ConfigError {
  try {
    fn()
  } catch (err) {
    t.type(err, ConfigError)
    return err as ConfigError
  }
  t.fail('expected a ConfigError')
  return new ConfigError('not thrown', [])
}

t.test('defaults serve the embedded demo', async (t) => {
  const opts = isolated(t)
  const config = loadConfig(opts)
  t.same(config.nats.servers, [], 'no NATS servers: the embedded nats-server runs')
  t.equal(config.nats.port, 4222)
  t.equal(config.web.host, '127.0.0.1')
  t.equal(config.web.port, 8080)
  t.equal(config.web.token, undefined)
  t.equal(config.media.rtmpPort, 1935)
  t.equal(config.media.httpPort, 8000)
  t.equal(config.camera.source, 'testsrc')
  t.equal(config.camera.frameTimeoutMs, 2000)
  t.equal(config.recorder.segmentS, 10)
  t.equal(config.recorder.minFreeBytes, 2 * 1024 ** 3)
  t.equal(config.recorder.stopBelowBytes, 1024 ** 3)
  t.equal(config.logs.level, 'info')
  t.equal(config.shutdown.timeoutMs, 15000)
  t.equal(config.supervisor.parkMs, 300000)
  t.same(config.supervisor.backoff, { initialMs: 250, factor: 2, maxMs: 30000, jitter: 0.2, resetAfterMs: 60000 })
  t.same(config.supervisor.intensity, { maxRestarts: 10, periodMs: 60000 })
  t.equal(config.dataDir, join(opts.cwd, 'var'), 'data dir ./var, resolved against the cwd')
  t.match(config.node, /^[a-z0-9_-]{1,64}$/, 'node defaults to the reduced hostname')
})

t.test('a partial file keeps the defaults of what it leaves out', async (t) => {
  const opts = isolated(t)
  writeFileSync(join(opts.cwd, 'vigil.config.json'), JSON.stringify({ web: { port: 9090 }, node: 'rig-1' }))
  const config = loadConfig(opts)
  t.equal(config.web.port, 9090, './vigil.config.json is read when present')
  t.equal(config.web.host, '127.0.0.1')
  t.equal(config.node, 'rig-1')
  t.equal(config.camera.fps, 15)
})

/** One row per interface variable: the value set and where it must land. */
const envCases: Record<string, { value: string; read: (c: Config) => unknown; expected: unknown }> = {
  VIGIL_NODE: { value: 'barn-cam', read: (c) => c.node, expected: 'barn-cam' },
  VIGIL_DATA_DIR: { value: '/srv/vigil', read: (c) => c.dataDir, expected: '/srv/vigil' },
  VIGIL_NATS_SERVERS: {
    value: 'nats://10.0.0.1:4222, nats://10.0.0.2:4222,,',
    read: (c) => c.nats.servers,
    expected: ['nats://10.0.0.1:4222', 'nats://10.0.0.2:4222'],
  },
  VIGIL_NATS_PORT: { value: '4333', read: (c) => c.nats.port, expected: 4333 },
  VIGIL_MQTT_PORT: { value: '1884', read: (c) => c.nats.mqttPort, expected: 1884 },
  VIGIL_MQTT_URL: { value: 'mqtt://broker.lan:1883', read: (c) => c.mqtt.url, expected: 'mqtt://broker.lan:1883' },
  VIGIL_WEB_HOST: { value: '127.0.0.2', read: (c) => c.web.host, expected: '127.0.0.2' },
  VIGIL_WEB_PORT: { value: '0', read: (c) => c.web.port, expected: 0 },
  VIGIL_WEB_TOKEN: { value: 'a-token-of-enough-length', read: (c) => c.web.token, expected: 'a-token-of-enough-length' },
  VIGIL_WEB_ALLOWED_HOSTS: { value: 'rig.lan, cam.local:9000,', read: (c) => c.web.allowedHosts, expected: ['rig.lan', 'cam.local:9000'] },
  VIGIL_WEB_TLS: { value: 'off', read: (c) => c.web.tls, expected: 'off' },
  VIGIL_WEB_TLS_CERT: { value: '/env/cert.pem', read: (c) => c.web.tls, expected: { cert: '/env/cert.pem', key: '/file/key.pem' } },
  VIGIL_WEB_TLS_KEY: { value: '/env/key.pem', read: (c) => c.web.tls, expected: { cert: '/file/cert.pem', key: '/env/key.pem' } },
  VIGIL_MEDIA_RTMP_PORT: { value: '1936', read: (c) => c.media.rtmpPort, expected: 1936 },
  VIGIL_MEDIA_HTTP_PORT: { value: '8001', read: (c) => c.media.httpPort, expected: 8001 },
  VIGIL_CAMERA_SOURCE: { value: 'v4l2:/dev/video0', read: (c) => c.camera.source, expected: 'v4l2:/dev/video0' },
  VIGIL_LOG_LEVEL: { value: 'debug', read: (c) => c.logs.level, expected: 'debug' },
  VIGIL_RECORDER_MODE: { value: 'events', read: (c) => c.recorder.mode, expected: 'events' },
  VIGIL_UPLOAD_ENABLED: { value: 'true', read: (c) => c.upload.enabled, expected: true },
  VIGIL_UPLOAD_DELETE_LOCAL: { value: 'yes', read: (c) => c.upload.deleteLocal, expected: true },
}

t.test('every VIGIL_* variable overrides the file', async (t) => {
  t.same(Object.keys(envCases).sort(), Object.keys(envRules).sort(), 'every env rule has a case here')
  for (const [name, { value, read, expected }] of Object.entries(envCases)) {
    const opts = isolated(t, { [name]: value })
    // The file sets something else for each field, so the env must win over it.
    writeFileSync(
      join(opts.cwd, 'vigil.config.json'),
      JSON.stringify({
        node: 'from-file',
        dataDir: '/from/file',
        nats: { servers: ['nats://file:4222'], port: 1111 },
        web: { host: 'localhost', port: 1111, token: 'file-token-long-enough', allowedHosts: ['file.lan'], tls: { cert: '/file/cert.pem', key: '/file/key.pem' } },
        media: { rtmpPort: 1111, httpPort: 1112 },
        camera: { source: 'file:/x.mp4' },
        logs: { level: 'warn' },
      }),
    )
    t.same(read(loadConfig(opts)), expected, name)
  }
})

t.test('VIGIL_CONFIG names the file; --config (file option) wins over it', async (t) => {
  const opts = isolated(t)
  writeFileSync(join(opts.cwd, 'a.json'), JSON.stringify({ node: 'from-a' }))
  writeFileSync(join(opts.cwd, 'b.json'), JSON.stringify({ node: 'from-b' }))
  t.equal(loadConfig({ ...opts, env: { VIGIL_CONFIG: 'a.json' } }).node, 'from-a')
  t.equal(loadConfig({ ...opts, env: { VIGIL_CONFIG: 'a.json' }, file: 'b.json' }).node, 'from-b')
  t.equal(loadConfig({ ...opts, env: { VIGIL_NODE: 'env-node' }, overrides: { node: 'flag-node' } }).node, 'flag-node', 'CLI overrides win over env')
})

t.test('a bad env value is named by its variable', async (t) => {
  const err = configError(t, () => loadConfig(isolated(t, { VIGIL_WEB_PORT: 'eighty', VIGIL_NATS_PORT: '99999', VIGIL_LOG_LEVEL: 'loud' })))
  t.match(err.problems.join('\n'), /VIGIL_WEB_PORT: must be a whole number/)
  t.match(err.problems.join('\n'), /nats\.port: .*65535/)
  t.match(err.problems.join('\n'), /logs\.level: must be one of fatal, error, warn, info, debug, trace, silent/)
})

t.test('upload: off by default; the env takes true/false, yes/no, on/off, 1/0 and names anything else', async (t) => {
  const d = loadConfig(isolated(t))
  t.same(d.upload, { enabled: false, deleteLocal: false })
  t.equal(loadConfig(isolated(t, { VIGIL_UPLOAD_ENABLED: 'off' })).upload.enabled, false)
  t.equal(loadConfig(isolated(t, { VIGIL_UPLOAD_ENABLED: '1' })).upload.enabled, true)
  const err = configError(t, () => loadConfig(isolated(t, { VIGIL_UPLOAD_ENABLED: 'sure' })))
  t.match(err.problems.join('\n'), /VIGIL_UPLOAD_ENABLED: must be true or false, got "sure"/)
})

t.test('a file with several bad fields lists every one by path', async (t) => {
  const opts = isolated(t)
  const file = join(opts.cwd, 'bad.json')
  writeFileSync(
    file,
    JSON.stringify({
      web: { port: 70000, hots: 'typo' },
      camera: { frameTimeoutMs: 'fast', fps: 0 },
      recorder: { retention: { maxSessions: -1 } },
      colour: 'red',
      inspect: 'xstate',
    }),
  )
  const err = configError(t, () => loadConfig({ ...opts, file }))
  const fields = err.problems.map((p) => p.slice(0, p.indexOf(':')))
  for (const field of ['web.port', 'web.hots', 'camera.frameTimeoutMs', 'camera.fps', 'recorder.retention.maxSessions', 'colour', 'inspect']) {
    t.ok(fields.includes(field), `${field} is listed`)
  }
  t.match(err.problems.find((p) => p.startsWith('colour:')), /unknown key/)
  t.match(err.problems.find((p) => p.startsWith('web.port:')), /70000/, 'the bad value is shown')
  t.equal(new Set(err.problems).size, err.problems.length, 'no problem listed twice')
  for (const p of err.problems) t.match(err.message, p, 'the message carries every problem')
})

t.test('media.heartbeatTimeoutMs: 1500 by default; below two heartbeats, above a minute or not whole is refused', async (t) => {
  t.equal(loadConfig(isolated(t)).media.heartbeatTimeoutMs, 1500)
  for (const bad of [400, 60001, 1500.5, 'fast']) {
    const opts = isolated(t)
    const file = join(opts.cwd, 'bad.json')
    writeFileSync(file, JSON.stringify({ media: { heartbeatTimeoutMs: bad } }))
    const err = configError(t, () => loadConfig({ ...opts, file }))
    t.ok(err.problems.some((p) => p.startsWith('media.heartbeatTimeoutMs:')), `${JSON.stringify(bad)} is refused: ${err.problems.join('; ')}`)
  }
  const opts = isolated(t)
  const file = join(opts.cwd, 'ok.json')
  writeFileSync(file, JSON.stringify({ media: { heartbeatTimeoutMs: 3000 } }))
  t.equal(loadConfig({ ...opts, file }).media.heartbeatTimeoutMs, 3000)
})

t.test('invalid JSON names the file', async (t) => {
  const opts = isolated(t)
  const file = join(opts.cwd, 'broken.json')
  writeFileSync(file, '{ "web": { "port": 8080, } ')
  const err = configError(t, () => loadConfig({ ...opts, file }))
  t.match(err.problems[0], `${file}: invalid JSON`)
})

t.test('a config that is not an object is refused', async (t) => {
  const opts = isolated(t)
  const file = join(opts.cwd, 'list.json')
  writeFileSync(file, '[1, 2]')
  t.match(configError(t, () => loadConfig({ ...opts, file })).problems[0], /must be a JSON object/)
})

t.test('a missing --config file is an error, not the defaults', async (t) => {
  const opts = isolated(t)
  const err = configError(t, () => loadConfig({ ...opts, file: 'nope.json' }))
  t.match(err.problems[0], `${join(opts.cwd, 'nope.json')}: cannot read config file (ENOENT)`)
})

t.test('a non-loopback web.host needs a token', async (t) => {
  const err = configError(t, () => loadConfig(isolated(t, { VIGIL_WEB_HOST: '0.0.0.0' })))
  t.match(err.problems.join('\n'), /web\.token: required when web\.host \(0\.0\.0\.0\) is not loopback/)
  const config = loadConfig(isolated(t, { VIGIL_WEB_HOST: '0.0.0.0', VIGIL_WEB_TOKEN: 'sixteen-chars-ok!' }))
  t.equal(config.web.host, '0.0.0.0', 'with a token the bind is allowed')
  for (const host of ['127.0.0.1', '127.1.2.3', 'localhost', '::1']) {
    t.equal(loadConfig(isolated(t, { VIGIL_WEB_HOST: host })).web.host, host, `${host} is loopback`)
  }
})

t.test('a too-short token is refused', async (t) => {
  const err = configError(t, () => loadConfig(isolated(t, { VIGIL_WEB_TOKEN: 'short' })))
  t.match(err.problems.join('\n'), /web\.token: /)
})

t.test('cross-field problems are listed together with schema problems', async (t) => {
  const opts = isolated(t, { VIGIL_WEB_HOST: '0.0.0.0' })
  const file = join(opts.cwd, 'c.json')
  writeFileSync(file, JSON.stringify({ recorder: { minFreeBytes: 10, stopBelowBytes: 20 }, camera: { fps: 1000 } }))
  const problems = configError(t, () => loadConfig({ ...opts, file })).problems.join('\n')
  t.match(problems, /camera\.fps/)
  t.match(problems, /recorder\.stopBelowBytes: must not exceed recorder\.minFreeBytes/)
  t.match(problems, /web\.token: required/)
})

t.test('camera.source and audio.source are checked at load, every problem listed, credentials hidden', async (t) => {
  const opts = isolated(t, { VIGIL_CAMERA_SOURCE: 'http://user:secret@cam/video' })
  const file = join(opts.cwd, 'c.json')
  writeFileSync(file, JSON.stringify({ audio: { source: 'mic' }, camera: { fps: 1000 } }))
  const problems = configError(t, () => loadConfig({ ...opts, file })).problems.join('\n')
  t.match(problems, /camera\.source: unsupported camera\.source "http:\/\/\*\*\*@cam\/video": expected testsrc, v4l2/)
  t.notMatch(problems, /secret/, 'the password is not echoed')
  t.match(problems, /audio\.source: unsupported audio\.source "mic"/)
  t.match(problems, /camera\.fps/, 'listed with the schema problems')
  for (const source of ['testsrc', 'v4l2:/dev/video0', 'rtsp://cam/stream', 'file:/tmp/clip.mp4']) {
    t.equal(loadConfig(isolated(t, { VIGIL_CAMERA_SOURCE: source })).camera.source, source, `${source} accepted`)
  }
})

t.test('camera.videoCodec / audioCodec: copy only from a source that carries encoded media, said at load', async (t) => {
  const opts = isolated(t, { VIGIL_CAMERA_SOURCE: 'v4l2:/dev/video0' })
  const file = join(opts.cwd, 'c.json')
  writeFileSync(file, JSON.stringify({ camera: { videoCodec: 'copy', audioCodec: 'copy' } }))
  const problems = configError(t, () => loadConfig({ ...opts, file })).problems.join('\n')
  t.match(problems, /camera\.videoCodec: "copy" needs an rtsp:\/\/ or file: source; v4l2 gives raw pictures/)
  t.match(problems, /camera\.audioCodec: "copy" needs an rtsp:\/\/ or file: source/)
  writeFileSync(file, JSON.stringify({ camera: { videoCodec: 'h264' } }))
  t.match(configError(t, () => loadConfig({ ...opts, file })).problems.join('\n'), /camera\.videoCodec/, 'an unknown value is a schema problem')
  const rtsp = isolated(t, { VIGIL_CAMERA_SOURCE: 'rtsp://cam/s' })
  const ok = join(rtsp.cwd, 'c.json')
  writeFileSync(ok, JSON.stringify({ camera: { videoCodec: 'copy', audioCodec: 'copy' } }))
  const config = loadConfig({ ...rtsp, file: ok })
  t.equal(config.camera.videoCodec, 'copy')
  t.equal(config.camera.audioCodec, 'copy')
  t.equal(loadConfig(isolated(t, { VIGIL_CAMERA_SOURCE: 'rtsp://cam/s' })).camera.videoCodec, undefined, 'left out: the camera actor decides by source')
})

t.test('web.users stand in for the token on a public bind; a bad hash is named, never echoed', async (t) => {
  const opts = isolated(t, { VIGIL_WEB_HOST: '0.0.0.0' })
  const hash = 'scrypt$32768$8$1$WQscTf8jMbXOUCfK1eoj7A$-ycbxEZ8whW4Rlt-vHeEnajrmPDwo0mR1HLhk6uab-8'
  writeFileSync(join(opts.cwd, 'vigil.config.json'), JSON.stringify({ web: { users: [{ name: 'ann', passwordHash: hash, role: 'viewer' }] } }))
  const config = loadConfig(opts)
  t.same(config.web.users, [{ name: 'ann', passwordHash: hash, role: 'viewer' }])
  t.equal(config.web.tls, 'auto', 'TLS auto by default')
  writeFileSync(join(opts.cwd, 'vigil.config.json'), JSON.stringify({ web: { users: [{ name: 'ann', passwordHash: 'hunter2-in-clear', role: 'admin' }] } }))
  const err = configError(t, () => loadConfig(opts))
  const text = err.problems.join('\n')
  t.match(text, /web\.users\.0\.passwordHash/)
  t.match(text, /web\.users\.0\.role/)
  t.notMatch(text, /hunter2/, 'a clear-text password put where the hash goes is not printed')
})
