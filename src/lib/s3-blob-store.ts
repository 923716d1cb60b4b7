import { randomUUID } from 'node:crypto'
import { Readable } from 'node:stream'
import { pipeline } from 'node:stream/promises'
import type { S3Client } from '@aws-sdk/client-s3'
import type { BlobStore, BlobTarget, StagedBlob } from './blob-store.js'
import { meter } from './blob-store.js'
import { ConflictError, DomainError, NotFoundError } from './errors.js'

/** One data region's bucket, with its own AWS region or endpoint when it has them. */
export interface S3Bucket {
  bucket: string
  region?: string | undefined
  endpoint?: string | undefined
}

export interface S3StoreConfig {
  /** The endpoint of every bucket that names none (an S3-compatible server); unset: AWS. */
  endpoint?: string | undefined
  forcePathStyle: boolean
  /** The AWS region of buckets that name none. */
  awsRegion?: string | undefined
  /** Data region → bucket (P-RES-1): an account's bytes go to its region's bucket, or nowhere. */
  buckets: Record<string, S3Bucket>
}

/** Large bodies go in parts of this size; a smaller body is one PUT. Two parts in flight at most. */
export const PART_SIZE = 8 * 1024 * 1024

const UUID = '[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}'
const OBJECT_KEY = new RegExp(`^(${UUID})/${UUID}/${UUID}$`)
const STORAGE_KEY = /^s3:\/\/([a-z0-9][a-z0-9.-]{1,61}[a-z0-9])\/(.+)$/

// The SDK is loaded on first use: a deployment on the file system never pays for it.
let sdk: Promise<typeof import('@aws-sdk/client-s3')> | undefined
const loadSdk = () => (sdk ??= import('@aws-sdk/client-s3'))

/** The store's own failure (unreachable, refusing): the request may succeed later, or elsewhere. */
export class StorageUnavailableError extends DomainError {
  constructor(cause: unknown) {
    super(503, 'storage_unavailable', 'The recording storage is unavailable; retry after the pause in Retry-After')
    this.cause = cause
  }
}

const isMissing = (error: unknown) => {
  const name = (error as { name?: string }).name
  return name === 'NoSuchKey' || name === 'NotFound' || (error as { $metadata?: { httpStatusCode?: number } }).$metadata?.httpStatusCode === 404
}

/**
 * Artefact bytes in S3-compatible object storage, one bucket per data region. A row's key says
 * where its bytes went: `s3://<bucket>/<accountId>/<artefactId>/<uploadId>`. Each upload streams
 * to a key of its own (multipart past PART_SIZE) and is complete before the gate decides; the
 * object is staged until a row points at it, so `place` does nothing and no call to the store
 * happens under the meeting's lock. A refused or failed upload's object is deleted at once; one
 * a crash left unreferenced is collected by the purge's orphan sweep, and half-done multipart
 * uploads by `sweepIncoming`.
 */
