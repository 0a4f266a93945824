import { readFileSync } from 'node:fs'
import { resolve } from 'node:path'
import { fileURLToPath } from 'node:url'
import { mqttChild } from '../mqtt/index.js'
import { mqttEndpoint } from '../mqtt/endpoint.js'
import type { SupervisedChild } from '../supervisor/index.js'
import type { RigContext, SpecBuilder } from './children.js'

const repoRoot = resolve(fileURLToPath(import.meta.url), '../../..')

function packageVersion(): string {
  try {
    const pkg = JSON.parse(readFileSync(resolve(repoRoot, 'package.json'), 'utf8')) as { version?: unknown }
    return typeof pkg.version === 'string' ? pkg.version : 'unknown'
  } catch {
    return 'unknown'
  }
}

/**
 * The MQTT publisher (Home Assistant discovery, availability, the recording sensor) when
 * there is somewhere to publish; started last, so nothing waits for a broker.
 */
export function mqttChildren(ctx: RigContext, spec: SpecBuilder): SupervisedChild[] {
  const where = mqttEndpoint(ctx.config, ctx.ports.mqtt)
  const log = ctx.log.child({ actor: 'mqtt' })
  if ('off' in where) {
    log.info({ why: where.off }, 'mqtt: no Home Assistant discovery publisher')
    return []
  }
  const recorderState = () => ctx.supervisor().children().find((c) => c.id === 'recorder')?.state ?? 'idle'
  return [
    spec('mqtt', {
      factory: mqttChild({
        endpoint: where.endpoint,
        discovery: {
          node: ctx.node,
          prefix: ctx.config.mqtt.discoveryPrefix,
          swVersion: packageVersion(),
          offDelayS: { motion: ctx.config.mqtt.offDelayS, sound: ctx.config.mqtt.offDelayS },
        },
        feed: ctx.feed,
        recorderState,
        log,
        alert: ctx.alert,
      }),
    }),
  ]
}
