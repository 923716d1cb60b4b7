import { cpSync, mkdirSync, renameSync } from 'node:fs'
import path from 'node:path'
import { fileURLToPath } from 'node:url'
import { build } from 'esbuild'

// The service compiled ahead of time into one ES module, as `npm start`, the bench and the fault
// drills run it: the tsx loader keeps the TypeScript transform and its source maps in the
// process (about 50 MB of resident memory more on an embedded restart, measured 317 MB against
// 269 MB). Dependencies stay in node_modules (resolved from the output's place inside it); the
// migrations are copied next to the file, where db/client.ts looks for them.
// `tsx src/cli/build.ts [name]` writes node_modules/.cache/<name>/server.mjs (name: consentry).

/**
 * How node runs the compiled service (`npm start`'s script carries the same, and a test checks
 * it; the bench and the fault drills pass these). V8 otherwise grows its old space with the
 * allocation rate, not the live data: a join storm at 500 connections peaked at 298 MB resident
 * with about 40 MB live. Capped at 160 MB (four times what is live after start) the same storm
 * peaked at 170 MB with the same throughput; under-pressure sheds with 503 at 0.9 of the cap
 * (MAX_HEAP_SHARE) before it could be reached. Smaller semi-spaces (8 MB) held it at 153 MB but
 * cost the 100-participant decision half again its CPU in scavenges (0.72–0.77 ms per request
 * against 0.50–0.53), so the young generation keeps V8's default. Workers forked under
 * WEB_CONCURRENCY and a first start's setup child inherit the flag.
 */
export const SERVICE_NODE_FLAGS = ['--max-old-space-size=160']

export async function buildService(root: string, name = 'consentry-bench'): Promise<string> {
  const outDir = path.join(root, 'node_modules', '.cache', name)
  mkdirSync(outDir, { recursive: true })
  const outfile = path.join(outDir, 'server.mjs')
  // Written aside and renamed: a service already running from this file (another `npm start` on
  // this checkout, a cluster primary forking a new worker) never reads a half-written one.
  const written = `${outfile}.${process.pid}.tmp`
  await build({
    entryPoints: [path.join(root, 'src', 'server.ts')],
    outfile: written,
    bundle: true,
    packages: 'external',
    platform: 'node',
    format: 'esm',
    target: 'node20',
    logLevel: 'warning',
  })
  renameSync(written, outfile)
  cpSync(path.join(root, 'db', 'migrations'), path.join(outDir, 'migrations'), { recursive: true, force: true })
  return outfile
}

if (process.argv[1] && fileURLToPath(import.meta.url) === path.resolve(process.argv[1])) {
  await buildService(path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..'), process.argv[2] ?? 'consentry')
}
