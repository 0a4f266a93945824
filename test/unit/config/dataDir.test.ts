import t from 'tap'
import { chmodSync, mkdirSync, statSync } from 'node:fs'
import { join } from 'node:path'
import { ConfigError, dataDirs, prepareDataDir } from '../../../infra/config/load.js'

const isRoot = process.getuid?.() === 0

function prepareError(t: Pick<typeof import('tap').default, 'type' | 'fail'>, root: string): ConfigError {
  try {
    prepareDataDir(root)
  } catch (err) {
    t.type(err, ConfigError)
    return err as ConfigError
  }
  t.fail(`prepareDataDir(${root}) did not fail`)
  return new ConfigError('not thrown', [])
}

t.test('creates a missing parent chain and every data folder', async (t) => {
  const base = t.testdir()
  const root = join(base, 'a', 'b', 'c', 'var')
  const dirs = prepareDataDir(root)
  t.equal(dirs.root, root)
  for (const d of dataDirs) {
    t.equal(dirs[d], join(root, d))
    t.ok(statSync(join(root, d)).isDirectory(), `${d}/ exists`)
  }
  t.same(prepareDataDir(root), dirs, 'running again on an existing dir is fine')
})

t.test('a regular file in the path names the path', async (t) => {
  // A file where a directory must be fails for root too (unlike permission bits).
  const base = t.testdir({ 'not-a-dir': 'x' })
  const root = join(base, 'not-a-dir', 'var')
  const err = prepareError(t, root)
  t.match(err.problems[0], root, 'the data dir is named')
  t.match(err.problems[0], /ENOTDIR/)
})

t.test('a data folder taken by a file names that folder', async (t) => {
  const base = t.testdir({ var: { recordings: 'I am a file' } })
  const root = join(base, 'var')
  const err = prepareError(t, root)
  t.match(err.problems[0], join(root, 'recordings'))
})

t.test('a permission error names the path', { skip: isRoot && 'running as root: permission bits do not stop root, so EACCES cannot be produced here' }, async (t) => {
  const base = t.testdir()
  const locked = join(base, 'locked')
  mkdirSync(locked)
  chmodSync(locked, 0o555)
  t.teardown(() => chmodSync(locked, 0o755))
  const root = join(locked, 'var')
  const err = prepareError(t, root)
  t.match(err.problems[0], /permission denied/)
  t.match(err.problems[0], root)
})

t.test('an unusable logs/ is reported, not fatal, when the caller can run without it', async (t) => {
  const base = t.testdir({ var: { logs: 'I am a file' } })
  const root = join(base, 'var')
  t.match(prepareError(t, root).problems[0], join(root, 'logs'), 'without onDegraded it still refuses')
  const problems: string[] = []
  const dirs = prepareDataDir(root, { onDegraded: (p) => problems.push(p) })
  t.equal(problems.length, 1, 'one problem reported')
  t.match(problems[0], join(root, 'logs'))
  t.match(problems[0], /ENOTDIR|ENOENT|EEXIST/)
  t.equal(dirs.logs, join(root, 'logs'), 'the logs path is still given (the log actor retries it)')
  t.ok(statSync(join(root, 'recordings')).isDirectory(), 'the other folders are made')
})

t.test('an unusable recordings/ stays fatal even with onDegraded', async (t) => {
  const base = t.testdir({ var: { recordings: 'I am a file' } })
  const root = join(base, 'var')
  t.throws(() => prepareDataDir(root, { onDegraded: () => {} }), ConfigError)
})
