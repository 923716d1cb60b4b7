import { spawn } from 'node:child_process'
import { existsSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import path from 'node:path'
import t from 'tap'
import { FolderInUseError, lockFolder } from '../../db/folder-lock.js'

// One process per embedded data folder (issue 13, item 5): a second `npm start` on the same
// folder stops with one line naming the process that holds it; a lock left by a process that is
// gone is taken over.

process.env._TAPJS_PROCESSINFO_EXCLUDE_ = '/./'

t.test('a held folder is refused; a lock of a process that is gone is taken over; release gives it back', async (t) => {
  const dir = mkdtempSync(path.join(tmpdir(), 'consentry-lock-'))
  const file = path.join(dir, 'consentry.lock')
  // A live holder: this test's parent process.
  writeFileSync(file, String(process.ppid))
  t.throws(() => lockFolder(dir), FolderInUseError)
  t.throws(() => lockFolder(dir), { message: new RegExp(`in use by process ${process.ppid}`) })
  // A holder that is gone (pid far beyond any running process).
  writeFileSync(file, '4194000')
  const release = lockFolder(dir)
  t.equal(readFileSync(file, 'utf8'), String(process.pid), 'taken over')
  release()
  t.notOk(existsSync(file), 'released')
  release()
  t.pass('releasing twice is harmless')
})

t.test('two npm start on one data folder: the second stops with one line naming the first', async (t) => {
  const dataDir = mkdtempSync(path.join(tmpdir(), 'consentry-two-'))
  const start = () =>
    spawn(process.execPath, ['--import', 'tsx', 'src/server.ts'], {
      env: { PATH: process.env.PATH ?? '', DATA_DIR: dataDir, PORT: '0', LOG_LEVEL: 'warn' },
      stdio: ['ignore', 'pipe', 'pipe'],
    })
  const first = start()
  t.teardown(() => first.kill('SIGKILL'))
  await new Promise<void>((resolve, reject) => {
    let out = ''
    first.stdout.on('data', (chunk: Buffer) => {
      out += chunk.toString()
      if (/listening on/.test(out)) resolve()
    })
    first.once('exit', (code) => reject(new Error(`the first process exited with ${code}`)))
  })
  const second = start()
  let stderr = ''
  second.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()))
  const code = await new Promise<number | null>((resolve) => second.once('exit', resolve))
  t.equal(code, 1, 'the second process stops')
  const lines = stderr.trim().split('\n')
  t.equal(lines.length, 1, stderr)
  t.match(lines[0], new RegExp(`in use by process ${first.pid}`))

  // The first is killed outright (no chance to release): a new start takes the folder over.
  first.kill('SIGKILL')
  await new Promise((resolve) => first.once('exit', resolve))
  const third = start()
  t.teardown(() => third.kill('SIGKILL'))
  const listening = await new Promise<boolean>((resolve) => {
    let out = ''
    third.stdout.on('data', (chunk: Buffer) => {
      out += chunk.toString()
      if (/listening on/.test(out)) resolve(true)
    })
    third.once('exit', () => resolve(false))
  })
  t.ok(listening, 'a lock of a killed process is taken over')
})
