import fs from 'node:fs';
import path from 'node:path';
import tls from 'node:tls';
import { createLocalCa, describeCert, issueServerCert } from './local-ca.js';

/** Files uWebSockets.js loads, and the CA agents must trust. */
export interface CollectorTls {
  keyFile: string;
  certFile: string;
  caFile: string;
  caPem: string;
  /** True when this start created the local CA or server certificate. */
  created: boolean;
}

export const LOCAL_NAMES = ['localhost', '127.0.0.1'] as const;
const CA_DAYS = 3650;
const SERVER_DAYS = 825;
/** A server certificate closer than this to expiry is re-issued at start-up. */
const RENEW_BEFORE_MS = 30 * 86_400_000;

/** Production: the configured files, checked at start-up (fail fast, with the file named). */
export function loadConfiguredTls(files: { keyFile: string; certFile: string; caFile: string }): CollectorTls {
  const read = (file: string, what: string) => {
    try {
      return fs.readFileSync(file, 'utf8');
    } catch (err) {
      throw new Error(`cannot start collector: cannot read TLS ${what} ${file}: ${(err as Error).message}`);
    }
  };
  const key = read(files.keyFile, 'key');
  const cert = read(files.certFile, 'certificate');
  const caPem = read(files.caFile, 'CA');
  try {
    tls.createSecureContext({ key, cert });
  } catch (err) {
    throw new Error(`cannot start collector: TLS key ${files.keyFile} and certificate ${files.certFile} do not load together: ${(err as Error).message}`);
  }
  return { ...files, caPem, created: false };
}

/**
 * Embedded default: a local CA and a server certificate for localhost and 127.0.0.1 under `dir`
 * (ca.crt, ca.key, server.crt, server.key), created on first start and kept. The CA key never
 * leaves `dir`; keys are mode 0600. A first start races safely with another one: files are built
 * in a private folder and renamed into place, and the loser uses the winner's.
 */
export async function ensureLocalTls(dir: string, now: Date): Promise<CollectorTls> {
  const files = { keyFile: path.join(dir, 'server.key'), certFile: path.join(dir, 'server.crt'), caFile: path.join(dir, 'ca.crt') };
  let created = false;
  if (!fs.existsSync(files.caFile)) {
    const ca = await createLocalCa(`apm-pipeline local CA ${now.toISOString().slice(0, 10)}`, now, CA_DAYS);
    const server = await issueServerCert(ca, { names: LOCAL_NAMES, now, days: SERVER_DAYS });
    const tmp = `${dir}.tmp-${process.pid}-${Date.now()}`;
    fs.mkdirSync(tmp, { recursive: true, mode: 0o700 });
    fs.writeFileSync(path.join(tmp, 'ca.key'), ca.keyPem, { mode: 0o600 });
    fs.writeFileSync(path.join(tmp, 'ca.crt'), ca.certPem, { mode: 0o644 });
    fs.writeFileSync(path.join(tmp, 'server.key'), server.keyPem, { mode: 0o600 });
    fs.writeFileSync(path.join(tmp, 'server.crt'), server.certPem, { mode: 0o644 });
    fs.mkdirSync(path.dirname(dir), { recursive: true });
    try {
      fs.renameSync(tmp, dir);
      created = true;
    } catch {
      fs.rmSync(tmp, { recursive: true, force: true }); // someone else created it first
    }
  } else if (needsRenewal(files.certFile, now)) {
    const ca = { certPem: fs.readFileSync(files.caFile, 'utf8'), keyPem: fs.readFileSync(path.join(dir, 'ca.key'), 'utf8') };
    const server = await issueServerCert(ca, { names: LOCAL_NAMES, now, days: SERVER_DAYS });
    writeAtomic(files.keyFile, server.keyPem, 0o600);
    writeAtomic(files.certFile, server.certPem, 0o644);
    created = true;
  }
  return { ...files, caPem: fs.readFileSync(files.caFile, 'utf8'), created };
}

function needsRenewal(certFile: string, now: Date): boolean {
  if (!fs.existsSync(certFile)) return true;
  const d = describeCert(fs.readFileSync(certFile, 'utf8'));
  return d.notAfter.getTime() - now.getTime() < RENEW_BEFORE_MS || !LOCAL_NAMES.every((n) => d.names.includes(n));
}

function writeAtomic(file: string, text: string, mode: number): void {
  const tmp = `${file}.tmp-${process.pid}`;
  fs.writeFileSync(tmp, text, { mode });
  fs.renameSync(tmp, file);
}
