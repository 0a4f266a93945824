/**
 * Issue 13 (hygiene) finding 5's sweep: wherever a key from outside is assigned into a
 * plain object (the config file's merge, `vigil cmd --<arg>`), `__proto__` must stay a
 * key that is refused, never become a prototype. And the shape check itself.
 */
import t from 'tap'
import { writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { jsonShapeProblem } from '../../../infra/jsonShape.js'
import { ConfigError, loadConfig } from '../../../infra/config/load.js'
import { parseArgPairs } from '../../../tools/cli/cmd.js'

t.test('jsonShapeProblem finds forbidden keys and depth without recursion', async (t) => {
  t.equal(jsonShapeProblem({ a: [1, { b: 'x' }] }, 32), null)
  t.match(jsonShapeProblem(JSON.parse('{"a":[{"__proto__":{}}]}'), 32), { reason: 'forbidden key', key: '__proto__', path: '/a/0/__proto__' })
  t.match(jsonShapeProblem({ constructor: 1 }, 32), { reason: 'forbidden key', key: 'constructor' })
  t.match(jsonShapeProblem({ a: { prototype: 1 } }, 32), { reason: 'forbidden key', key: 'prototype' })
  const deep = JSON.parse('['.repeat(200_000) + ']'.repeat(200_000)) as unknown
  t.match(jsonShapeProblem(deep, 32), { reason: 'too deep', limit: 32 })
  t.equal(jsonShapeProblem(JSON.parse('['.repeat(33) + ']'.repeat(33)), 32), null, '32 levels below the top are fine')
  t.match(jsonShapeProblem(JSON.parse('['.repeat(34) + ']'.repeat(34)), 32), { reason: 'too deep' })
})

t.test('a config file with a __proto__ key is a config error, not a prototype', async (t) => {
  const cwd = t.testdir()
  writeFileSync(join(cwd, 'c.json'), '{"__proto__":{"web":{"host":"0.0.0.0","port":1}}}')
  let err: unknown
  try {
    const config = loadConfig({ cwd, env: {}, file: 'c.json' })
    t.fail(`loaded: web ${JSON.stringify(config.web)}`)
  } catch (e) {
    err = e
  }
  t.type(err, ConfigError)
  t.match((err as ConfigError).problems.join('\n'), /__proto__.*not allowed|not allowed.*__proto__/)
  writeFileSync(join(cwd, 'd.json'), '{"camera":{"constructor":{"prototype":{"x":1}}}}')
  t.throws(() => loadConfig({ cwd, env: {}, file: 'd.json' }), ConfigError)
})

t.test('vigil cmd --__proto__ becomes an own key (the rig refuses it), not a prototype', async (t) => {
  const parsed = parseArgPairs(['--__proto__', '{"name":"evil"}', '--name', 'nap'])
  t.ok('args' in parsed)
  if (!('args' in parsed)) return
  t.ok(Object.hasOwn(parsed.args, '__proto__'), '__proto__ is an own key')
  t.equal(Object.getPrototypeOf(parsed.args), Object.prototype, 'the prototype is untouched')
  t.match(JSON.stringify(parsed.args), /"__proto__"/, 'and it is sent')
})
