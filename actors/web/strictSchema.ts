import type { TSchema } from '@sinclair/typebox'
import { TypeCompiler } from '@sinclair/typebox/compiler'

/**
 * Fastify's Ajv coerces types (`{ "name": 5 }` becomes "5"), which suits query
 * strings and nothing else: a command body is checked as sent, the way the NATS
 * door checks it. Route schemas given to this compiler are TypeBox schemas.
 */
export function strictValidatorCompiler({ schema }: { schema: unknown }) {
  const check = TypeCompiler.Compile(schema as TSchema)
  return (data: unknown) => {
    if (check.Check(data)) return { value: data }
    const validation = [...check.Errors(data)].slice(0, 20).map((e) => ({ instancePath: e.path, message: e.message }))
    const summary = validation.map((v) => `${v.instancePath || '/'} ${v.message}`).join('; ')
    return { error: Object.assign(new Error(summary), { validation }) }
  }
}
