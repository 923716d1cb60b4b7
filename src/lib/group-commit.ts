// Group commit: the writes that arrive within one turn of the event loop go to the database as
// one statement and one commit, and each caller is answered with its own result after it. A
// write alone goes by itself (nothing waits for company). When the statement of a batch fails
// (a constraint one row broke), every write of it is tried again alone, one after another in
// arrival order, so one bad row is answered with its own error and never fails the others, and
// a withdrawal that arrived after a grant is still written after it. The chunks of a turn that
// brought more than `maxBatch` writes go one after another for the same reason.
//
// Reads of the hot path batch the same way (a group read: one statement answers every request of
// the turn), where the cost is the round trip and its socket writes, not the work of the query.
//
// While `maxInFlight` statements are out, arrivals wait and go together when one returns: under
// load a batch holds what arrived during a round trip, not during one turn, so the round trips
// (each a socket write in the service and a wake-up in PostgreSQL) fall with the load instead of
// growing with it. Two in flight keep one statement that waits on a row lock (a store holding
// its meeting, a local step) from holding up the writes of other meetings.

interface Waiting<I, O> {
  input: I
  resolve: (output: O) => void
  reject: (error: unknown) => void
}

export class GroupCommit<I, O> {
  private waiting: Waiting<I, O>[] = []
  private scheduled = false
  private inFlight = 0

  constructor(
    /** Answers in the order of its inputs (which is their order of arrival); a write alone is a batch of one. */
    private readonly many: (inputs: I[]) => Promise<O[]>,
    private readonly maxBatch = 200,
    private readonly maxInFlight = 2,
  ) {}

  run(input: I): Promise<O> {
    return new Promise<O>((resolve, reject) => {
      this.waiting.push({ input, resolve, reject })
      this.schedule()
    })
  }

  private schedule() {
    if (this.scheduled || this.inFlight >= this.maxInFlight || this.waiting.length === 0) return
    this.scheduled = true
    // After the I/O callbacks of this turn: every request that arrived with this one has queued.
    setImmediate(() => this.flush())
  }

  private flush() {
    this.scheduled = false
    const turn = this.waiting
    this.waiting = []
    this.inFlight++
    void (async () => {
      for (let start = 0; start < turn.length; start += this.maxBatch) await this.write(turn.slice(start, start + this.maxBatch))
    })().finally(() => {
      this.inFlight--
      this.schedule()
    })
  }

  /** Settles every caller of the batch; never throws. */
  private async write(batch: Waiting<I, O>[]) {
    const alone = (w: Waiting<I, O>) => this.many([w.input]).then((outputs) => w.resolve(outputs[0] as O), w.reject)
    if (batch.length === 1) return alone(batch[0]!)
    let outputs: O[]
    try {
      outputs = await this.many(batch.map((w) => w.input))
    } catch {
      // Each alone, in arrival order: the row that broke the statement gets its own error, the others their rows.
      for (const w of batch) await alone(w)
      return
    }
    batch.forEach((w, i) => w.resolve(outputs[i]!))
  }
}
