/**
 * actors/nats/liveness.ts against real sockets: a live nats-server answers over one kept
 * connection; a SIGSTOPped one (its port still accepts: the kernel completes the
 * handshake into the backlog), a listener that never greets, a closed port and a wrong
 * credential do not.
 */
import t, { type Test } from 'tap'
import { createServer, type Socket } from 'node:net'
import { mkdtemp, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { nkeyAuthenticator, nkeys } from '@nats-io/transport-node'
import { createNatsPinger } from '../../../actors/nats/liveness.js'
import type { NatsCredentialOptions } from '../../../infra/nats/credentials.js'
import { tcpReachable } from '../../../actors/nats/readiness.js'
import { freePort, startNatsServer, type TestNatsServer } from '../../helpers/natsServer.js'
import { waitProcState } from '../../helpers/procs.js'

/** A server with its monitoring port on, so the test reads what the server itself counts. */
async function monitoredServer(t: Test, extra = ''): Promise<{ server: TestNatsServer; varz(): Promise<{ connections: number; total_connections: number }> }> {
  const dir = await mkdtemp(join(tmpdir(), 'vigil-liveness-'))
  const http = await freePort()
  const conf = join(dir, 'nats.conf')
  await writeFile(conf, `http: 127.0.0.1:${http}\n${extra}\n`)
  const server = await startNatsServer({ jetstream: false, confFile: conf })
  t.teardown(async () => {
    try {
      process.kill(server.pid, 'SIGCONT')
    } catch {}
    await server.stop()
    await rm(dir, { recursive: true, force: true })
  })
  return { server, varz: async () => (await (await fetch(`http://127.0.0.1:${http}/varz`)).json()) as { connections: number; total_connections: number } }
}

t.test('a running nats-server answers over one kept connection; frozen with SIGSTOP it does not, though its port still accepts', async (t) => {
  const { server, varz } = await monitoredServer(t)
  const pinger = createNatsPinger({ host: '127.0.0.1' })
  t.teardown(() => pinger.close())
  for (let i = 0; i < 20; i++) await pinger.ping(server.port, 2000)
  t.pass('20 pings answered')
  const counted = await varz()
  // A connection per probe was 1,800 an hour, each kept in the server's ring of closed connections.
  t.equal(counted.total_connections, 1, 'the server saw one connection for all 20 (not one a ping)')
  t.equal(counted.connections, 1, 'and it is still open')

  process.kill(server.pid, 'SIGSTOP')
  // Delivered asynchronously: until it is stopped for real the server may still answer.
  t.equal(await waitProcState(server.pid, 'T'), 'T', `nats-server ${server.pid} is stopped (state T)`)
  t.ok(await tcpReachable('127.0.0.1', server.port, 1000), 'a bare TCP connect still succeeds against the frozen server')
  const started = Date.now()
  await t.rejects(pinger.ping(server.port, 500), /no PONG from 127\.0\.0\.1:\d+ within 500 ms/)
  t.ok(Date.now() - started < 5000, 'the miss is bounded by the timeout')
  // A fresh connection (the miss dropped the old one) misses the same way.
  await t.rejects(pinger.ping(server.port, 500), /no PONG .* within 500 ms/)

  process.kill(server.pid, 'SIGCONT')
  await pinger.ping(server.port, 5000)
  t.pass('answers again once continued')
  pinger.close()
  for (let i = 0; i < 50 && (await varz()).connections > 0; i++) await new Promise((r) => setTimeout(r, 100))
  t.equal((await varz()).connections, 0, 'close() ends the kept connection')
})

t.test('behind auth: the rig credential answers (password, token, nkey), none is a miss', async (t) => {
  const user = nkeys.createUser()
  const seed = user.getSeed()
  const cases: Array<{ kind: string; conf: string; credentials: NatsCredentialOptions }> = [
    { kind: 'password', conf: 'authorization { user: rig, password: "s3cret-pass" }', credentials: { user: 'rig', pass: 's3cret-pass' } },
    { kind: 'token', conf: 'authorization { token: "t0ken-of-the-rig" }', credentials: { token: 't0ken-of-the-rig' } },
    // The server sends a nonce in INFO; the pinger signs it with the seed.
    { kind: 'nkey', conf: `authorization { users: [ { nkey: ${user.getPublicKey()} } ] }`, credentials: { authenticator: nkeyAuthenticator(seed) } },
  ]
  for (const c of cases) {
    const { server } = await monitoredServer(t, c.conf)
    const anonymous = createNatsPinger({ host: '127.0.0.1' })
    const rig = createNatsPinger({ host: '127.0.0.1', credentials: c.credentials })
    t.teardown(() => {
      anonymous.close()
      rig.close()
    })
    await t.rejects(anonymous.ping(server.port, 2000), /authorization/i, `${c.kind}: no credential is refused`)
    await rig.ping(server.port, 2000)
    await rig.ping(server.port, 2000)
    t.pass(`${c.kind}: the rig credential is answered, twice`)
  }
})

t.test('a listener that is not nats-server, and a closed port, are misses', async (t) => {
  const sockets = new Set<Socket>()
  const silent = createServer((s) => sockets.add(s))
  const chatty = createServer((s) => s.end('HTTP/1.1 400 Bad Request\r\n\r\n'))
  for (const srv of [silent, chatty]) await new Promise<void>((r) => srv.listen(0, '127.0.0.1', () => r()))
  const pinger = createNatsPinger({ host: '127.0.0.1' })
  t.teardown(() => {
    pinger.close()
    for (const s of sockets) s.destroy()
    silent.close()
    chatty.close()
  })
  const portOf = (srv: typeof silent) => (srv.address() as { port: number }).port
  await t.rejects(pinger.ping(portOf(silent), 300), /no PONG .* within 300 ms/)
  await t.rejects(pinger.ping(portOf(chatty), 1000), /127\.0\.0\.1:\d+: /)
  await t.rejects(pinger.ping(await freePort(), 1000), /127\.0\.0\.1:\d+: /)
  const ac = new AbortController()
  const pending = pinger.ping(portOf(silent), 10_000, ac.signal)
  ac.abort()
  await t.rejects(pending, /cancelled/, 'an abort (the machine left `probing`) ends it at once')
})
