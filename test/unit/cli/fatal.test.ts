import t from 'tap'
import { EventEmitter } from 'node:events'
import { pino } from 'pino'
import { EXIT_FATAL, installFatalHandlers, type FatalInfo } from '../../../tools/cli/fatal.js'

function capture() {
  const lines: Array<Record<string, unknown>> = []
  const log = pino({ level: 'info' }, { write: (s: string) => void lines.push(JSON.parse(s) as Record<string, unknown>) })
  return { log, lines }
}

t.test('first fatal: logged once with its stack and a trace id, shutdown asked; later ones force', async (t) => {
  const target = new EventEmitter()
  const { log, lines } = capture()
  const first: FatalInfo[] = []
  const again: FatalInfo[] = []
  const handlers = installFatalHandlers({ log, target, onFirst: (i) => first.push(i), onAgain: (i) => again.push(i) })
  t.equal(EXIT_FATAL, 70)
  target.emit('uncaughtException', new Error('boom'))
  t.equal(first.length, 1)
  t.equal(first[0]!.kind, 'uncaughtException')
  t.match(first[0]!.traceId, /^[0-9a-f]{32}$/)
  t.equal(lines.length, 1)
  t.equal(lines[0]!.level, 60, 'fatal')
  t.match(lines[0]!.msg, /fatal uncaughtException: boom/)
  t.match((lines[0]!.err as { stack: string }).stack, /Error: boom\n\s+at /, 'with its stack')
  t.equal(lines[0]!.traceId, first[0]!.traceId)
  t.equal(handlers.first, first[0])

  target.emit('unhandledRejection', 'not an error')
  target.emit('uncaughtException', new Error('three'))
  target.emit('uncaughtException', new Error('four'))
  t.equal(first.length, 1, 'the shutdown is asked for once')
  t.equal(again.length, 3, 'every later one forces (idempotent)')
  t.match(again[0]!.err.message, /unhandledRejection with a non-Error value: 'not an error'/)
  t.equal(lines.length, 2, 'only the second is logged too: a flood is not')
  handlers.remove()
  t.equal(target.listenerCount('uncaughtException') + target.listenerCount('unhandledRejection'), 0)
})

t.test('an error that carries a trace id keeps it', async (t) => {
  const target = new EventEmitter()
  const { log } = capture()
  let info: FatalInfo | undefined
  installFatalHandlers({ log, target, onFirst: (i) => (info = i), onAgain: () => {} })
  target.emit('unhandledRejection', Object.assign(new Error('from a command'), { traceId: 'abc123def456' }))
  t.equal(info?.traceId, 'abc123def456')
})
