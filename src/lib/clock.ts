// Time comes from here, so rules about instants can be tested without sleeping.
export interface Clock {
  now(): Date
}

export const systemClock: Clock = { now: () => new Date() }
