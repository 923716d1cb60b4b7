import { cpSync, mkdirSync, rmSync } from 'node:fs'
import path from 'node:path'
import { build } from 'esbuild'

// The bench runs the service as a deployment would: compiled ahead of time into one ES module
// (the tsx loader, which `npm start` uses for convenience, keeps the TypeScript transform and its
// source maps in the process: about 190 MB of resident memory before the first request).
// Dependencies stay in node_modules (resolved from the output's place inside it); the migrations
// are copied next to the file, where db/client.ts looks for them.

export async function buildService(root: string): Promise<string> {
  const outDir = path.join(root, 'node_modules', '.cache', 'consentry-bench')
  rmSync(outDir, { recursive: true, force: true })
  mkdirSync(outDir, { recursive: true })
  const outfile = path.join(outDir, 'server.mjs')
  await build({
    entryPoints: [path.join(root, 'src', 'server.ts')],
    outfile,
    bundle: true,
    packages: 'external',
    platform: 'node',
    format: 'esm',
    target: 'node20',
    logLevel: 'warning',
  })
  cpSync(path.join(root, 'db', 'migrations'), path.join(outDir, 'migrations'), { recursive: true })
  return outfile
}
