// Builds db/vendor/postgres-3.4.9-consentry.tgz, the postgres.js that package.json installs:
// the registry's 3.4.9 with the fixes below applied to each of its three builds (src for
// `import`, cjs/src for `require`, cf/src for Cloudflare) and a `consentry` field in its
// package.json naming them, which db/postgres.ts checks at start. The version stays 3.4.9, so
// drizzle-orm's peer range still accepts it. db/postgres.ts says why each fix is needed.
//
//   node db/vendor/build-postgres.mjs [postgres-3.4.9.tgz]   # default: `npm pack postgres@3.4.9`
//   npm install ./db/vendor/postgres-3.4.9-consentry.tgz      # installs it, records its integrity
//
// The pristine tarball must be the registry's (its integrity is checked). Every replacement
// must match exactly once in every build or nothing is written. The output is reproducible: same
// entries, order and headers as the pristine tarball; when the rebuilt contents equal the
// committed tarball's, the file is left as it is (its gzip bytes, and so package-lock.json, too).

import { execFileSync } from 'node:child_process'
import { createHash } from 'node:crypto'
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { fileURLToPath } from 'node:url'
import { gunzipSync, gzipSync } from 'node:zlib'

const BASE = 'postgres@3.4.9'
const BASE_INTEGRITY = 'sha512-GD3qdB0x1z9xgFI6cdRD6xu2Sp2WCOEoe3mtnyB5Ee0XrrL5Pe+e4CCnJrRMnL1zYtRDZmQQVbvOttLnKDLnaw=='
const OUT = path.join(path.dirname(fileURLToPath(import.meta.url)), 'postgres-3.4.9-consentry.tgz')
const BUILDS = ['src', 'cjs/src', 'cf/src']

/** Each fix: an id (the marker lists them; db/postgres.ts requires them) and its replacements. */
const FIXES = [
  {
    id: 'queue-remove-from-head',
    replace: [
      {
        file: 'queue.js',
        from: `    remove: (x) => {
      const index = xs.indexOf(x)
      return index === -1
        ? null
        : (xs.splice(index, 1), x)
    },`,
        to: `    remove: (x) => {
      // consentry: search from the live head; shift() leaves the consumed front in place
      const at = xs.indexOf(x, index)
      return at === -1
        ? null
        : (xs.splice(at, 1), x)
    },`,
      },
    ],
  },
  {
    id: 'begin-reserves-its-connection',
    replace: [
      {
        file: 'connection.js',
        from: `      build(q)
      return write(toBuffer(q))
        && !q.describeFirst
        && !q.cursorFn
        && sent.length < max_pipeline
        && (!q.options.onexecute || q.options.onexecute(connection))`,
        to: `      build(q)
      const written = write(toBuffer(q))
      // consentry: a written BEGIN reserves its connection even when it filled the pipeline
      if (q.options.onexecute)
        return (q.options.onexecute(connection), false)
      return written
        && !q.describeFirst
        && !q.cursorFn
        && sent.length < max_pipeline`,
      },
    ],
  },
  {
    id: 'drain-leaves-reserved-connection',
    replace: [
      {
        file: 'connection.js',
        from: `  function drain() {
    !query && onopen(connection)
  }`,
        to: `  function drain() {
    // consentry: a reserved connection between two statements stays with its holder
    !query && !connection.reserved && onopen(connection)
  }`,
      },
    ],
  },
  {
    id: 'write-after-close',
    replace: [
      {
        file: 'connection.js',
        from: `      return queryError(q, Errors.connection('CONNECTION_DESTROYED', options))

    if (stream)`,
        to: `      return queryError(q, Errors.connection('CONNECTION_DESTROYED', options))

    // consentry: a holder (a transaction's ROLLBACK, a reserved sql) can still reach a connection
    // whose socket failed or closed: its query fails now, and the connection stays where the
    // pool put it (true keeps the holder from moving it to full)
    if (!socket || socket.destroyed)
      return (queryError(q, Errors.connection('CONNECTION_CLOSED', options)), true)

    if (stream)`,
      },
      {
        file: 'connection.js',
        from: `  function nextWrite(fn) {
    const x = socket.write(chunk, fn)`,
        to: `  function nextWrite(fn) {
    // consentry: bytes for a socket that is gone fail the queries they carry, instead of
    // throwing from a timer and ending the process
    if (!socket)
      return writeAfterClose()

    const x = socket.write(chunk, fn)`,
      },
      {
        file: 'connection.js',
        from: `  function connectTimedOut() {`,
        to: `  function writeAfterClose() {
    const err = Errors.connection('CONNECTION_CLOSED', options)
    nextWriteTimer !== null && clearImmediate(nextWriteTimer)
    chunk = nextWriteTimer = null
    query && queryError(query, err)
    while (sent.length)
      queryError(sent.shift(), err)
    return false
  }

  function connectTimedOut() {`,
      },
      {
        file: 'connection.js',
        from: `    clearImmediate(nextWriteTimer)
    socket.removeListener('data', data)`,
        to: `    clearImmediate(nextWriteTimer)
    // consentry: the closed socket's unsent bytes go with it; kept, the next session's
    // startup would queue behind a cleared timer and never be sent
    chunk = nextWriteTimer = null
    socket.removeListener('data', data)`,
      },
    ],
  },
  {
    id: 'close-settles-session',
    replace: [
      {
        file: 'connection.js',
        from: `  async function closed(hadError) {`,
        to: `  // consentry: what a closed session still owed an answer fails, and none of it is left for the
  // next session, whose first answer would otherwise settle it: with the dead backend's last
  // error, that failed the query the connection had just reconnected for
  function forgetSession() {
    const err = Errors.connection('CONNECTION_CLOSED', options)
    query && queryError(query, err)
    while (sent.length)
      queryError(sent.shift(), err)
    query = results = errorResponse = null
    result = new Result()
  }

  async function closed(hadError) {`,
      },
      {
        file: 'connection.js',
        from: `    if (initial)
      return reconnect()

    !hadError && (query || sent.length) && error(Errors.connection('CONNECTION_CLOSED', options, socket))
`,
        to: `    if (initial)
      return (forgetSession(), reconnect())

    !hadError && (query || sent.length) && error(Errors.connection('CONNECTION_CLOSED', options, socket))
    forgetSession()
`,
      },
      {
        file: 'connection.js',
        from: `        return fetchArrayTypes()
`,
        to: `        // consentry: a type fetch cut off by a lost connection fails the query waiting for the
        // connection (errored), or is made again by the next session (closed); its own rejection,
        // unhandled, ended the process
        return fetchArrayTypes().catch(() => { /* settled above */ })
`,
      },
    ],
  },
]

