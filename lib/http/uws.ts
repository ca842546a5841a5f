import { createRequire } from 'node:module';
import type * as UWS from 'uWebSockets.js';
import { httpStatusOf, PayloadTooLargeError, publicMessageOf, RetryableError, retryAfterOf } from '../errors.js';

/**
 * uWebSockets.js, loaded once. The registry build falls back to a slow pure-Node implementation when
 * its native binary does not match this Node; we refuse to run on that fallback.
 */
function loadUws(): typeof UWS {
  const require = createRequire(import.meta.url);
  const before = new Set(Object.keys(require.cache));
  const mod = require('uWebSockets.js') as typeof UWS;
  const native = Object.keys(require.cache).some((k) => !before.has(k) && k.endsWith('.node') && k.includes('uws_'));
  const nativeApp = /\[native code\]/.test(String((mod as { App?: unknown }).App));
  if (!native && !nativeApp) {
    throw new Error(
      `cannot start: uWebSockets.js fell back to its slow pure-Node implementation (no native binary for ` +
        `${process.platform}-${process.arch} ABI ${process.versions.modules}); use Node 20 on x64/arm64 Linux`,
    );
  }
  return mod;
}

export const uws: typeof UWS = loadUws();
export type HttpResponse = UWS.HttpResponse;
export type HttpRequest = UWS.HttpRequest;
export type TemplatedApp = UWS.TemplatedApp;

const aborted = new WeakSet<HttpResponse>();
const held = new WeakSet<HttpResponse>();

/** True once the client went away; never write to such a response. */
export function isAborted(res: HttpResponse): boolean {
  return aborted.has(res);
}

/**
 * Marks the response as async-handled: attaches onAborted (required by uWebSockets.js before any
 * asynchronous work, or the process aborts). Safe to call more than once.
 */
export function holdResponse(res: HttpResponse): void {
  if (held.has(res)) return;
  held.add(res);
  res.onAborted(() => aborted.add(res));
}

/**
 * THE body reader: attaches onAborted first, then collects chunks up to `limit` bytes. Rejects with
 * PayloadTooLargeError past the limit (the rest of the body is ignored) and with an Error when the
 * client aborted. Chunks are copied: uWebSockets.js reuses the memory after the callback returns.
 */
export function readBody(res: HttpResponse, opts: { limit: number }): Promise<Buffer> {
  held.add(res);
  return new Promise<Buffer>((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    let failed = false;
    res.onData((ab, isLast) => {
      if (failed) return;
      size += ab.byteLength;
      if (size > opts.limit) {
        failed = true;
        chunks.length = 0;
        reject(new PayloadTooLargeError(`cannot accept body: more than ${opts.limit} bytes`));
        return;
      }
      chunks.push(Buffer.from(ab.slice(0)));
      if (isLast) resolve(chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks, size));
    });
    // onAborted is already attached; a body interrupted by the client never resolves, so make it fail.
    res.onAborted(() => {
      aborted.add(res);
      if (!failed) {
        failed = true;
        reject(new Error('cannot read body: client aborted'));
      }
    });
  });
}

const STATUS_TEXT: Record<number, string> = {
  200: '200 OK', 202: '202 Accepted', 204: '204 No Content', 301: '301 Moved Permanently', 302: '302 Found', 304: '304 Not Modified',
  400: '400 Bad Request', 401: '401 Unauthorized', 403: '403 Forbidden', 404: '404 Not Found', 405: '405 Method Not Allowed',
  409: '409 Conflict', 410: '410 Gone', 413: '413 Payload Too Large', 415: '415 Unsupported Media Type', 422: '422 Unprocessable Entity', 429: '429 Too Many Requests',
  500: '500 Internal Server Error', 503: '503 Service Unavailable',
};

export function statusLine(status: number): string {
  return STATUS_TEXT[status] ?? `${status} Status`;
}

/** Writes a complete response (corked); a no-op if the client is gone. */
export function send(res: HttpResponse, status: number, body: string | Uint8Array, headers: Record<string, string> = {}): void {
  if (aborted.has(res)) return;
  res.cork(() => {
    res.writeStatus(statusLine(status));
    for (const [k, v] of Object.entries(headers)) res.writeHeader(k, v);
    res.end(body);
  });
}

export function sendJson(res: HttpResponse, status: number, body: unknown, headers: Record<string, string> = {}): void {
  send(res, status, JSON.stringify(body), { 'Content-Type': 'application/json', ...headers });
}

/** Answers an error with its status (lib/errors.ts), a JSON message, and Retry-After when retryable. */
export function sendError(res: HttpResponse, err: unknown, headers: Record<string, string> = {}): void {
  const status = httpStatusOf(err);
  const extra: Record<string, string> = { ...headers };
  const retryAfter = retryAfterOf(err);
  if (retryAfter !== undefined) extra['Retry-After'] = String(retryAfter);
  sendJson(res, status, { error: publicMessageOf(err) }, extra);
}

/** Listens on host:port (0 = any free port); resolves with the listen socket and the port. */
export function listen(app: TemplatedApp, host: string, port: number): Promise<{ socket: UWS.us_listen_socket; port: number }> {
  return new Promise((resolve, reject) => {
    app.listen(host, port, (socket) => {
      if (!socket) reject(new Error(`cannot listen on ${host}:${port}: address in use or not permitted`));
      else resolve({ socket, port: uws.us_socket_local_port(socket) });
    });
  });
}

export function closeListen(socket: UWS.us_listen_socket | undefined): void {
  if (socket) uws.us_listen_socket_close(socket);
}
