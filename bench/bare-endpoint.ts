import { closeListen, listen, readBody, send, uws } from '../lib/http/uws.js';

export interface BareEndpoint {
  url: string;
  /** Bodies read. */
  received(): number;
  stop(): void;
}

/**
 * The beacon's HTTP ceiling: a bare uWebSockets.js listener beside the beacon (same process, same
 * library, same loopback) that reads each POST /beacon body and answers 204, with no parsing, no key
 * check, no aggregation. Anything else is 404.
 */
export async function startBareEndpoint(host: string): Promise<BareEndpoint> {
  let received = 0;
  const app = uws.App();
  app.post('/beacon', (res) => {
    readBody(res, { limit: 65_536 }).then(
      () => {
        received++;
        send(res, 204, '');
      },
      () => send(res, 413, ''),
    );
  });
  app.any('/*', (res) => send(res, 404, ''));
  const l = await listen(app, host, 0);
  return { url: `http://${host}:${l.port}`, received: () => received, stop: () => closeListen(l.socket) };
}
