import { silentLogger } from '../../infra/logger.js'
import { ensureStreams } from '../../infra/nats/streams.js'
import { ensureRecordingsBucket } from '../../infra/nats/recordingsBucket.js'
import { isPermissionDenied, openRigsBucket, rigsBucketReplicas } from '../../infra/nats/rigsBucket.js'
import { RECORDINGS_BUCKET, RIGS_BUCKET } from '../../infra/subjects.js'
import { runClient } from './natsArgs.js'

const help = `usage: vigil fleet init [--server URL] [--nkey F | --user U | --creds F] [--ca F] [--config F]

Creates (or brings up to date) the JetStream streams every rig publishes into (VIGIL_ALERTS,
VIGIL_EVENTS, VIGIL_STATE), the KV bucket ${RIGS_BUCKET} where each rig keeps its summary, and
the Object Store bucket ${RECORDINGS_BUCKET} that rigs with upload.enabled copy finalized
recordings into: three replicas when the server it reaches is one of a cluster of three or
more (run it with every server up), one otherwise. Run it once per cluster, and again after
growing one, with an operator's identity: a rig made by
\`vigil nats-config\` may not manage streams (an update could shrink every rig's history);
it only publishes. Exit 1 if a stream could not be made.
`

const DENIED = 'this identity may not manage streams (use an operator\'s)'

export async function run(argv: string[]): Promise<number> {
  const [verb, ...rest] = argv
  if (verb !== 'init') {
    ;(verb === '--help' || verb === '-h' ? process.stdout : process.stderr).write(help)
    return verb === '--help' || verb === '-h' ? 0 : 2
  }
  return runClient('fleet init', help, rest, {}, async (nc) => {
    const r = await ensureStreams(nc, { log: silentLogger() })
    for (const name of r.ready) process.stdout.write(`${name}  ready\n`)
    for (const f of r.failed) process.stderr.write(`${f.name}  failed: ${f.denied ? DENIED : f.reason}\n`)
    let bucketFailed = false
    try {
      await openRigsBucket(nc, { create: true })
      process.stdout.write(`${RIGS_BUCKET}  ready (R${rigsBucketReplicas(nc)})\n`)
    } catch (err) {
      bucketFailed = true
      process.stderr.write(`${RIGS_BUCKET}  failed: ${isPermissionDenied(err) ? DENIED : (err as Error).message}\n`)
    }
    try {
      const b = await ensureRecordingsBucket(nc)
      process.stdout.write(`${RECORDINGS_BUCKET}  ready (R${b.replicas})\n`)
    } catch (err) {
      bucketFailed = true
      process.stderr.write(`${RECORDINGS_BUCKET}  failed: ${(err as Error).message}\n`)
    }
    return r.failed.length > 0 || bucketFailed ? 1 : 0
  })
}
