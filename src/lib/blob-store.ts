import { createHash, randomUUID } from 'node:crypto'
import { createReadStream, type ReadStream } from 'node:fs'
import { mkdir, open, readdir, rename, rm, stat } from 'node:fs/promises'
import path from 'node:path'
import { Transform, type Readable } from 'node:stream'
import { pipeline } from 'node:stream/promises'
import { DomainError } from './errors.js'

export interface Incoming {
  tempPath: string
  size: number
  sha256: string
}

/**
 * Artefact bytes on disk under one folder: uploads stream into `.incoming/` (hashed and counted
 * on the way, never held in memory) and are renamed into place only once the gate allowed them,
 * so a refused or failed upload leaves nothing behind. Keys are `<accountId>/<artefactId>`.
 */
const KEY_PART = /^[0-9a-f-]{36}$/

export function createBlobStore(root: string) {
  const incoming = path.join(root, '.incoming')
  const pathOf = (key: string) => {
    if (!/^[0-9a-f-]{36}\/[0-9a-f-]{36}$/.test(key)) throw new Error(`not a blob key: ${key}`)
    return path.join(root, key)
  }

  return {
    root,

    /** Streams `source` into a temporary file; over `limit` bytes it stops with 413 and removes the file. */
    async receive(source: Readable, limit: number): Promise<Incoming> {
      await mkdir(incoming, { recursive: true })
      const tempPath = path.join(incoming, randomUUID())
      const hash = createHash('sha256')
      let size = 0
      const meter = new Transform({
        transform(chunk: Buffer, _encoding, done) {
          size += chunk.length
          if (size > limit) return done(new DomainError(413, 'upload_too_large', `The upload exceeds ${limit} bytes`))
          hash.update(chunk)
          done(null, chunk)
        },
      })
      // The file is open before any byte flows, so a failure can never race its creation and
      // leave a file (or a handle) behind the cleanup.
      const file = await open(tempPath, 'wx', 0o600)
      try {
        await pipeline(source, meter, file.createWriteStream())
      } catch (error) {
        await file.close().catch(() => undefined)
        await rm(tempPath, { force: true })
        throw error
      }
      return { tempPath, size, sha256: hash.digest('hex') }
    },

    /** Moves an accepted upload to its key (same file system: an atomic rename). */
    async commit(upload: Incoming, key: string): Promise<void> {
      const target = pathOf(key)
      await mkdir(path.dirname(target), { recursive: true })
      await rename(upload.tempPath, target)
    },

    discard: (upload: Incoming) => rm(upload.tempPath, { force: true }),
    remove: (key: string) => rm(pathOf(key), { force: true }),
    open: (key: string): ReadStream => createReadStream(pathOf(key)),
    exists: (key: string) => stat(pathOf(key)).then(() => true, () => false),

    /** Every stored blob with its last change (the purge collects those no row points at). */
    async *list(): AsyncGenerator<{ key: string; modifiedAt: Date }> {
      const accounts = await readdir(root, { withFileTypes: true }).catch(() => [])
      for (const account of accounts) {
        if (!account.isDirectory() || !KEY_PART.test(account.name)) continue
        for (const name of await readdir(path.join(root, account.name)).catch(() => [] as string[])) {
          if (!KEY_PART.test(name)) continue
          const key = `${account.name}/${name}`
          const info = await stat(pathOf(key)).catch(() => undefined)
          if (info?.isFile()) yield { key, modifiedAt: info.mtime }
        }
      }
    },

    /** Removes uploads a crash left in `.incoming/` before `before`; answers how many. */
    async sweepIncoming(before: Date): Promise<number> {
      let removed = 0
      for (const name of await readdir(incoming).catch(() => [] as string[])) {
        const file = path.join(incoming, name)
        const info = await stat(file).catch(() => undefined)
        if (info && info.mtime < before) {
          await rm(file, { force: true })
          removed++
        }
      }
      return removed
    },
  }
}

export type BlobStore = ReturnType<typeof createBlobStore>
