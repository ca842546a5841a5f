import { spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { createPool } from '../../lib/db/connect.js';
import { Directory } from '../../lib/directory/directory.js';
import type { DirectoryDatabase } from '../../lib/directory/directory-database.js';
import { LocalMariadb } from '../../lib/mariadb/local-mariadb.js';
import { loadAppConfig } from '../../bin/app-variables.js';
import { openStorage } from '../../lib/storage.js';
import { freePort } from '../harness/ports.js';

const dirs: string[] = [];
afterAll(() => dirs.forEach((d) => fs.rmSync(d, { recursive: true, force: true })));
const small = { bufferPoolBytes: 64 << 20, logFileBytes: 32 << 20, flushLogAtTrxCommit: 2 as const, tableCache: 200 };

describe('local MariaDB servers', () => {
  it('reuse their data directory after a restart, and the round-robin cursor survives it', async () => {
    const baseDir = fs.mkdtempSync(path.join(os.tmpdir(), 'apm-restart-'));
    dirs.push(baseDir);
    const ports = [await freePort(), await freePort()];
    const config = loadAppConfig({ APM_DATA_DIR: baseDir });
    let m = await LocalMariadb.start({ baseDir, ports, ...small });
    let storage = await openStorage(config, { shardAddresses: m.servers.map((s) => s.address) });
    const [s1, s2] = await storage.directory.listShards();
    const first = await storage.directory.createAccount({ name: 'before restart' });
    expect(first.account.shardId).toBe(s1!.id);
    await storage.close();
    await m.stop();

    m = await LocalMariadb.start({ baseDir, ports, ...small });
    storage = await openStorage(config, { shardAddresses: m.servers.map((s) => s.address) });
    try {
      expect((await storage.directory.listAccounts()).map((a) => a.name)).toEqual(['before restart']);
      const second = await storage.directory.createAccount({ name: 'after restart' });
      expect(second.account.shardId).toBe(s2!.id);
      expect(await storage.directory.accountByLicenseKey(first.licenseKey)).toMatchObject({ id: first.account.id });
      expect(await storage.directory.accountByReadKey(first.licenseKey)).toBeUndefined();
    } finally {
      await storage.close();
      await m.stop();
    }
  });

  it('stop cleanly when the parent process gets SIGTERM', async () => {
    const baseDir = fs.mkdtempSync(path.join(os.tmpdir(), 'apm-sig-'));
    dirs.push(baseDir);
    const child = spawn(process.execPath, [path.resolve(import.meta.dirname, '../fixtures/mariadb-parent.mjs'), baseDir, String(await freePort())], { stdio: ['ignore', 'pipe', 'inherit'] });
    const line = await new Promise<string>((resolve) => child.stdout.once('data', (d: Buffer) => resolve(d.toString())));
    const pid = Number(fs.readFileSync(JSON.parse(line).pidFile, 'utf8'));
    expect(() => process.kill(pid, 0)).not.toThrow();
    const exited = new Promise<number | null>((r) => child.once('exit', (code) => r(code)));
    child.kill('SIGTERM');
    expect(await exited).toBe(0);
    expect(() => process.kill(pid, 0)).toThrow();
    const log = fs.readFileSync(path.join(baseDir, 'shard-1', 'error.log'), 'utf8');
    expect(log).toMatch(/Shutdown complete/);
  });

  it('directory keys: random, distinct, stored hashed', async () => {
    const baseDir = fs.mkdtempSync(path.join(os.tmpdir(), 'apm-keys-'));
    dirs.push(baseDir);
    const m = await LocalMariadb.start({ baseDir, ports: [await freePort()], ...small });
    const storage = await openStorage(loadAppConfig({ APM_DATA_DIR: baseDir }), { shardAddresses: m.servers.map((s) => s.address) });
    try {
      const a = await storage.directory.createAccount({ name: 'k1', plan: 'paid' });
      const b = await storage.directory.createAccount({ name: 'k2' });
      expect(a.licenseKey).toMatch(/^[0-9a-f]{40}$/);
      expect(a.readKey).toMatch(/^apmr_[0-9a-f]{40}$/);
      expect(a.browserKey).toMatch(/^apmb_[0-9a-f]{32}$/);
      expect(new Set([a.licenseKey, b.licenseKey, a.readKey, b.readKey, a.browserKey, b.browserKey]).size).toBe(6);
      expect(a.account.retention).toEqual({ minuteDays: 8, hourDays: 90, dayDays: null });
      expect(b.account.retention).toEqual({ minuteDays: 8, hourDays: 90, dayDays: 365 });
      const dir = storage.directory as Directory;
      const [rows] = await (dir.db as ReturnType<typeof createPool<DirectoryDatabase>>).promise.query<any[]>('SELECT * FROM accounts');
      const stored = JSON.stringify(rows);
      expect(stored).not.toContain(a.licenseKey);
      expect(stored).not.toContain(a.readKey);
      await expect(storage.directory.createAccount({ name: 'x', plan: 'gold' })).rejects.toThrow('cannot create account: unknown plan "gold" (plans: free, paid)');
    } finally {
      await storage.close();
      await m.stop();
    }
  });
});