function sha512(bytes) {
  return 'sha512-' + createHash('sha512').update(bytes).digest('base64')
}

function pristine() {
  if (process.argv[2]) return readFileSync(process.argv[2])
  const dir = mkdtempSync(path.join(os.tmpdir(), 'postgres-pristine-'))
  try {
    const [packed] = JSON.parse(execFileSync('npm', ['pack', BASE, '--json', '--pack-destination', dir], { encoding: 'utf8' }))
    return readFileSync(path.join(dir, packed.filename))
  } finally {
    rmSync(dir, { recursive: true, force: true })
  }
}

/** The entries of a ustar archive (npm's tarballs hold only regular files), headers kept. */
function untar(tar) {
  const entries = []
  let at = 0
  while (at + 512 <= tar.length && tar.subarray(at, at + 512).some((byte) => byte !== 0)) {
    const header = Buffer.from(tar.subarray(at, at + 512))
    const field = (from, length) => header.toString('latin1', from, from + length).replace(/\0.*$/s, '')
    const type = field(156, 1)
    if (type !== '0' && type !== '') throw new Error(`unexpected tar entry type "${type}" for ${field(0, 100)}`)
    const prefix = field(345, 155)
    const name = (prefix ? prefix + '/' : '') + field(0, 100)
    const size = parseInt(field(124, 12).trim(), 8)
    entries.push({ name, header, data: Buffer.from(tar.subarray(at + 512, at + 512 + size)) })
    at += 512 + Math.ceil(size / 512) * 512
  }
  return entries
}

function tar(entries) {
  const blocks = []
  for (const { header, data } of entries) {
    header.write(data.length.toString(8).padStart(10, '0') + ' \0', 124, 12, 'latin1')
    header.fill(' ', 148, 156)
    const sum = header.reduce((total, byte) => total + byte, 0)
    header.write(sum.toString(8).padStart(6, '0') + ' \0', 148, 8, 'latin1')
    blocks.push(header, data, Buffer.alloc((512 - (data.length % 512)) % 512))
  }
  blocks.push(Buffer.alloc(1024))
  return Buffer.concat(blocks)
}

function apply(entries) {
  const byName = new Map(entries.map((entry) => [entry.name, entry]))
  for (const build of BUILDS) {
    for (const fix of FIXES) {
      for (const { file, from, to } of fix.replace) {
        const entry = byName.get(`package/${build}/${file}`)
        if (!entry) throw new Error(`${fix.id}: package/${build}/${file} is missing`)
        const source = entry.data.toString('utf8')
        const at = source.indexOf(from)
        if (at === -1 || source.indexOf(from, at + 1) !== -1)
          throw new Error(`${fix.id}: the code it replaces occurs ${at === -1 ? 'nowhere' : 'more than once'} in ${build}/${file}`)
        entry.data = Buffer.from(source.slice(0, at) + to + source.slice(at + from.length), 'utf8')
      }
    }
  }
  const manifest = byName.get('package/package.json')
  const json = JSON.parse(manifest.data.toString('utf8'))
  if (`${json.name}@${json.version}` !== BASE) throw new Error(`the pristine package is ${json.name}@${json.version}, not ${BASE}`)
  // npm runs a file: tarball's prepare script on install (the registry's copy it leaves alone);
  // this one rebuilds from sources the package does not ship, and would fail
  delete json.scripts.prepare
  json.consentry = { base: BASE, fixes: FIXES.map((fix) => fix.id), build: 'db/vendor/build-postgres.mjs' }
  manifest.data = Buffer.from(JSON.stringify(json, null, 2) + '\n', 'utf8')
}

const source = pristine()
if (sha512(source) !== BASE_INTEGRITY) throw new Error(`the pristine tarball is not the registry's ${BASE} (${sha512(source)})`)
const entries = untar(gunzipSync(source))
apply(entries)
const built = tar(entries)
if (existsSync(OUT) && gunzipSync(readFileSync(OUT)).equals(built)) {
  console.log(`${path.relative(process.cwd(), OUT)} already holds these contents: unchanged (${sha512(readFileSync(OUT))})`)
} else {
  writeFileSync(OUT, gzipSync(built, { level: 9 }))
  console.log(`wrote ${path.relative(process.cwd(), OUT)} (${sha512(readFileSync(OUT))}); install it with npm install ./${path.relative(process.cwd(), OUT)} (a plain npm install keeps the old copy its lockfile names)`)
}
