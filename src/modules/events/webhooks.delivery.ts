import { lookup } from 'node:dns/promises'
import { BlockList, isIP } from 'node:net'

// Where a webhook may be delivered: never to private, loopback or link-local addresses (a tenant
// must not reach the service's own network) unless WEBHOOK_ALLOW_PRIVATE is set for development.
const blocked = new BlockList()
for (const [net, prefix] of [
  ['0.0.0.0', 8],
  ['10.0.0.0', 8],
  ['100.64.0.0', 10],
  ['127.0.0.0', 8],
  ['169.254.0.0', 16],
  ['172.16.0.0', 12],
  ['192.168.0.0', 16],
  ['198.18.0.0', 15],
  ['224.0.0.0', 4],
] as const) {
  blocked.addSubnet(net, prefix, 'ipv4')
}
for (const [net, prefix] of [
  ['::', 128],
  ['::1', 128],
  ['fc00::', 7],
  ['fe80::', 10],
  ['ff00::', 8],
] as const) {
  blocked.addSubnet(net, prefix, 'ipv6')
}

function isBlocked(address: string): boolean {
  const mapped = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(address)
  if (mapped) return blocked.check(mapped[1]!, 'ipv4')
  return blocked.check(address, isIP(address) === 6 ? 'ipv6' : 'ipv4')
}

/** Why a URL may not receive webhooks, or undefined when it may. */
export async function refusedTarget(url: string, allowPrivate: boolean): Promise<string | undefined> {
  let parsed: URL
  try {
    parsed = new URL(url)
  } catch {
    return 'not a URL'
  }
  if (parsed.protocol !== 'https:' && parsed.protocol !== 'http:') return 'only http and https'
  if (parsed.username || parsed.password) return 'no credentials in the URL'
  if (allowPrivate) return undefined
  const host = parsed.hostname.replace(/^\[|\]$/g, '')
  const addresses = isIP(host) ? [host] : (await lookup(host, { all: true }).catch(() => [])).map((entry) => entry.address)
  if (addresses.length === 0) return 'the host does not resolve'
  if (addresses.some(isBlocked)) return 'a private, loopback or link-local address'
  return undefined
}

export interface DeliveryOutcome {
  ok: boolean
  statusCode: number | null
  latencyMs: number
  error: string | null
}

/** One POST, with a time limit and no redirects (a 3xx is a failure). */
export async function post(url: string, headers: Record<string, string>, body: string, timeoutMs: number): Promise<DeliveryOutcome> {
  const started = performance.now()
  try {
    const response = await fetch(url, { method: 'POST', headers: { 'content-type': 'application/json', ...headers }, body, redirect: 'manual', signal: AbortSignal.timeout(timeoutMs) })
    await response.body?.cancel().catch(() => undefined)
    const latencyMs = Math.round(performance.now() - started)
    return { ok: response.status >= 200 && response.status < 300, statusCode: response.status, latencyMs, error: response.status >= 300 ? `HTTP ${response.status}` : null }
  } catch (error) {
    const name = (error as Error).name
    return { ok: false, statusCode: null, latencyMs: Math.round(performance.now() - started), error: name === 'TimeoutError' ? 'timed out' : 'connection failed' }
  }
}
