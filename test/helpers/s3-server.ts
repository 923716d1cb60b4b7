import { mkdtempSync, readdirSync, rmSync, utimesSync } from 'node:fs'
import http from 'node:http'
import type { AddressInfo } from 'node:net'
import { tmpdir } from 'node:os'
import path from 'node:path'
import { ListObjectsV2Command, PutObjectCommand, S3Client } from '@aws-sdk/client-s3'
// s3rver ships no types; the few calls used here are typed by hand.
// @ts-expect-error no declaration file
import S3rver from 's3rver'

// A real S3 protocol server for the tests (s3rver, on a loopback port, its objects in a temporary
// folder), behind a small proxy that injects what s3rver cannot do: a bucket that refuses writes
// (403 AccessDenied, as a bucket policy would) and AbortMultipartUpload (which s3rver lacks; the
// proxy answers it and records it, so a test sees that a cut multipart upload was aborted).
// Requests pass through untouched otherwise (the SigV4 signature covers the Host header as sent).

export const BUCKETS = { eu: 'rec-eu', sg: 'rec-sg' } as const
const CREDENTIALS = { accessKeyId: 'S3RVER', secretAccessKey: 'S3RVER' }

export interface S3Fixture {
  /** The proxy's address: what the service is configured with. */
  endpoint: string
  /** Environment for buildTestApp: BLOB_STORE=s3 with one bucket for eu and one for sg. */
  env: Record<string, string>
  /** Buckets that answer 403 to every write, as a bucket policy would. */
  refuseWrites: Set<string>
  /** Buckets that start a multipart upload but refuse its parts (a store failing mid-way). */
  refuseParts: Set<string>
  /** Multipart uploads the proxy lists as open for a bucket (s3rver cannot list them). */
  openUploads: Map<string, { key: string; uploadId: string; initiated: Date }[]>
  /** The AbortMultipartUpload calls the proxy answered. */
  aborted: { bucket: string; key: string }[]
  /** Object keys in a bucket (optionally under a prefix). */
  keys(bucket: string, prefix?: string): Promise<string[]>
  put(bucket: string, key: string, body: string): Promise<void>
  /** Sets an object's last change to `at` (s3rver reports the file's mtime). */
  age(bucket: string, key: string, at: Date): void
  client: S3Client
  close(): Promise<void>
}

export async function startS3(): Promise<S3Fixture> {
  // The SDK reads its credentials from the standard variables, as in a deployment.
  process.env.AWS_ACCESS_KEY_ID = CREDENTIALS.accessKeyId
  process.env.AWS_SECRET_ACCESS_KEY = CREDENTIALS.secretAccessKey
  const directory = mkdtempSync(path.join(tmpdir(), 'consentry-s3-'))
  const server = new S3rver({
    address: '127.0.0.1',
    port: 0,
    silent: true,
    directory,
    configureBuckets: Object.values(BUCKETS).map((name) => ({ name, configs: [] })),
  })
  const upstream = (await server.run()) as AddressInfo

  const refuseWrites = new Set<string>()
  const refuseParts = new Set<string>()
  const aborted: { bucket: string; key: string }[] = []
  const openUploads = new Map<string, { key: string; uploadId: string; initiated: Date }[]>()
  const proxy = http.createServer((request, response) => {
    const url = new URL(request.url ?? '/', 'http://proxy')
    const [, bucket = '', ...rest] = url.pathname.split('/')
    const key = decodeURIComponent(rest.join('/'))
    if (request.method === 'DELETE' && url.searchParams.has('uploadId')) {
      aborted.push({ bucket, key })
      request.resume()
      response.writeHead(204).end()
      return
    }
    const listed = openUploads.get(bucket)
    if (request.method === 'GET' && url.searchParams.has('uploads') && listed) {
      request.resume()
      const uploads = listed.map((upload) => `<Upload><Key>${upload.key}</Key><UploadId>${upload.uploadId}</UploadId><Initiated>${upload.initiated.toISOString()}</Initiated></Upload>`).join('')
      response.writeHead(200, { 'content-type': 'application/xml' })
      response.end(`<?xml version="1.0" encoding="UTF-8"?><ListMultipartUploadsResult><Bucket>${bucket}</Bucket><IsTruncated>false</IsTruncated>${uploads}</ListMultipartUploadsResult>`)
      return
    }
    const refused = refuseWrites.has(bucket) || (refuseParts.has(bucket) && url.searchParams.has('partNumber'))
    if ((request.method === 'PUT' || request.method === 'POST') && refused) {
      request.resume()
      response.writeHead(403, { 'content-type': 'application/xml' })
      response.end('<?xml version="1.0" encoding="UTF-8"?><Error><Code>AccessDenied</Code><Message>Access Denied</Message></Error>')
      return
    }
    const forward = http.request(
      { host: '127.0.0.1', port: upstream.port, method: request.method, path: request.url, headers: request.headers },
      (answer) => {
        response.writeHead(answer.statusCode ?? 502, answer.headers)
        answer.pipe(response)
      },
    )
    forward.on('error', () => response.destroy())
    request.on('error', () => forward.destroy())
    request.pipe(forward)
  })
  await new Promise<void>((resolve) => proxy.listen(0, '127.0.0.1', resolve))
  const endpoint = `http://127.0.0.1:${(proxy.address() as AddressInfo).port}`

  const client = new S3Client({
    region: 'us-east-1',
    endpoint: `http://127.0.0.1:${upstream.port}`,
    forcePathStyle: true,
    credentials: CREDENTIALS,
    requestChecksumCalculation: 'WHEN_REQUIRED',
    responseChecksumValidation: 'WHEN_REQUIRED',
  })

  return {
    endpoint,
    env: {
      BLOB_STORE: 's3',
      S3_ENDPOINT: endpoint,
      S3_FORCE_PATH_STYLE: 'true',
      // sg names its own region and endpoint, as a bucket elsewhere would.
      S3_BUCKETS: JSON.stringify({ eu: BUCKETS.eu, sg: { bucket: BUCKETS.sg, region: 'ap-southeast-1', endpoint } }),
    },
    refuseWrites,
    refuseParts,
    openUploads,
    aborted,
    client,
    async keys(bucket, prefix) {
      const page = await client.send(new ListObjectsV2Command({ Bucket: bucket, ...(prefix ? { Prefix: prefix } : {}) }))
      return (page.Contents ?? []).map((object) => object.Key!).sort()
    },
    async put(bucket, key, body) {
      await client.send(new PutObjectCommand({ Bucket: bucket, Key: key, Body: body }))
    },
    age(bucket, key, at) {
      const folder = path.join(directory, bucket, ...key.split('/').slice(0, -1))
      const name = key.split('/').at(-1)!
      const file = readdirSync(folder).find((entry) => entry === `${name}._S3rver_object`)
      if (!file) throw new Error(`no object ${bucket}/${key}`)
      utimesSync(path.join(folder, file), at, at)
    },
    async close() {
      client.destroy()
      const closed = new Promise<void>((resolve) => proxy.close(() => resolve()))
      proxy.closeAllConnections()
      await closed
      await server.close()
      rmSync(directory, { recursive: true, force: true })
    },
  }
}
