// Time comes from here, so rules about instants can be tested without sleeping.
export interface Clock {
  now(): Date
  /**
   * True when this is the database's clock: a statement that must take its instant after its own
   * locks (rule 8) may then stamp it with the database's clock_timestamp() instead of now().
   */
  readonly inDatabase?: boolean
}

export const systemClock: Clock = { now: () => new Date() }

/**
 * The database's clock, read without a round trip per instant: the offset between the database
 * and this process is measured at start and every `refreshMs`, and instants never run backwards.
 * Every process behind a load balancer stamps consents, withdrawals and decisions on the same
 * clock (rule 8), however far their own clocks drift.
 */
export async function databaseClock(readDatabaseTime: () => Promise<Date>, refreshMs = 60_000): Promise<Clock & { stop(): void }> {
  let offset = 0
  let last = 0
  const sync = async () => {
    const before = Date.now()
    const databaseTime = (await readDatabaseTime()).getTime()
    offset = databaseTime - (before + Date.now()) / 2
  }
  await sync()
  const timer = setInterval(() => void sync().catch(() => undefined), refreshMs)
  timer.unref()
  return {
    inDatabase: true,
    now: () => {
      last = Math.max(last, Math.round(Date.now() + offset))
      return new Date(last)
    },
    stop: () => clearInterval(timer),
  }
}
