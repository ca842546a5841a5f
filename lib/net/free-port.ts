import fs from 'node:fs';
import net from 'node:net';

/** The lowest port a free port is picked from (below it: well-known and registered services' ports). */
export const FREE_PORT_LOW = 10_000;
const TRIES = 200;

/**
 * A TCP port free on `host` right now, for a server started after this returns (tests, the bench, a
 * collector supervisor given port 0; several runs may share the machine). Picked at random below the
 * kernel's ephemeral range and checked by listening on it. A port the kernel picks (listen on port 0)
 * lies in the ephemeral range, which it also hands to every outgoing connection: between the check and
 * the server's own bind, another process's connection could take it (seen with two test files running
 * at once: "address in use"). A port below that range is never handed out by the kernel, only taken by
 * a process naming it. Falls back to the kernel's pick when no random port was free.
 */
export async function freePort(host = '127.0.0.1', random: () => number = Math.random): Promise<number> {
  const high = ephemeralLow();
  if (high - FREE_PORT_LOW >= 1000) {
    for (let i = 0; i < TRIES; i++) {
      const port = FREE_PORT_LOW + Math.floor(random() * (high - FREE_PORT_LOW));
      if (await listensOn(host, port)) return port;
    }
  }
  return kernelPort(host);
}

/** The first port of the kernel's ephemeral range (Linux: net.ipv4.ip_local_port_range; 32768 elsewhere). */
export function ephemeralLow(): number {
  try {
    const low = Number(fs.readFileSync('/proc/sys/net/ipv4/ip_local_port_range', 'utf8').trim().split(/\s+/)[0]);
    if (Number.isInteger(low) && low > 0 && low <= 65535) return low;
  } catch {
    // not Linux, or no /proc: the usual default
  }
  return 32768;
}

/** Whether a server could listen on host:port just now (closed again before this resolves). */
function listensOn(host: string, port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const srv = net.createServer();
    srv.unref();
    srv.once('error', () => resolve(false));
    srv.listen(port, host, () => srv.close(() => resolve(true)));
  });
}

function kernelPort(host: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.unref();
    srv.once('error', reject);
    srv.listen(0, host, () => {
      const port = (srv.address() as net.AddressInfo).port;
      srv.close(() => resolve(port));
    });
  });
}
