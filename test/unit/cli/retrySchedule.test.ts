import t from 'tap'
import { PERMISSION_DENIED } from '../../../infra/nats/client.js'
import { DEFAULT_TRIES, isRetryable, parseTries, retryDelayMs } from '../../../tools/cli/retrySchedule.js'

t.test('vigil cmd retries only what the rig did not answer for sure', async (t) => {
  t.ok(isRetryable({ code: 'TIMEOUT', message: 'no reply' }))
  t.ok(isRetryable({ code: 'UNAVAILABLE', message: 'no responders' }))
  t.notOk(isRetryable({ code: 'UNAVAILABLE', message: 'may not send', details: { reason: PERMISSION_DENIED } }), 'a permissions refusal will not change')
  for (const code of ['BAD_REQUEST', 'NOT_FOUND', 'ALREADY_RECORDING', 'NOT_RECORDING', 'DISK_FULL', 'SHUTTING_DOWN', 'INTERNAL'] as const) {
    t.notOk(isRetryable({ code, message: 'x' }), `${code} is the rig's answer`)
  }
})

t.test('backoff: 0.5 s, 1 s, 2 s … capped at 5 s, jittered ±20 %', async (t) => {
  const mid = () => 0.5
  t.same([2, 3, 4, 5, 6, 7, 8].map((n) => retryDelayMs(n, mid)), [500, 1000, 2000, 4000, 5000, 5000, 5000])
  t.equal(retryDelayMs(2, () => 0), 400)
  t.equal(retryDelayMs(2, () => 1), 600)
})

t.test('--retries: tries in all, 3 by default', async (t) => {
  t.equal(parseTries(undefined), DEFAULT_TRIES)
  t.equal(DEFAULT_TRIES, 3)
  t.equal(parseTries('1'), 1)
  t.equal(parseTries('5'), 5)
  for (const bad of ['0', '-1', '2.5', 'x', '1000']) t.match(parseTries(bad), { error: /--retries/ }, bad)
})
