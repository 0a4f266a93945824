import { Type, type Static, type TSchema } from '@sinclair/typebox'

/**
 * Every section rejects unknown keys, so a typo in the file is reported, not ignored.
 * `default: {}` lets Value.Default build a section the file leaves out, then fill its
 * fields: without it an absent section stays undefined and fails as "required".
 */
const Obj = <T extends Record<string, TSchema>>(props: T, description?: string) =>
  Type.Object(props, { additionalProperties: false, default: {}, ...(description ? { description } : {}) })

const Port = (def: number) => Type.Integer({ minimum: 0, maximum: 65535, default: def, description: '0 picks a free port' })
const Ms = (def: number, min = 0) => Type.Integer({ minimum: min, default: def })
const Bytes = (def: number) => Type.Integer({ minimum: 0, default: def })
const GiB = 1024 ** 3
const MB = 1000 * 1000

export const BackoffSchema = Obj({
  initialMs: Ms(250, 1),
  factor: Type.Number({ minimum: 1, default: 2 }),
  maxMs: Ms(30000, 1),
  jitter: Type.Number({ minimum: 0, maximum: 1, default: 0.2 }),
  resetAfterMs: Ms(60000),
})

export const IntensitySchema = Obj({
  maxRestarts: Type.Integer({ minimum: 0, default: 10 }),
  periodMs: Ms(60000, 1),
})

