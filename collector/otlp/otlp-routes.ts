import type { Registry } from 'prom-client';
import { holdResponse, isAborted, readBody, statusLine, type HttpRequest, type HttpResponse, type TemplatedApp } from '../../lib/http/uws.js';
import type { ServiceDeps } from '../../lib/services.js';
import { OtlpReceiver, type OtlpAnswer } from './otlp-receiver.js';

/** The OTLP/HTTP metrics path (the exporters append it to OTEL_EXPORTER_OTLP_ENDPOINT). */
export const OTLP_METRICS_PATH = '/v1/metrics';

/**
 * Mounts POST /v1/metrics on a uWebSockets.js app (the collector's HTTPS app and the plain-HTTP
 * OTLP listener both call this; they share one receiver per registry). Other methods get 405.
 */
export function registerOtlpRoutes(app: TemplatedApp, deps: ServiceDeps, registry: Registry): OtlpReceiver {
  const receiver = OtlpReceiver.for(deps, registry);
  app.post(OTLP_METRICS_PATH, (res: HttpResponse, req: HttpRequest) => {
    // uWebSockets.js: headers are readable only now, and onAborted must be attached before any await.
    const lengthHeader = req.getHeader('content-length');
    const request = {
      contentType: req.getHeader('content-type'),
      contentEncoding: req.getHeader('content-encoding'),
      apiKey: req.getHeader('api-key').trim(),
      contentLength: /^[0-9]+$/.test(lengthHeader) ? Number(lengthHeader) : undefined,
      readBody: (limit: number) => readBody(res, { limit }),
      isAborted: () => isAborted(res),
    };
    holdResponse(res);
    void receiver.handle(request).then((answer) => send(res, answer));
  });
  app.any(OTLP_METRICS_PATH, (res: HttpResponse) => {
    res.cork(() => {
      res.writeStatus(statusLine(405)).writeHeader('Allow', 'POST').writeHeader('Content-Type', 'application/json');
      res.end(JSON.stringify({ code: 12, message: `cannot serve ${OTLP_METRICS_PATH}: use POST` }));
    });
  });
  return receiver;
}

function send(res: HttpResponse, a: OtlpAnswer): void {
  if (isAborted(res)) return;
  res.cork(() => {
    res.writeStatus(statusLine(a.status));
    res.writeHeader('Content-Type', a.contentType);
    for (const [k, v] of Object.entries(a.headers)) res.writeHeader(k, v);
    res.end(a.body, a.close);
  });
}
