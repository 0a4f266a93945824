import t from 'tap'
import { hashPassword, parsePasswordHash, verifyPassword } from '../../../../actors/web/security/passwords.js'

const CHEAP = { N: 1024, r: 8, p: 1 }

t.test('scrypt hashes: salted, self-describing, verified in constant time', async (t) => {
  const h = await hashPassword('correct horse', CHEAP)
  t.match(h, /^scrypt\$1024\$8\$1\$[\w-]{22}\$[\w-]{43}$/)
  t.not(await hashPassword('correct horse', CHEAP), h, 'a fresh salt each time')
  t.ok(await verifyPassword('correct horse', h))
  t.notOk(await verifyPassword('correct horsE', h))
  t.notOk(await verifyPassword('', h))
  t.ok(await verifyPassword('caf\u00e9', await hashPassword('cafe\u0301', CHEAP)), 'Unicode is normalised: the same password typed two ways')
})

t.test('a hash that asks too much, or is not one, never verifies', async (t) => {
  t.equal(parsePasswordHash('plain-text-password'), null)
  t.equal(parsePasswordHash('scrypt$1000$8$1$AAAAAAAAAAAAAAAAAAAAAA$AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA'), null, 'N not a power of two')
  t.equal(parsePasswordHash('scrypt$4194304$8$1$AAAAAAAAAAAAAAAAAAAAAA$AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA'), null, 'N too large (memory)')
  t.notOk(await verifyPassword('x', 'scrypt$2$1$1$short$short'))
})