export function createS3BlobStore(config: S3StoreConfig): BlobStore {
  const clients = new Map<string, Promise<S3Client>>()
  const entries = new Map<string, S3Bucket>()
  for (const entry of Object.values(config.buckets)) if (!entries.has(entry.bucket)) entries.set(entry.bucket, entry)

  function clientFor(bucket: string): Promise<S3Client> {
    let client = clients.get(bucket)
    if (!client) {
      const entry = entries.get(bucket)
      if (!entry) throw new Error(`no bucket ${bucket} in S3_BUCKETS`)
      client = loadSdk().then(({ S3Client }) => {
        const endpoint = entry.endpoint ?? config.endpoint
        return new S3Client({
          region: entry.region ?? config.awsRegion ?? 'us-east-1',
          ...(endpoint ? { endpoint } : {}),
          forcePathStyle: config.forcePathStyle,
          // We hash every byte ourselves (sha-256 on the row). The SDK's streaming checksums
          // change the body's framing, which S3-compatible servers do not all understand.
          requestChecksumCalculation: 'WHEN_REQUIRED',
          responseChecksumValidation: 'WHEN_REQUIRED',
        })
      })
      clients.set(bucket, client)
    }
    return client
  }

  const parse = (key: string) => {
    const match = STORAGE_KEY.exec(key)
    if (!match) throw new Error(`not an S3 blob key: ${key}`)
    return { bucket: match[1]!, objectKey: match[2]! }
  }

  async function deleteObject(key: string) {
    const { bucket, objectKey } = parse(key)
    const { DeleteObjectCommand } = await loadSdk()
    try {
      await (await clientFor(bucket)).send(new DeleteObjectCommand({ Bucket: bucket, Key: objectKey }))
    } catch (error) {
      if (!isMissing(error)) throw new StorageUnavailableError(error)
    }
  }

  return {
    kind: 's3',
    serves: (region) => config.buckets[region] !== undefined,

    async receive(source: Readable, limit: number, target: BlobTarget): Promise<StagedBlob> {
      const entry = config.buckets[target.region]
      if (!entry) throw regionStorageUnavailable(target.region)
      const objectKey = `${target.accountId}/${target.artefactId}/${randomUUID()}`
      const key = `s3://${entry.bucket}/${objectKey}`
      const client = await clientFor(entry.bucket)
      const { Upload } = await import('@aws-sdk/lib-storage')
      const counted = meter(limit)
      const upload = new Upload({
        client,
        params: { Bucket: entry.bucket, Key: objectKey, Body: counted.stream, ContentType: 'application/octet-stream' },
        partSize: PART_SIZE,
        queueSize: 2,
        leavePartsOnError: false,
      })
      let storeError: unknown
      // A store that fails mid-way stops reading: the body stops too, or it would wait forever.
      const done = upload.done().catch((error: unknown) => {
        storeError = error
        counted.stream.destroy(error as Error)
        throw error
      })
      const [streamed, stored] = await Promise.allSettled([pipeline(source, counted.stream), done])
      if (streamed.status === 'rejected' || stored.status === 'rejected') {
        // A body cut short, too large, or refused by the store: a single PUT never completed,
        // and the SDK aborted a multipart upload. Should the store have kept the object anyway
        // (its answer lost on the way), it goes too.
        await deleteObject(key).catch(() => undefined)
        // The body's own failure (too large, cut) is the answer; the store's is 503.
        if (streamed.status === 'rejected' && (streamed.reason instanceof DomainError || streamed.reason !== storeError)) throw streamed.reason
        throw new StorageUnavailableError(storeError)
      }
      return { key, size: counted.state.size, sha256: counted.state.sha256() }
    },

    place: async () => undefined,
    discard: (staged) => deleteObject(staged.key),
    remove: deleteObject,

    async open(key) {
      const { bucket, objectKey } = parse(key)
      const { GetObjectCommand } = await loadSdk()
      try {
        const answer = await (await clientFor(bucket)).send(new GetObjectCommand({ Bucket: bucket, Key: objectKey }))
        return answer.Body as Readable
      } catch (error) {
        if (isMissing(error)) throw new NotFoundError('Recording content')
        throw new StorageUnavailableError(error)
      }
    },

    async exists(key) {
      const { bucket, objectKey } = parse(key)
      const { HeadObjectCommand } = await loadSdk()
      try {
        await (await clientFor(bucket)).send(new HeadObjectCommand({ Bucket: bucket, Key: objectKey }))
        return true
      } catch (error) {
        if (isMissing(error)) return false
        throw new StorageUnavailableError(error)
      }
    },

    async *list() {
      const { ListObjectsV2Command } = await loadSdk()
      for (const bucket of entries.keys()) {
        const client = await clientFor(bucket)
        let token: string | undefined
        do {
          const page = await client.send(new ListObjectsV2Command({ Bucket: bucket, ...(token ? { ContinuationToken: token } : {}) }))
          for (const object of page.Contents ?? []) {
            const match = object.Key ? OBJECT_KEY.exec(object.Key) : null
            if (match && object.LastModified) yield { key: `s3://${bucket}/${object.Key}`, accountId: match[1]!, modifiedAt: object.LastModified }
          }
          token = page.IsTruncated ? page.NextContinuationToken : undefined
        } while (token)
      }
    },

    /**
     * Aborts multipart uploads a crash left open (their parts are no object, so the orphan sweep
     * cannot see them). A server without the listing (some S3-compatible ones) has nothing to
     * sweep here: a bucket lifecycle rule (AbortIncompleteMultipartUpload) does the same.
     */
    async sweepIncoming(before) {
      const { ListMultipartUploadsCommand, AbortMultipartUploadCommand } = await loadSdk()
      let aborted = 0
      for (const bucket of entries.keys()) {
        const client = await clientFor(bucket)
        let marker: { KeyMarker?: string; UploadIdMarker?: string } = {}
        for (;;) {
          let page
          try {
            page = await client.send(new ListMultipartUploadsCommand({ Bucket: bucket, ...marker }))
          } catch (error) {
            if ((error as { name?: string }).name === 'NotImplemented') break
            throw error
          }
          for (const upload of page.Uploads ?? []) {
            if (!upload.Key || !upload.UploadId || !upload.Initiated || upload.Initiated >= before || !OBJECT_KEY.test(upload.Key)) continue
            await client.send(new AbortMultipartUploadCommand({ Bucket: bucket, Key: upload.Key, UploadId: upload.UploadId }))
            aborted++
          }
          if (!page.IsTruncated) break
          marker = { ...(page.NextKeyMarker ? { KeyMarker: page.NextKeyMarker } : {}), ...(page.NextUploadIdMarker ? { UploadIdMarker: page.NextUploadIdMarker } : {}) }
        }
      }
      return aborted
    },
  }
}

export function regionStorageUnavailable(region: string) {
  return new ConflictError('region_storage_unavailable', `No recording storage is configured for the account's data region (${region}); nothing is stored elsewhere`)
}
