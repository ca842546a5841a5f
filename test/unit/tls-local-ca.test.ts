import https from 'node:https';
import type { AddressInfo } from 'node:net';
import { describe, expect, it } from 'vitest';
import { createLocalCa, describeCert, issueServerCert } from '../../collector/tls/local-ca.js';

function get(port: number, host: string, ca: string): Promise<string> {
  return new Promise((resolve, reject) => {
    https
      .get({ host, port, ca, path: '/', agent: false }, (res) => {
        let text = '';
        res.on('data', (d) => (text += String(d)));
        res.on('end', () => resolve(text));
      })
      .on('error', reject);
  });
}

describe('local CA (collector/tls/local-ca.ts)', () => {
  it('issues a server certificate for localhost and 127.0.0.1 that TLS clients trusting only the CA accept', async () => {
    const now = new Date();
    const ca = await createLocalCa('apm-pipeline test CA', now, 3650);
    const server = await issueServerCert(ca, { names: ['localhost', '127.0.0.1'], now, days: 825 });
    const d = describeCert(server.certPem);
    expect(d.names).toEqual(['localhost', '127.0.0.1']);
    expect(Math.round((d.notAfter.getTime() - now.getTime()) / 86_400_000)).toBe(825);
    expect(server.keyPem).toMatch(/^-----BEGIN PRIVATE KEY-----/);

    const srv = https.createServer({ key: server.keyPem, cert: server.certPem }, (_req, res) => res.end('ok'));
    await new Promise<void>((r) => srv.listen(0, '127.0.0.1', r));
    try {
      const port = (srv.address() as AddressInfo).port;
      expect(await get(port, '127.0.0.1', ca.certPem)).toBe('ok');
      expect(await get(port, 'localhost', ca.certPem)).toBe('ok');
      // Another CA is not trusted: the chain really hangs off our CA.
      const other = await createLocalCa('someone else', now, 30);
      await expect(get(port, '127.0.0.1', other.certPem)).rejects.toThrow(/self[- ]signed|unable to verify|certificate/i);
    } finally {
      srv.close();
    }
  });
});
