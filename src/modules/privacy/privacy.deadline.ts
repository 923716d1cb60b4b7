const DAY_MS = 86_400_000

/**
 * When a request received at `receivedAt` is due (P-DSR-6): `days` calendar days later, or
 * `days` business days (Saturdays and Sundays skipped, counted in UTC until accounts have a time
 * zone). Account cancellation is due within 15 days or the account's deadline, whichever is sooner.
 */
export function dueAt(receivedAt: Date, days: number, businessDays: boolean): Date {
  if (!businessDays) return new Date(receivedAt.getTime() + days * DAY_MS)
  let at = receivedAt.getTime()
  let left = days
  while (left > 0) {
    at += DAY_MS
    const weekday = new Date(at).getUTCDay()
    if (weekday !== 0 && weekday !== 6) left--
  }
  return new Date(at)
}

export const CANCELLATION_DAYS = 15

export function deadlineOf(type: string, receivedAt: Date, account: { requestDeadlineDays: number; requestDeadlineBusinessDays: boolean }): Date {
  const due = dueAt(receivedAt, account.requestDeadlineDays, account.requestDeadlineBusinessDays)
  if (type !== 'cancel_account') return due
  const cancellation = new Date(receivedAt.getTime() + CANCELLATION_DAYS * DAY_MS)
  return due < cancellation ? due : cancellation
}
