import type { ChildFactory } from '../../actors/supervisor/child.js'
import type { ProcessOwner } from '../../infra/process.js'

/**
 * A test child: one real OS process (`sleep`), ready once spawned, gone when it
 * exits. Lets supervisor tests kill a real pid and watch the tree react.
 */
export function processChild(processes: ProcessOwner, name: string, command = 'sleep', args: string[] = ['3600']): ChildFactory {
  return () => {
    let proc: ReturnType<ProcessOwner['spawn']> | undefined
    return {
      start(events) {
        proc = processes.spawn(command, args, { name })
        void proc.exited.then((exit) => events.onExit({ normal: exit.normal, reason: exit.reason }))
        if (proc.pid > 0) events.onReady()
      },
      stop() {
        void proc?.stop(2000)
      },
      kill() {
        proc?.signal('SIGKILL')
      },
      pids: () => (proc?.isRunning() ? [proc.pid] : []),
    }
  }
}
