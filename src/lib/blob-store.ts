import { createHash, randomUUID } from 'node:crypto'
import { createReadStream } from 'node:fs'
import { mkdir, open, readdir, rename, rm, stat } from 'node:fs/promises'
import path from 'node:path'
import { Transform, type Readable } from 'node:stream'
import { pipeline } from 'node:stream/promises'
import { DomainError } from './errors.js'

/** Bytes received and hashed, not yet referenced by any row. */
export interface StagedBlob {
  /** The key a row will hold once the gate allowed the bytes (in the store's own form). */
  readonly key: string
  readonly size: number
  readonly sha256: string
}

/** Whose bytes these are and where they must live (P-RES-1). */
export interface BlobTarget {
  accountId: string
  artefactId: string
  region: string
}

/**
 * Where artefact bytes live. Uploads are received (streamed, hashed, counted) and complete
 * before the deciding transaction; `place` is the only step taken inside it, and it is local
 * (a rename, or nothing): no network call while the meeting's lock is held. A refused or failed
 * upload is discarded; whatever a crash leaves is collected by the purge (`sweepIncoming`, and
 * `list` against the rows' keys).
 */
export interface BlobStore {
  readonly kind: 'fs' | 's3'
  /** Whether bytes of an account in `region` have a place here; when not, nothing is stored. */
  serves(region: string): boolean
  /** Streams `source` in; over `limit` bytes it stops with 413 and keeps nothing. */
  receive(source: Readable, limit: number, target: BlobTarget): Promise<StagedBlob>
  /** Makes received bytes final under `staged.key`; local only (called inside the transaction). */
  place(staged: StagedBlob): Promise<void>
  discard(staged: StagedBlob): Promise<void>
  remove(key: string): Promise<void>
  open(key: string): Promise<Readable>
  exists(key: string): Promise<boolean>
  /** Every stored blob with its account and last change (the purge collects those no row points at). */
  list(): AsyncGenerator<{ key: string; accountId: string; modifiedAt: Date }>
  /** Removes uploads a crash left half-done before `before`; answers how many. */
  sweepIncoming(before: Date): Promise<number>
}

/** Counts and hashes bytes on their way; over `limit` it fails with 413. */
export function meter(limit: number) {
  const hash = createHash('sha256')
  const state = { size: 0, sha256: () => hash.digest('hex') }
  const stream = new Transform({
    transform(chunk: Buffer, _encoding, done) {
      state.size += chunk.length
      if (state.size > limit) return done(new DomainError(413, 'upload_too_large', `The upload exceeds ${limit} bytes`))
      hash.update(chunk)
      done(null, chunk)
    },
  })
  return { stream, state }
}

const KEY_PART = /^[0-9a-f-]{36}$/

interface FileStaged extends StagedBlob {
  tempPath: string
}

/**
 * The embedded default: bytes on disk under one folder. Uploads stream into `.incoming/` and
 * are renamed into place only once the gate allowed them. Keys are `<accountId>/<artefactId>`.
 * The folder is wherever the deployment put it: it serves every region the deployment serves.
 */
export function createFileBlobStore(root: string): BlobStore & { root: string } {
  const incoming = path.join(root, '.incoming')
  const pathOf = (key: string) => {
    if (!/^[0-9a-f-]{36}\/[0-9a-f-]{36}$/.test(key)) throw new Error(`not a blob key: ${key}`)
    return path.join(root, key)
  }

  return {
    kind: 'fs',
    root,
    serves: () => true,

    async receive(source, limit, target): Promise<FileStaged> {
      await mkdir(incoming, { recursive: true })
      const tempPath = path.join(incoming, randomUUID())
      const counted = meter(limit)
      // The file is open before any byte flows, so a failure can never race its creation and
      // leave a file (or a handle) behind the cleanup.
      const file = await open(tempPath, 'wx', 0o600)
      try {
        await pipeline(source, counted.stream, file.createWriteStream())
      } catch (error) {
        await file.close().catch(() => undefined)
        await rm(tempPath, { force: true })
        throw error
      }
      return { key: `${target.accountId}/${target.artefactId}`, tempPath, size: counted.state.size, sha256: counted.state.sha256() }
    },

    /** Same file system: an atomic rename. */
    async place(staged) {
      const target = pathOf(staged.key)
      await mkdir(path.dirname(target), { recursive: true })
      await rename((staged as FileStaged).tempPath, target)
    },

    discard: (staged) => rm((staged as FileStaged).tempPath, { force: true }),
    remove: (key) => rm(pathOf(key), { force: true }),
    open: async (key) => createReadStream(pathOf(key)),
    exists: (key) => stat(pathOf(key)).then(() => true, () => false),

    async *list() {
      const accounts = await readdir(root, { withFileTypes: true }).catch(() => [])
      for (const account of accounts) {
        if (!account.isDirectory() || !KEY_PART.test(account.name)) continue
        for (const name of await readdir(path.join(root, account.name)).catch(() => [] as string[])) {
          if (!KEY_PART.test(name)) continue
          const key = `${account.name}/${name}`
          const info = await stat(pathOf(key)).catch(() => undefined)
          if (info?.isFile()) yield { key, accountId: account.name, modifiedAt: info.mtime }
        }
      }
    },

    async sweepIncoming(before) {
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
