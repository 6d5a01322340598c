// The address `serve` binds to (S4): loopback by default; anything else only with a token.
import net from "node:net";

export interface ListenAddress {
  host: string;
  port: number;
}

/** "127.0.0.1:8760", "[::1]:8760", "localhost:0" → host and port; null when it is not HOST:PORT. */
export function parseListen(text: string): ListenAddress | null {
  const match = /^(?:\[([0-9a-fA-F:.]+)\]|([^\s:[\]]+)):(\d{1,5})$/.exec(text.trim());
  if (!match) return null;
  const host = match[1] ?? match[2];
  const port = Number(match[3]);
  if (host === undefined || !Number.isInteger(port) || port > 65_535) return null;
  if (match[1] !== undefined && net.isIPv6(host) === false) return null;
  return { host, port };
}

/** True only for addresses that cannot be reached from another machine. */
export function isLoopbackHost(host: string): boolean {
  const h = host.toLowerCase();
  if (h === "localhost" || h === "::1" || h === "0:0:0:0:0:0:0:1") return true;
  if (net.isIPv4(h)) return h.startsWith("127.");
  // IPv4-mapped IPv6 loopback (::ffff:127.0.0.1).
  const mapped = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/.exec(h);
  return mapped?.[1] !== undefined && mapped[1].startsWith("127.");
}

/** The URL people open: IPv6 hosts in brackets; a wildcard address shown as itself (it is what was asked). */
export function formatListenUrl(host: string, port: number): string {
  return `http://${net.isIPv6(host) ? `[${host}]` : host}:${port}/`;
}
