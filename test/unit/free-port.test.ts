import net from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { ephemeralLow, FREE_PORT_LOW, freePort } from '../../lib/net/free-port.js';

const servers: net.Server[] = [];
afterEach(async () => {
  await Promise.all(servers.splice(0).map((s) => new Promise((r) => s.close(r))));
});

function listen(port: number): Promise<net.Server> {
  return new Promise((resolve, reject) => {
    const s = net.createServer().once('error', reject);
    s.listen(port, '127.0.0.1', () => {
      servers.push(s);
      resolve(s);
    });
  });
}

/** The injected random number that makes freePort try `port` (the inverse of its pick). */
const toward = (port: number) => (port - FREE_PORT_LOW + 0.5) / (ephemeralLow() - FREE_PORT_LOW);

describe('freePort', () => {
  it('picks a port below the kernel’s ephemeral range, where no outgoing connection takes it, and a server can listen on it', async () => {
    const port = await freePort();
    expect(port).toBeGreaterThanOrEqual(FREE_PORT_LOW);
    expect(port).toBeLessThan(ephemeralLow());
    await listen(port);
  });

  it('passes over a port something listens on and returns the next free one it tries', async () => {
    const taken = await freePort();
    await listen(taken);
    const free = await freePort();
    expect(free).not.toBe(taken);
    const picks = [toward(taken), toward(free)];
    let calls = 0;
    expect(await freePort('127.0.0.1', () => picks[calls++]!)).toBe(free);
    expect(calls).toBe(2);
  });
});
