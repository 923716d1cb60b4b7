import t from 'tap'
import { GroupCommit } from '../../src/lib/group-commit.js'

// Group commit's own rules, without a database: what goes together, what waits, and that one bad
// input is answered alone. (The statements it batches are tested on both databases in the
// modules' group-commit tests.)

/** A `many` whose statements finish when the test says so; it records each batch it was given. */
function controlled(fail?: (input: string) => boolean) {
  const batches: string[][] = []
  const pending: (() => void)[] = []
  const many = (inputs: string[]) =>
    new Promise<string[]>((resolve, reject) => {
      batches.push(inputs)
      pending.push(() => (inputs.some((input) => fail?.(input)) ? reject(new Error('constraint')) : resolve(inputs.map((input) => `${input}!`))))
    })
  const finishNext = () => pending.shift()!()
  return { batches, many, finishNext, pending }
}

const turn = () => new Promise((resolve) => setImmediate(resolve))
/** A few turns of the event loop: whatever was scheduled has gone. */
const settle = async () => {
  for (let i = 0; i < 5; i++) await turn()
}

t.test('writes of one turn go as one batch, each answered with its own result', async (t) => {
  const { batches, many, finishNext } = controlled()
  const commit = new GroupCommit(many)
  const answers = Promise.all(['a', 'b', 'c'].map((input) => commit.run(input)))
  await turn()
  t.same(batches, [['a', 'b', 'c']])
  finishNext()
  t.same(await answers, ['a!', 'b!', 'c!'])
})

t.test('while maxInFlight statements are out, arrivals wait and go together when one returns', async (t) => {
  const { batches, many, finishNext, pending } = controlled()
  const commit = new GroupCommit(many, 200, 1)
  const first = commit.run('a')
  await turn()
  const later = [commit.run('b')]
  await turn()
  later.push(commit.run('c'))
  await turn()
  t.same(batches, [['a']], 'nothing else goes while the first is out')
  finishNext()
  t.equal(await first, 'a!')
  await settle()
  t.same(batches, [['a'], ['b', 'c']], 'the two arrivals of two turns go as one batch')
  t.equal(pending.length, 1)
  finishNext()
  t.same(await Promise.all(later), ['b!', 'c!'])
})

t.test('with two in flight, a statement that waits does not hold up the next batch', async (t) => {
  const { batches, many, pending } = controlled()
  const commit = new GroupCommit(many, 200, 2)
  void commit.run('blocked')
  await turn()
  const next = commit.run('other')
  await turn()
  t.same(batches, [['blocked'], ['other']], 'the second batch went while the first waits')
  pending[1]!()
  t.equal(await next, 'other!')
  pending[0]!()
})

t.test('a batch that fails is written again one by one: the bad input gets its error, the others their results', async (t) => {
  const { batches, many, finishNext, pending } = controlled((input) => input === 'bad')
  const commit = new GroupCommit(many)
  const answers = ['a', 'bad', 'c'].map((input) => commit.run(input).then(String, (error: Error) => `error: ${error.message}`))
  await turn()
  finishNext()
  // Each alone, in arrival order: one statement out at a time.
  for (let i = 0; i < 3; i++) {
    await settle()
    t.equal(pending.length, 1, 'one statement out')
    finishNext()
  }
  t.same(await Promise.all(answers), ['a!', 'error: constraint', 'c!'])
  t.same(batches, [['a', 'bad', 'c'], ['a'], ['bad'], ['c']])
})
