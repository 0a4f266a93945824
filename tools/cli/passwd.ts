import { parseArgs } from 'node:util'
import { hashPassword } from '../../actors/web/security/passwords.js'

const help = `usage: vigil passwd [--user NAME --role viewer|operator]

Reads a password and prints its hash for web.users (scrypt, a fresh salt each time).
On a terminal the password is asked twice and not echoed; otherwise it is the first
line of stdin (e.g. from a password manager: pass show rig | vigil passwd --user ann).
Never on the command line, where other users and the shell history would see it.
With --user (and --role, default viewer) the whole web.users entry is printed as JSON.
`

const MIN_LENGTH = 8

/** One line from a terminal with echo off; Ctrl-C or Ctrl-D gives up. */
function askHidden(prompt: string): Promise<string | null> {
  const stdin = process.stdin
  process.stderr.write(prompt)
  return new Promise((resolve) => {
    let line = ''
    const done = (value: string | null) => {
      stdin.setRawMode(false)
      stdin.pause()
      stdin.off('data', onData)
      process.stderr.write('\n')
      resolve(value)
    }
    const onData = (chunk: Buffer) => {
      for (const ch of chunk.toString('utf8')) {
        if (ch === '\r' || ch === '\n') return done(line)
        if (ch === '\u0003' || ch === '\u0004') return done(null)
        if (ch === '\u007f' || ch === '\b') line = line.slice(0, -1)
        else line += ch
      }
    }
    stdin.setRawMode(true)
    stdin.resume()
    stdin.on('data', onData)
  })
}

async function firstLineOfStdin(): Promise<string> {
  const chunks: Buffer[] = []
  for await (const c of process.stdin) chunks.push(c as Buffer)
  return Buffer.concat(chunks).toString('utf8').split(/\r?\n/)[0] ?? ''
}

export async function run(argv: string[]): Promise<number> {
  let values: { user?: string; role?: string; help?: boolean }
  try {
    ;({ values } = parseArgs({ args: argv, options: { user: { type: 'string' }, role: { type: 'string' }, help: { type: 'boolean', short: 'h' } }, strict: true }))
  } catch (err) {
    process.stderr.write(`vigil passwd: ${(err as Error).message}\n${help}`)
    return 2
  }
  if (values.help) {
    process.stdout.write(help)
    return 0
  }
  const role = values.role ?? 'viewer'
  if (role !== 'viewer' && role !== 'operator') {
    process.stderr.write(`vigil passwd: --role must be viewer or operator, got ${JSON.stringify(role)}\n`)
    return 2
  }
  if (values.user !== undefined && !/^[A-Za-z0-9._@-]{1,64}$/.test(values.user)) {
    process.stderr.write('vigil passwd: --user: 1 to 64 of letters, digits and . _ @ -\n')
    return 2
  }
  let password: string | null
  if (process.stdin.isTTY) {
    password = await askHidden('password: ')
    if (password !== null && (await askHidden('again: ')) !== password) {
      process.stderr.write('vigil passwd: the two passwords differ\n')
      return 1
    }
  } else {
    password = await firstLineOfStdin()
  }
  if (password === null) return 1
  if (password.length < MIN_LENGTH) {
    process.stderr.write(`vigil passwd: a password needs at least ${MIN_LENGTH} characters\n`)
    return 1
  }
  const passwordHash = await hashPassword(password)
  process.stdout.write(values.user === undefined ? `${passwordHash}\n` : `${JSON.stringify({ name: values.user, passwordHash, role })}\n`)
  return 0
}
