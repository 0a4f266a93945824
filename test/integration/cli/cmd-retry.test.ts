import { readdir } from 'node:fs/promises'
import { createServer, connect as tcpConnect, type Server, type Socket } from 'node:net'
import { join } from 'node:path'
import t from 'tap'
import { freePort, startNatsServer } from '../../helpers/natsServer.js'
import { startTestRig } from '../../helpers/rig.js'
import { runVigil } from '../../helpers/vigilProcess.js'

/**
 * DESIGN.md §9.5: `vigil cmd` over a link that loses a reply. Between the CLI and the
 * rig's nats-server sits a TCP relay that forwards everything except the first reply to
 * an inbox: it cuts the connection there instead, as a dropped Wi-Fi link would. The rig
 * has run the command; the CLI never heard. Its retry (a new connection, the same key)
 * must get the first reply, and the rig must have run the command once.
 */

t.setTimeout(180_000)

/** A relay to 127.0.0.1:`upstream` that kills its first connection when the first reply (a MSG/HMSG to an inbox: `_INBOX.` or the CLI's per-node `_INBOX_<node>.`) comes back. */
async function replyDroppingRelay(upstream: number): Promise<{ port: number; dropped: () => number; connections: () => number; close(): Promise<void> }> {
  const port = await freePort()
  const sockets = new Set<Socket>()
  let dropped = 0
  let connections = 0
  const server: Server = createServer((client) => {
    connections += 1
    const first = connections === 1
    const rig = tcpConnect(upstream, '127.0.0.1')
    sockets.add(client).add(rig)
    const end = () => {
      client.destroy()
      rig.destroy()
      sockets.delete(client)
      sockets.delete(rig)
    }
    client.on('error', end).on('close', end)
    rig.on('error', end).on('close', end)
    client.pipe(rig)
    // Matched over the chunk boundary too: a reply split across two reads is still caught.
    let tail = ''
    rig.on('data', (chunk: Buffer) => {
      const text = tail + chunk.toString('latin1')
      tail = text.slice(-16)
      if (first && dropped === 0 && /(^|\r\n)H?MSG _INBOX[._]/.test(text)) {
        dropped += 1
        end()
        return
      }
      client.write(chunk)
    })
  })
  await new Promise<void>((res, rej) => server.once('error', rej).listen(port, '127.0.0.1', () => res()))
  return {
    port,
    dropped: () => dropped,
    connections: () => connections,
    async close() {
      for (const s of sockets) s.destroy()
      await new Promise<void>((res) => server.close(() => res()))
    },
  }
}

t.test('vigil cmd recorder start: the first reply is lost, the retry gets it; the rig ran the start once', async (t) => {
  const rig = await startTestRig(t, { node: 'retry' })
  await rig.ready(['media', 'camera', 'recorder'])
  const relay = await replyDroppingRelay(rig.nats().port)
  t.teardown(() => relay.close())

  const run = await runVigil(['cmd', 'recorder', 'start', '--name', 'nap', '--node', 'retry', '--server', `nats://127.0.0.1:${relay.port}`, '--timeout', '4000'])
  t.equal(relay.dropped(), 1, 'the relay dropped the first reply')
  t.ok(relay.connections() >= 2, 'the CLI came back on a new connection')
  t.equal(run.code, 0, `exit 0 (stderr: ${run.stderr})`)
  t.match(run.stderr, /try 1 of 3: (TIMEOUT|UNAVAILABLE).*trying again in .* \(idempotency key cli-/, 'the retry is told on stderr')
  const reply = JSON.parse(run.stdout) as { ok: boolean; result: { id: string; name: string } }
  t.match(reply, { ok: true, result: { name: 'nap' } }, 'the ok reply is printed')

  const status = await rig.cmd<{ state: string; session: { id: string } | null }>('recorder', 'status')
  t.match(status, { ok: true, result: { state: 'recording', session: { id: reply.result.id } } }, 'recording the session the CLI printed')
  const sessions = (await readdir(join(rig.dataDir, 'recordings'))).filter((d) => /^\d{8}T\d{6}Z-/.test(d))
  t.same(sessions, [reply.result.id], 'one session: the start ran once')
  t.match(await rig.cmd('recorder', 'stop'), { ok: true })
})

t.test('vigil cmd: no responder is retried --retries N tries in all, each noted; --retries 1 does not retry', async (t) => {
  const nats = await startNatsServer({ jetstream: false })
  t.teardown(nats.stop)
  const server = ['--server', nats.url, '--node', 'nobody', '--timeout', '1000']
  const [twice, once, bad] = await Promise.all([
    runVigil(['cmd', 'recorder', 'start', ...server, '--retries', '2']),
    runVigil(['cmd', 'recorder', 'start', ...server, '--retries', '1']),
    runVigil(['cmd', 'supervisor', 'status', '--retries', '0']),
  ])
  t.equal(twice.code, 1, 'still nobody: exit 1')
  t.equal(twice.stderr.match(/trying again/g)?.length, 1, `one retry noted (${twice.stderr})`)
  t.match(twice.stderr, /try 1 of 2: UNAVAILABLE: nobody serves vigil\.nobody\.cmd\.recorder\.start/)
  t.match(twice.stdout, /"code": "UNAVAILABLE"/, 'the last reply is printed')
  t.equal(once.code, 1)
  t.notMatch(once.stderr, /trying again/, '--retries 1: one try')
  t.equal(bad.code, 2)
  t.match(bad.stderr, /--retries takes the number of tries in all/)
})
