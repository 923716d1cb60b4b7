import { spawn } from 'node:child_process'
import { mkdtempSync } from 'node:fs'
import { tmpdir } from 'node:os'
import path from 'node:path'
import t from 'tap'
import { checkResponse } from '../helpers/openapi.js'

// A newcomer's first minute: the service on the embedded database prints a curl line, and that
// line works the moment it is printed (it answered 503 under_pressure for about a second, while
// the event-loop sample still held the start's own work).

process.env._TAPJS_PROCESSINFO_EXCLUDE_ = '/./'

t.test("the start banner's curl line works at once", async (t) => {
  const child = spawn(process.execPath, ['--import', 'tsx', 'src/server.ts'], {
    env: { PATH: process.env.PATH ?? '', DATA_DIR: mkdtempSync(path.join(tmpdir(), 'consentry-banner-')), HOST: '127.0.0.1', PORT: '0', LOG_LEVEL: 'warn', PURGE_INTERVAL_MINUTES: '0' },
    stdio: ['ignore', 'pipe', 'pipe'],
  })
  let output = ''
  child.stdout!.on('data', (chunk) => (output += chunk))
  child.stderr!.on('data', (chunk) => (output += chunk))
  t.teardown(async () => {
    if (child.exitCode !== null) return
    const exited = new Promise((resolve) => child.once('exit', resolve))
    child.kill('SIGTERM')
    await exited
  })
  const deadline = Date.now() + 90_000
  let line: RegExpExecArray | null = null
  while (!(line = /Try:\s+curl -s -H "Authorization: Bearer ([^"]+)" (http:\/\/\S+)/.exec(output))) {
    if (child.exitCode !== null || Date.now() > deadline) throw new Error(`the service did not print its curl line:\n${output}`)
    await new Promise((resolve) => setTimeout(resolve, 10))
  }
  const res = await fetch(line[2]!, { headers: { authorization: `Bearer ${line[1]}` } })
  const body = (await res.json()) as Record<string, unknown>
  t.equal(res.status, 200, 'answered at once', { body })
  t.equal(body.email, 'admin@demo.invalid', 'the demo admin')
  t.same(checkResponse({ method: 'GET', url: '/v1/me', status: res.status, contentType: res.headers.get('content-type') ?? undefined, body }), [], 'as the OpenAPI document says')
})
