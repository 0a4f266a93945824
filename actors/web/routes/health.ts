import type { FastifyInstance } from 'fastify'
import type { Readiness } from '../health.js'
import type { MetricsSource, WebMetrics } from '../metrics.js'

export interface HealthDeps {
  uptimeS: () => number
  readiness: () => Promise<Readiness>
  metrics: WebMetrics
  metricsSource: MetricsSource
}

export function registerHealthRoutes(app: FastifyInstance, deps: HealthDeps): void {
  // Liveness: answers from memory, nothing else. The web's own probe and every
  // load balancer hit it; it must stay fast and must not say anything secret.
  app.get(
    '/health',
    {
      config: { role: 'public' },
      schema: {
        response: {
          200: { type: 'object', required: ['status', 'uptimeS'], properties: { status: { type: 'string' }, uptimeS: { type: 'number' } }, additionalProperties: false },
        },
      },
    },
    async () => ({ status: 'ok', uptimeS: deps.uptimeS() }),
  )

  app.get('/health/ready', { config: { role: 'viewer' }, schema: {} }, async (_request, reply) => {
    const r = await deps.readiness()
    return reply.code(r.ready ? 200 : 503).send({ status: r.ready ? 'ready' : 'not_ready', ...r })
  })

  app.get('/metrics', { config: { role: 'viewer' }, schema: {} }, async (_request, reply) => {
    const text = await deps.metrics.render(deps.metricsSource)
    return reply.header('Content-Type', deps.metrics.contentType).send(text)
  })
}
