import type { Clock } from '../../src/lib/clock.js'

/** The server clock of a test, moved by hand: rules about instants are tested without sleeping. */
export class TestClock implements Clock {
  private at: number
  constructor(start: string) {
    this.at = Date.parse(start)
  }
  now() {
    return new Date(this.at)
  }
  set(instant: string | number) {
    this.at = typeof instant === 'number' ? instant : Date.parse(instant)
  }
}
