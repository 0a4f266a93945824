import { decodeJson } from '../../infra/nats/codec.js'
import { subjects } from '../../infra/subjects.js'
import type { Alert } from '../../infra/alerts.js'
import { askEachNode, runClient } from './natsArgs.js'

const help = `usage: vigil alerts [--node N] [--follow] [--json] [--server URL] [--config F]
                    [--nkey SEEDFILE | --user U | --creds F] [--ca CAFILE]

Lists the last alerts of every reachable rig (or of --node N), newest first.
--follow streams alerts as they are raised (vigil.*.alert.>, or one node's) until Ctrl-C.
--json prints one JSON object per line.
`

const formatAlert = (a: Alert) =>
  `${a.at}  ${a.severity.toUpperCase().padEnd(8)} ${a.node}/${a.source}  ${a.code}${a.count > 1 ? ` ×${a.count}` : ''}  ${a.message}`

export async function run(argv: string[]): Promise<number> {
  return runClient<{ follow?: boolean }>('alerts', help, argv, { follow: { type: 'boolean', short: 'f' } }, async (nc, target, values) => {
    const print = (a: Alert) => process.stdout.write(`${values.json ? JSON.stringify(a) : formatAlert(a)}\n`)
    if (values.follow) {
      const sub = nc.subscribe(subjects.alertsOf(target.nodeGiven ? target.node : '*'))
      const stop = () => sub.unsubscribe()
      process.once('SIGINT', stop)
      process.once('SIGTERM', stop)
      process.stderr.write(`following ${sub.getSubject()} (Ctrl-C to stop)\n`)
      // The fleet's alerts (fleet.rig_offline/online) come from every rig that saw it, under
      // one id; a resend after a reconnect too: print each (id, count) once.
      const seen = new Set<string>()
      for await (const msg of sub) {
        const decoded = decodeJson(msg.data)
        if (!decoded.ok) continue
        const a = decoded.value as Alert
        const key = `${a.id}:${a.count}`
        if (seen.has(key)) continue
        seen.add(key)
        if (seen.size > 10_000) seen.delete(seen.values().next().value!)
        print(a)
      }
      return 0
    }
    return await askEachNode<{ alerts: Alert[]; counts: Record<string, number> }>(nc, target, 'alerts', 'alerts', 'list', (node, result) => {
      if (!values.json) {
        const c = result.counts
        process.stdout.write(`# ${node}: ${c.critical ?? 0} critical, ${c.warning ?? 0} warning, ${c.info ?? 0} info\n`)
      }
      for (const a of result.alerts) print(a)
    })
  })
}
