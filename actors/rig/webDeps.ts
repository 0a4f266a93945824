import type { FastifyPluginAsync } from 'fastify'
import { probeMediaHttp } from '../media/probe.js'
import type { RigContext } from './children.js'
import type { RecordingView, WebMetrics } from '../web/metrics.js'
import { webTlsMode } from '../web/security/tls.js'
import type { WebDeps } from '../web/index.js'

/**
 * The web's deps from a rig (here, in the composition root, so the web never imports the rig): everything comes from RigContext, plus what only
 * the composition root holds (the metrics made before the command router, the
 * recorder's status getter, the inspector's routes).
 */
export function webDepsFromRig(
  ctx: RigContext,
  extra: { metrics: WebMetrics; recorderStatus?: () => RecordingView; plugins?: FastifyPluginAsync[] },
): WebDeps {
  const { config } = ctx
  return {
    // The port resolved at rig start (config 0 → a free one): a restarted server binds the same.
    config: {
      host: config.web.host,
      port: ctx.ports.web,
      ...(config.web.token ? { token: config.web.token } : {}),
      users: config.web.users,
      allowedHosts: config.web.allowedHosts,
      tls: webTlsMode(config.web.tls, config.web.host, config.dataDir),
    },
    node: ctx.node,
    log: ctx.log.child({ actor: 'web' }),
    router: ctx.router,
    alerts: ctx.alerts,
    alert: ctx.alert,
    feed: ctx.feed,
    events: ctx.events,
    preview: ctx.preview,
    supervisor: ctx.supervisor,
    dirs: { recordings: ctx.dirs.recordings, snapshots: ctx.dirs.snapshots },
    ports: { ...ctx.ports },
    stopBelowBytes: config.recorder.stopBelowBytes,
    natsConnected: () => ctx.bus.stats().connected,
    mediaReachable: () => probeMediaHttp({ httpPort: ctx.ports.flv }, { timeoutMs: 1000 }).then(
      () => true,
      () => false,
    ),
    metrics: extra.metrics,
    ...(extra.recorderStatus ? { recorderStatus: extra.recorderStatus } : {}),
    ...(extra.plugins ? { plugins: extra.plugins } : {}),
  }
}
