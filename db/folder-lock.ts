import { readFileSync, unlinkSync, writeFileSync } from 'node:fs'
import path from 'node:path'

// The embedded database's folder belongs to one process. Two processes on one folder each see
// only their own writes and lose the other's on restart, so the second one must not start: it
// finds the first one's lock and stops with one line naming it.

export class FolderInUseError extends Error {
  override name = 'FolderInUseError'
}

const alive = (pid: number) => {
  try {
    process.kill(pid, 0)
    return true
  } catch (error) {
    // EPERM: it exists but belongs to someone else, which still holds the folder.
    return (error as NodeJS.ErrnoException).code === 'EPERM'
  }
}

/** Takes the folder's lock (a file naming this process); answers the function that gives it back. */
export function lockFolder(dir: string): () => void {
  const file = path.join(dir, 'consentry.lock')
  for (let attempt = 0; ; attempt++) {
    try {
      writeFileSync(file, String(process.pid), { flag: 'wx', mode: 0o600 })
      break
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'EEXIST' || attempt > 0) throw error
      const holder = Number(readFileSync(file, 'utf8').trim())
      if (Number.isInteger(holder) && holder > 0 && holder !== process.pid && alive(holder)) {
        throw new FolderInUseError(`the data folder ${dir} is in use by process ${holder}; the embedded database takes one process (stop it, or use DATABASE_URL for several)`)
      }
      // A lock left by a process that is gone (a crash, a kill -9): take it over.
      unlinkSync(file)
    }
  }
  return () => {
    try {
      if (readFileSync(file, 'utf8').trim() === String(process.pid)) unlinkSync(file)
    } catch {
      // already gone
    }
  }
}
