import { fromCallback, setup } from 'xstate'

/**
 * A supervisable machine whose invoked helper sends HELLO the moment the instance
 * starts: an inspector that attaches after start never sees it.
 */
export const greeterMachine = setup({
  actors: { hello: fromCallback(({ sendBack }) => sendBack({ type: 'HELLO' })) },
}).createMachine({
  id: 'greeter',
  initial: 'up',
  invoke: { src: 'hello' },
  states: {
    up: { tags: ['ready'], on: { HELLO: {}, STOP: 'done' } },
    done: { type: 'final' },
  },
})
