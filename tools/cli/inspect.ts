import { askEachNode, runClient } from './natsArgs.js'
import type { StatusReply } from './status.js'

const help = `usage: vigil inspect [--node N] [--server URL] [--config F]

Prints the URL of each reachable rig's live statechart inspector (/inspect on its web
server). Open it in a browser on the rig (the web server binds loopback by default).
For Stately's own inspector, start the rig with: vigil start --inspect stately
`

export async function run(argv: string[]): Promise<number> {
  return runClient<Record<string, never>>('inspect', help, argv, {}, async (nc, target) => {
    return await askEachNode<StatusReply>(nc, target, 'inspect', 'supervisor', 'status', (node, result) => {
      const web = result.ports.web
      process.stdout.write(`${node}  ${web ? `http://127.0.0.1:${web}/inspect` : '(no web server)'}\n`)
    })
  })
}
