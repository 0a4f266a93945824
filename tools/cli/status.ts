import type { NatsConnection } from '@nats-io/transport-node'
import type { ChildStatusView } from '../../actors/supervisor/index.js'
import type { BusStats } from '../../infra/nats/bus.js'
import { openRigsBucket, readRigSummaries, type RigSummary } from '../../infra/nats/rigsBucket.js'
import { silenceMs } from '../../machines/rigPresence.policy.js'
import { askEachNode, runClient, type ClientTarget } from './natsArgs.js'

const help = `usage: vigil status [--node N] [--json] [--watch] [--server URL] [--config F]
                    [--nkey SEEDFILE | --user U | --creds F] [--ca CAFILE]

Shows the supervisor tree of every reachable rig (or of --node N): each child's
state, restarts, pids, and since when, then its NATS link: what waits to be
sent (the on-disk outbox of alerts and events among it) and what was dropped
or refused since it started. Every other rig the fleet has ever seen
(the vigil_rigs bucket) follows on one line: "offline" with its last seen time
(and "stopped" when it said goodbye on a clean stop), or "not answering" while
its heartbeats are still fresh. --watch redraws it every second until Ctrl-C.
Exit 1 when a rig asked did not answer; rigs only remembered do not count.
`

export interface StatusReply {
  node: string
  state: string
  uptimeS: number
  ports: Record<string, number | null>
  children: ChildStatusView[]
  /** The rig's NATS link and outbox; absent from a rig older than this field. */
  nats?: BusStats
}

/**
 * One line for the NATS link: where it is, what waits (the outbox's alerts and events are a
 * part of it), and what was lost on the way: drops and refusals only when there were some.
 */
export function formatNats(n: BusStats): string {
  const parts = [
    n.connected ? `connected${n.server ? ` to ${n.server}` : ''}` : 'not connected',
    `${n.buffered} waiting${n.outbox ? ` (outbox ${n.outbox.pending}, ${(n.outbox.bytes / 1024).toFixed(1)} KiB)` : ''}`,
    n.unconfirmed > 0 ? `${n.unconfirmed} unconfirmed` : '',
    n.dropped > 0 ? `${n.dropped} dropped` : '',
    n.failed > 0 ? `${n.failed} refused` : '',
  ].filter(Boolean)
  return `nats: ${parts.join('  ')}`
}

export function formatStatus(s: StatusReply): string {
  const ports = Object.entries(s.ports)
    .filter(([, v]) => v !== null)
    .map(([k, v]) => `${k} ${v}`)
    .join(', ')
  const lines = [`${s.node}  ${s.state}  up ${s.uptimeS}s  (${ports})`]
  s.children.forEach((c, i) => {
    const branch = i === s.children.length - 1 ? '└──' : '├──'
    const extra = [
      c.restarts > 0 ? `restarts ${c.restarts}` : '',
      c.pids.length > 0 ? `pid ${c.pids.join(',')}` : '',
      c.nextRetryAt ? `retry at ${c.nextRetryAt}` : '',
      c.lastExit && c.status !== 'running' ? `last: ${c.lastExit.reason}` : '',
    ].filter(Boolean)
    lines.push(`${branch} ${c.id.padEnd(9)} ${c.state.padEnd(14)} ${extra.join('  ')}`)
  })
  if (s.nats) lines.push(formatNats(s.nats))
  return lines.join('\n')
}

/** A remembered rig that did not answer: `offline` past 3 of its heartbeats (or after a goodbye). */
export interface AbsentRig {
  node: string
  state: 'offline' | 'not answering'
  seenAt: string
  /** true: its last word was a goodbye (a clean stop). */
  stopped: boolean
  /** Its last summary, as it wrote it. */
  last: RigSummary
}

export function absentRig(s: RigSummary, now: number): AbsentRig {
  const silent = now - Date.parse(s.seenAt) > silenceMs(s.heartbeatS)
  return { node: s.node, state: s.goodbye || silent ? 'offline' : 'not answering', seenAt: s.seenAt, stopped: s.goodbye === true, last: s }
}

const ago = (ms: number) => (ms < 120_000 ? `${Math.round(ms / 1000)}s ago` : ms < 7_200_000 ? `${Math.round(ms / 60_000)}m ago` : `${Math.round(ms / 3_600_000)}h ago`)

export function formatAbsent(r: AbsentRig, now: number): string {
  return `${r.node}  ${r.state}${r.stopped ? ' (stopped)' : ''}  last seen ${r.seenAt} (${ago(now - Date.parse(r.seenAt))})  was ${r.last.state}`
}

/** The fleet's memory; nothing when there is no bucket (a rig not on a fleet) or it cannot be read. */
async function remembered(nc: NatsConnection, target: ClientTarget): Promise<RigSummary[]> {
  try {
    const kv = await openRigsBucket(nc, { node: target.node, create: false })
    return await readRigSummaries(kv)
  } catch {
    return []
  }
}

export async function run(argv: string[]): Promise<number> {
  return runClient<{ watch?: boolean }>('status', help, argv, { watch: { type: 'boolean', short: 'w' } }, async (nc, target, values) => {
    const once = async (out: string[]) => {
      const answered = new Set<string>()
      const fleet = remembered(nc, target)
      const code = await askEachNode<StatusReply>(nc, target, 'status', 'supervisor', 'status', (node, result) => {
        answered.add(node)
        out.push(values.json ? JSON.stringify(result) : formatStatus(result))
      }, { quietWhenNone: true })
      const now = Date.now()
      const absent = (await fleet).filter((s) => !answered.has(s.node) && (!target.nodeGiven || s.node === target.node)).map((s) => absentRig(s, now))
      for (const r of absent) out.push(values.json ? JSON.stringify(r) : formatAbsent(r, now))
      if (answered.size === 0 && absent.length === 0 && !target.nodeGiven) process.stderr.write('vigil status: no rig answered on this NATS server\n')
      return code
    }
    if (!values.watch) {
      const out: string[] = []
      const code = await once(out)
      if (out.length > 0) process.stdout.write(`${out.join('\n')}\n`)
      return code
    }
    let stop = false
    const onSignal = () => {
      stop = true
    }
    process.once('SIGINT', onSignal)
    process.once('SIGTERM', onSignal)
    while (!stop && !nc.isClosed()) {
      const out: string[] = []
      await once(out)
      // Clear the screen and redraw: the same live states as /inspect, in the terminal.
      process.stdout.write(`\x1b[2J\x1b[H${new Date().toISOString()}\n${out.join('\n')}\n`)
      await new Promise((r) => setTimeout(r, 1000))
    }
    return 0
  })
}
