/**
 * actors/nats/liveness.ts against real sockets: a live nats-server answers; a
 * SIGSTOPped one (its port still accepts: the kernel completes the handshake into
 * the backlog), a listener that never greets, and a closed port do not.
 */
import t from 'tap'
import { createServer, type Socket } from 'node:net'
import { probeNatsInfo } from '../../../actors/nats/liveness.js'
import { tcpReachable } from '../../../actors/nats/readiness.js'
import { freePort, startNatsServer } from '../../helpers/natsServer.js'
import { waitProcState } from '../../helpers/procs.js'

t.test('a running nats-server answers; frozen with SIGSTOP it does not, though its port still accepts', async (t) => {
  const server = await startNatsServer({ jetstream: false })
  t.teardown(async () => {
    try {
      process.kill(server.pid, 'SIGCONT')
    } catch {}
    await server.stop()
  })
  await probeNatsInfo({ host: '127.0.0.1', port: server.port, timeoutMs: 2000 })
  t.pass('INFO received from a running server')

  process.kill(server.pid, 'SIGSTOP')
  // Delivered asynchronously: until it is stopped for real the server may still greet.
  t.equal(await waitProcState(server.pid, 'T'), 'T', `nats-server ${server.pid} is stopped (state T)`)
  t.ok(await tcpReachable('127.0.0.1', server.port, 1000), 'a bare TCP connect still succeeds against the frozen server')
  const started = Date.now()
  await t.rejects(probeNatsInfo({ host: '127.0.0.1', port: server.port, timeoutMs: 500 }), /no INFO from 127\.0\.0\.1:\d+ within 500 ms/)
  t.ok(Date.now() - started < 5000, 'the miss is bounded by the timeout')

  process.kill(server.pid, 'SIGCONT')
  await probeNatsInfo({ host: '127.0.0.1', port: server.port, timeoutMs: 5000 })
  t.pass('answers again once continued')
})

t.test('a listener that is not nats-server, and a closed port, are misses', async (t) => {
  const sockets = new Set<Socket>()
  const silent = createServer((s) => sockets.add(s))
  const chatty = createServer((s) => s.end('HTTP/1.1 400 Bad Request\r\n\r\n'))
  for (const srv of [silent, chatty]) await new Promise<void>((r) => srv.listen(0, '127.0.0.1', () => r()))
  t.teardown(() => {
    for (const s of sockets) s.destroy()
    silent.close()
    chatty.close()
  })
  const portOf = (srv: typeof silent) => (srv.address() as { port: number }).port
  await t.rejects(probeNatsInfo({ host: '127.0.0.1', port: portOf(silent), timeoutMs: 300 }), /no INFO/)
  await t.rejects(probeNatsInfo({ host: '127.0.0.1', port: portOf(chatty), timeoutMs: 1000 }), /unexpected greeting/)
  await t.rejects(probeNatsInfo({ host: '127.0.0.1', port: await freePort(), timeoutMs: 1000 }), /ECONNREFUSED/)
  const ac = new AbortController()
  const pending = probeNatsInfo({ host: '127.0.0.1', port: portOf(silent), timeoutMs: 10_000, signal: ac.signal })
  ac.abort()
  await t.rejects(pending, /cancelled/, 'an abort (the machine left `probing`) ends it at once')
})
