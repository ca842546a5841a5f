import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { ensureLocalTls, loadConfiguredTls } from '../../collector/tls/collector-tls.js';
import { createLocalCa, describeCert, issueServerCert } from '../../collector/tls/local-ca.js';
import { ensureRunSecret } from '../../collector/newrelic/run-secret.js';

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'apm-tls-'));
afterAll(() => fs.rmSync(tmp, { recursive: true, force: true }));
const DAY = 86_400_000;

describe('embedded TLS material (collector/tls/collector-tls.ts)', () => {
  it('creates a CA and server certificate once, keys private, and reuses them on the next start', async () => {
    const dir = path.join(tmp, 'a', 'tls');
    const now = new Date();
    const first = await ensureLocalTls(dir, now);
    expect(first.created).toBe(true);
    expect(fs.readdirSync(dir).sort()).toEqual(['ca.crt', 'ca.key', 'server.crt', 'server.key']);
    expect(fs.statSync(path.join(dir, 'ca.key')).mode & 0o777).toBe(0o600);
    expect(fs.statSync(first.keyFile).mode & 0o777).toBe(0o600);
    expect(describeCert(fs.readFileSync(first.certFile, 'utf8')).names).toEqual(['localhost', '127.0.0.1']);
    const cert = fs.readFileSync(first.certFile, 'utf8');
    const again = await ensureLocalTls(dir, now);
    expect(again.created).toBe(false);
    expect(fs.readFileSync(again.certFile, 'utf8')).toBe(cert);
    expect(again.caPem).toBe(first.caPem);
  });

  it('re-issues the server certificate from the same CA when it is 30 days from expiry', async () => {
    const dir = path.join(tmp, 'b', 'tls');
    const long = new Date(Date.now() - 800 * DAY);
    const first = await ensureLocalTls(dir, long);
    const oldCert = fs.readFileSync(first.certFile, 'utf8');
    const renewed = await ensureLocalTls(dir, new Date());
    expect(renewed.created).toBe(true);
    expect(renewed.caPem).toBe(first.caPem);
    const d = describeCert(fs.readFileSync(renewed.certFile, 'utf8'));
    expect(fs.readFileSync(renewed.certFile, 'utf8')).not.toBe(oldCert);
    expect(Math.round((d.notAfter.getTime() - Date.now()) / DAY)).toBe(825);
  });

  it('checks configured production files at start-up and names the bad one', async () => {
    const now = new Date();
    const ca = await createLocalCa('prod CA', now, 30);
    const a = await issueServerCert(ca, { names: ['collector.example'], now, days: 30 });
    const b = await issueServerCert(ca, { names: ['collector.example'], now, days: 30 });
    const file = (name: string, text: string) => {
      const f = path.join(tmp, name);
      fs.writeFileSync(f, text);
      return f;
    };
    const ok = loadConfiguredTls({ keyFile: file('a.key', a.keyPem), certFile: file('a.crt', a.certPem), caFile: file('ca.crt', ca.certPem) });
    expect(ok.caPem).toBe(ca.certPem);
    expect(() => loadConfiguredTls({ keyFile: file('b.key', b.keyPem), certFile: path.join(tmp, 'a.crt'), caFile: path.join(tmp, 'ca.crt') })).toThrow(
      /TLS key .*b\.key and certificate .*a\.crt do not load together/,
    );
    expect(() => loadConfiguredTls({ keyFile: path.join(tmp, 'missing.key'), certFile: path.join(tmp, 'a.crt'), caFile: path.join(tmp, 'ca.crt') })).toThrow(
      /cannot read TLS key .*missing\.key/,
    );
  });
});

describe('run secret', () => {
  it('uses the configured secret, else creates one file once (0600) and keeps it', () => {
    expect(ensureRunSecret('s'.repeat(40), path.join(tmp, 'unused'))).toBe('s'.repeat(40));
    const file = path.join(tmp, 'collector', 'run-secret');
    const first = ensureRunSecret(undefined, file);
    expect(first).toMatch(/^[0-9a-f]{64}$/);
    expect(fs.statSync(file).mode & 0o777).toBe(0o600);
    expect(ensureRunSecret(undefined, file)).toBe(first);
  });
});
