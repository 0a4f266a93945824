#!/usr/bin/env node
// The `vigil` command. Plain JS so it runs with no build step: tsx compiles the
// TypeScript sources on load. Paths come from this file, not the cwd, so it works
// from anywhere and through `npx vigil`.
import { register } from 'tsx/esm/api'

register()
const { main } = await import(new URL('../tools/cli/main.ts', import.meta.url).href)
const code = await main(process.argv.slice(2))
// Exit explicitly: a subcommand that returned is done, and a stray handle must not
// keep an unattended rig's CLI call hanging.
process.exit(code)
