import type { ChildStatusView } from '../../actors/supervisor/index.js'
import { askEachNode, runClient } from './natsArgs.js'

const help = `usage: vigil status [--node N] [--json] [--watch] [--server URL] [--config F]
                    [--nkey SEEDFILE | --user U | --creds F] [--ca CAFILE]

Shows the supervisor tree of every reachable rig (or of --node N): each child's
state, restarts, pids, and since when. --watch redraws it every second until Ctrl-C.
`

export interface StatusReply {
  node: string
  state: string
  uptimeS: number
  ports: Record<string, number | null>
  children: ChildStatusView[]
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
  return lines.join('\n')
}

export async function run(argv: string[]): Promise<number> {
  return runClient<{ watch?: boolean }>('status', help, argv, { watch: { type: 'boolean', short: 'w' } }, async (nc, target, values) => {
    const once = (out: string[]) =>
      askEachNode<StatusReply>(nc, target, 'status', 'supervisor', 'status', (_node, result) => {
        out.push(values.json ? JSON.stringify(result) : formatStatus(result))
      })
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