export const ConfigSchema = Obj({
  node: Type.String({ pattern: '^[a-z0-9_-]{1,64}$', description: 'rig name in subjects; default: hostname' }),
  dataDir: Type.String({ minLength: 1, default: './var' }),
  nats: Obj({
    servers: Type.Array(Type.String({ minLength: 1 }), { default: [], description: 'empty: run the embedded nats-server' }),
    port: Port(4222),
    // The embedded server's MQTT listener (on nats.host, with nats.auth like the NATS port).
    mqttPort: Port(1883),
    host: Type.String({ default: '127.0.0.1' }),
    confFile: Type.String({ default: 'nats.conf' }),
    // A stopped or hung embedded server keeps its port and never exits: only a probe that needs its answer (a PONG) notices.
    probeIntervalMs: Ms(2000, 100),
    probeMisses: Type.Integer({ minimum: 1, default: 3 }),
    publishBuffer: Type.Integer({ minimum: 1, default: 1000, description: 'state messages kept in memory while NATS is unreachable; the oldest are dropped beyond this' }),
    // Alerts and events wait on disk (<dataDir>/outbox) until a server takes them, across rig restarts.
    outbox: Obj({
      maxMessages: Type.Integer({ minimum: 1, default: 10000, description: 'alerts and events kept on disk while no server takes them; the oldest are dropped beyond this' }),
      maxBytes: Type.Integer({ minimum: 4096, default: 16 * 1024 * 1024, description: 'bound of the outbox file\'s live content, bytes' }),
    }),
    // One kind of credential; which one, and the files, are checked in natsAuth.ts (one problem line each).
    auth: Type.Optional(
      Type.Object(
        {
          user: Type.Optional(Type.String({ minLength: 1 })),
          password: Type.Optional(Type.String({ minLength: 1 })),
          token: Type.Optional(Type.String({ minLength: 1 })),
          nkeySeedFile: Type.Optional(Type.String({ minLength: 1 })),
          credsFile: Type.Optional(Type.String({ minLength: 1 })),
        },
        { additionalProperties: false, description: 'user+password | token | nkeySeedFile | credsFile' },
      ),
    ),
    tls: Type.Optional(
      Type.Object(
        { ca: Type.String({ minLength: 1 }), cert: Type.Optional(Type.String({ minLength: 1 })), key: Type.Optional(Type.String({ minLength: 1 })) },
        { additionalProperties: false, description: 'TLS to nats.servers: the CA that signed the server, and an optional client certificate' },
      ),
    ),
  }),
  // Home Assistant discovery and availability, published by the rig's own MQTT client.
  mqtt: Obj({
    enabled: Type.Boolean({ default: true, description: 'publish Home Assistant discovery, availability and the recording sensor' }),
    url: Type.Optional(
      Type.String({
        pattern: '^mqtt://',
        description: 'mqtt://[user:password@]host[:port]; default: the embedded server\'s listener (with nats.servers and no url: no publisher)',
      }),
    ),
    username: Type.Optional(Type.String({ minLength: 1 })),
    password: Type.Optional(Type.String({ minLength: 1 })),
    discoveryPrefix: Type.String({ pattern: '^[A-Za-z0-9_-]+(/[A-Za-z0-9_-]+)*$', default: 'homeassistant' }),
    offDelayS: Type.Integer({ minimum: 1, default: 10, description: 'how long HA shows motion / sound after an event' }),
  }),
  web: Obj({
    host: Type.String({ default: '127.0.0.1' }),
    port: Port(8080),
    token: Type.Optional(Type.String({ minLength: 16 })),
    // The Host allow-list (DNS rebinding): loopback names and web.host are always on it.
    allowedHosts: Type.Array(Type.String({ minLength: 1, maxLength: 255, pattern: '^[A-Za-z0-9._:\\[\\]-]+$' }), {
      default: [],
      description: 'names (or name:port) the rig is reached by besides 127.0.0.1, localhost, [::1] and web.host',
    }),
    users: Type.Array(
      Type.Object(
        {
          name: Type.String({ pattern: '^[A-Za-z0-9._@-]{1,64}$' }),
          passwordHash: Type.String({ pattern: '^scrypt\\$\\d+\\$\\d+\\$\\d+\\$[A-Za-z0-9_-]+\\$[A-Za-z0-9_-]+$', description: 'from `vigil passwd`' }),
          role: Type.Union([Type.Literal('viewer'), Type.Literal('operator')]),
        },
        { additionalProperties: false },
      ),
      { default: [] },
    ),
    tls: Type.Union(
      [
        Type.Literal('auto'),
        Type.Literal('off'),
        Type.Object({ cert: Type.String({ minLength: 1 }), key: Type.String({ minLength: 1 }) }, { additionalProperties: false }),
      ],
      { default: 'auto', description: 'auto: a kept self-signed certificate on a non-loopback bind, plain HTTP on loopback | off | { cert, key } PEM files' },
    ),
  }),
  media: Obj({
    rtmpPort: Port(1935),
    httpPort: Port(8000),
    probeIntervalMs: Ms(2000, 100),
    probeMisses: Type.Integer({ minimum: 1, default: 3 }),
    // At least two heartbeats (250 ms apart) of silence, so one late beat is not a freeze.
    heartbeatTimeoutMs: Type.Integer({
      minimum: 500,
      maximum: 60000,
      default: 1500,
      description: 'heartbeat silence after which the media server counts as frozen and is restarted',
    }),
    warmSpare: Type.Boolean({
      default: true,
      description:
        'keep a second media server process loaded and waiting (no port, ~75 MB RSS), so a restart after a crash or freeze serves in tens of ms instead of ~1 s; false: fork a new one at each restart',
    }),
  }),
  camera: Obj({
    source: Type.String({ minLength: 1, default: 'testsrc', description: 'testsrc | v4l2:/dev/videoN | rtsp://… | file:/path' }),
    width: Type.Integer({ minimum: 16, default: 1280 }),
    height: Type.Integer({ minimum: 16, default: 720 }),
    fps: Type.Integer({ minimum: 1, maximum: 120, default: 15 }),
    frameTimeoutMs: Ms(2000, 100),
    // Cross-checked with the source at load (infra/sources.ts cameraCodecs): copy needs a source that carries H.264 / AAC.
    videoCodec: Type.Optional(
      Type.Union([Type.Literal('copy'), Type.Literal('encode')], {
        description: "copy: pass the camera's H.264 through, its own keyframe interval (default for rtsp://) | encode: H.264 with a 1 s keyframe interval (default otherwise; needed for an H.265 or MJPEG camera)",
      }),
    ),
    audioCodec: Type.Optional(
      Type.Union([Type.Literal('copy'), Type.Literal('encode')], {
        description: 'copy: pass the camera\'s AAC through (rtsp:// or file: sources that carry AAC) | encode (default): AAC 64 kb/s mono from whatever the source sends',
      }),
    ),
  }),
  recorder: Obj({
    segmentS: Type.Integer({ minimum: 1, default: 10 }),
    minFreeBytes: Bytes(2 * GiB),
    stopBelowBytes: Bytes(1 * GiB),
    stallWarnMs: Ms(10000, 100),
    stallStopMs: Ms(30000, 100),
    mode: Type.Union([Type.Literal('manual'), Type.Literal('continuous'), Type.Literal('events')], {
      default: 'manual',
      description: 'manual: recorder.start/stop only | continuous: always recording, retention makes room | events: motion or sound opens a session',
    }),
    continuousSessionS: Type.Integer({ minimum: 10, maximum: 86400, default: 3600, description: 'continuous mode: one session per this many seconds' }),
    preRollS: Type.Integer({ minimum: 0, maximum: 60, default: 5, description: 'events mode: seconds of footage from before the trigger (0..60; kept in a 1 s segment buffer)' }),
    postRollS: Type.Integer({ minimum: 1, maximum: 3600, default: 30, description: 'events mode: the session ends this many seconds after the last event' }),
    warmStartS: Type.Number({
      minimum: 0,
      maximum: 10,
      default: 1,
      description:
        'manual and events modes: a start by hand opens with this many seconds of the newest buffered footage, so its first footage is on disk at once (a 1 s segment buffer of the live stream runs for it); 0: no buffer in manual mode, the first footage waits for the recorder ffmpeg',
    }),
    retention: Obj({
      maxSessions: Type.Integer({ minimum: 0, default: 0, description: '0: no limit' }),
      maxBytes: Bytes(0),
      maxAgeDays: Type.Number({
        minimum: 0,
        default: 30,
        description: 'finished sessions older than this are deleted (never one whose start a clock jump made implausible); 0: no limit',
      }),
      keepFreeBytes: Type.Optional(
        Type.Integer({
          minimum: 0,
          description: 'every mode: delete the oldest finished sessions of this rig while free space is below this; default minFreeBytes + max(256 MiB, 5 % of the disk); 0: off',
        }),
      ),
    }),
  }),
  audio: Obj({
    source: Type.String({
      minLength: 1,
      default: 'camera',
      description: "camera (the camera's live stream) | testsrc (synthetic bursts) | alsa:<device> | rtmp://… rtsp://… http(s)://… | file:/path",
    }),
    thresholdDb: Type.Number({ maximum: 0, default: -30 }),
    minMs: Ms(300),
    cooldownMs: Ms(5000),
  }),
  motion: Obj({
    threshold: Type.Number({ minimum: 0, maximum: 1, default: 0.02 }),
    minFrames: Type.Integer({ minimum: 1, default: 3 }),
    cooldownMs: Ms(10000),
    maxSnapshots: Type.Integer({ minimum: 1, default: 200 }),
    pixelThreshold: Type.Integer({ minimum: 1, maximum: 255, default: 25, description: 'grey-level change that counts a pixel as changed' }),
  }),
  logs: Obj({
    level: Type.Union(
      [
        Type.Literal('fatal'),
        Type.Literal('error'),
        Type.Literal('warn'),
        Type.Literal('info'),
        Type.Literal('debug'),
        Type.Literal('trace'),
        Type.Literal('silent'),
      ],
      { default: 'info' },
    ),
    vigilMaxBytes: Bytes(10 * MB),
    vigilBackups: Type.Integer({ minimum: 0, default: 5 }),
    commandsMaxBytes: Bytes(5 * MB),
    commandsBackups: Type.Integer({ minimum: 0, default: 3 }),
    frameDropsMaxBytes: Bytes(5 * MB),
    frameDropsBackups: Type.Integer({ minimum: 0, default: 3 }),
  }),
  governor: Obj({
    sampleMs: Ms(5000, 100),
    diskBytes: Obj({ warn: Bytes(10 * GiB), degrade: Bytes(5 * GiB), critical: Bytes(1 * GiB) }),
    cpuPercent: Obj({
      warn: Type.Number({ default: 60 }),
      degrade: Type.Number({ default: 70 }),
      critical: Type.Number({ default: 85 }),
    }),
    memoryPercent: Obj({
      warn: Type.Number({ default: 70 }),
      degrade: Type.Number({ default: 80 }),
      critical: Type.Number({ default: 95 }),
    }),
    /** A level is left only when the value is this far back past its threshold, for `releaseSamples` samples. */
    releaseMarginPercent: Type.Number({ minimum: 0, default: 5, description: 'CPU and memory: percentage points' }),
    releaseMarginDisk: Type.Number({ minimum: 0, default: 0.1, description: 'disk: fraction of the threshold' }),
    releaseSamples: Type.Integer({ minimum: 1, default: 2 }),
  }),
  notify: Obj({
    // Checked further in load.ts (http/https URL, known event names), one problem line each.
    webhooks: Type.Array(
      Type.Object(
        {
          url: Type.String({ minLength: 1, maxLength: 2048, description: 'http:// or https:// receiver' }),
          events: Type.Array(Type.String({ minLength: 1, maxLength: 64 }), {
            minItems: 1,
            description: 'alert.critical | alert.warning | alert.info | alert.* | event.motion | event.sound | event.<kind> | event.*',
          }),
          secret: Type.Optional(Type.String({ minLength: 16, description: 'HMAC-SHA256 key: X-Vigil-Signature: sha256=<hex of the body>' })),
          format: Type.Union([Type.Literal('json'), Type.Literal('ntfy')], { default: 'json' }),
        },
        { additionalProperties: false },
      ),
      { default: [], maxItems: 32, description: 'env VIGIL_NOTIFY_WEBHOOK=<url> adds one for alert.critical' },
    ),
    timeoutMs: Ms(5000, 100),
    retry: Obj({
      initialMs: Ms(1000, 1),
      factor: Type.Number({ minimum: 1, default: 2 }),
      // DESIGN.md §9.2: retries are never further apart than 60 s.
      maxMs: Type.Integer({ minimum: 1, maximum: 60000, default: 60000 }),
      windowMs: Ms(30 * 60 * 1000, 1000),
    }),
    maxPending: Type.Integer({ minimum: 1, default: 10000, description: 'outbox files kept; beyond this the oldest is dropped (alert notify.outbox_full)' }),
  }),
  supervisor: Obj({
    startTimeoutMs: Ms(20000, 1),
    shutdownMs: Ms(5000, 1),
    parkMs: Ms(300000, 1),
    backoff: BackoffSchema,
    intensity: IntensitySchema,
  }),
  /** DESIGN.md §9.4: off-box copies of finalized sessions in the Object Store bucket vigil_recordings. */
  upload: Obj({
    enabled: Type.Boolean({ default: false, description: 'put every finalized session into the NATS Object Store bucket vigil_recordings (<node>/<session>/<file>), digest-verified, resumable' }),
    deleteLocal: Type.Boolean({ default: false, description: 'delete the local session once every file of it is verified in the bucket (never the session being recorded)' }),
  }),
  shutdown: Obj({ timeoutMs: Ms(15000, 1) }),
  fleet: Obj({
    // DESIGN.md §9.4: a rig missing 3 of its heartbeats is offline for the fleet.
    heartbeatS: Type.Integer({ minimum: 1, maximum: 3600, default: 10, description: "seconds between this rig's writes of its vigil_rigs entry; silent for 3 of them = offline" }),
  }),
  inspect: Type.Union([Type.Literal('none'), Type.Literal('stately')], { default: 'none' }),
})

export type Config = Static<typeof ConfigSchema>
export type BackoffConfig = Static<typeof BackoffSchema>
export type IntensityConfig = Static<typeof IntensitySchema>
export type NatsConfig = Config['nats']
export type NotifyConfig = Config['notify']
export type WebhookConfig = NotifyConfig['webhooks'][number]
export type NatsAuthConfig = NonNullable<NatsConfig['auth']>
export type MqttConfig = Config['mqtt']
export type NatsTlsConfig = NonNullable<NatsConfig['tls']>
