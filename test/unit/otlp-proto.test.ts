import { createHash } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import protobuf from 'protobufjs';
import { describe, expect, it } from 'vitest';
import { parseRequest } from '../../collector/otlp/otlp-codec.js';
import { normalizeExport } from '../../collector/otlp/otlp-decode.js';
import { ExportMetricsServiceRequest, loadOtlpRoot, METRICS_SERVICE_PROTO, protoDir } from '../../collector/otlp/otlp-proto.js';
import { CAPTURE_WINDOW } from './otlp-capture.js';

const dir = protoDir();
const readme = fs.readFileSync(path.join(dir, 'README.md'), 'utf8');

function protoFiles(d: string, prefix = ''): string[] {
  return fs.readdirSync(d, { withFileTypes: true }).flatMap((e) => {
    if (e.isDirectory()) return protoFiles(path.join(d, e.name), `${prefix}${e.name}/`);
    return e.name.endsWith('.proto') ? [`${prefix}${e.name}`] : [];
  });
}

describe('the vendored opentelemetry-proto files', () => {
  it('are found at the package root and are the files, hashes and version proto/README.md names', () => {
    expect(dir).toBe(path.resolve(import.meta.dirname, '../../proto'));
    expect(readme).toContain('**version v1.7.0**');
    expect(readme).toContain('`dd-trace@5.132.0`');
    const listed = [...readme.matchAll(/^\| (opentelemetry\/\S+\.proto) \| ([0-9a-f]{64}) \|$/gm)].map((m) => [m[1], m[2]]);
    expect(listed.map(([f]) => f)).toEqual([
      'opentelemetry/proto/collector/metrics/v1/metrics_service.proto',
      'opentelemetry/proto/common/v1/common.proto',
      'opentelemetry/proto/metrics/v1/metrics.proto',
      'opentelemetry/proto/resource/v1/resource.proto',
    ]);
    expect(protoFiles(dir).sort()).toEqual(listed.map(([f]) => f));
    for (const [file, sha] of listed) {
      expect([file, createHash('sha256').update(fs.readFileSync(path.join(dir, file!))).digest('hex')]).toEqual([file, sha]);
    }
    expect(fs.readFileSync(path.join(dir, 'LICENSE'), 'utf8')).toMatch(/^\s*Apache License\s+Version 2\.0, January 2004/);
  });

  it('keep the upstream import lines', () => {
    const imports = (f: string) => [...fs.readFileSync(path.join(dir, f), 'utf8').matchAll(/^import "([^"]+)";$/gm)].map((m) => m[1]);
    expect(imports(METRICS_SERVICE_PROTO)).toEqual(['opentelemetry/proto/metrics/v1/metrics.proto']);
    expect(imports('opentelemetry/proto/metrics/v1/metrics.proto')).toEqual(['opentelemetry/proto/common/v1/common.proto', 'opentelemetry/proto/resource/v1/resource.proto']);
    expect(imports('opentelemetry/proto/resource/v1/resource.proto')).toEqual(['opentelemetry/proto/common/v1/common.proto']);
    expect(imports('opentelemetry/proto/common/v1/common.proto')).toEqual([]);
  });

  it('fail loudly, naming the file, when a definition is missing', () => {
    const empty = fs.mkdtempSync(path.join(os.tmpdir(), 'otlp-proto-'));
    try {
      expect(() => loadOtlpRoot(empty)).toThrow(/metrics_service\.proto/);
    } finally {
      fs.rmSync(empty, { recursive: true });
    }
  });
});

/** Hand-written wire bytes (field numbers from upstream v1.7.0), so the test does not trust our own encoder. */
function v17Request(): Uint8Array {
  const w = protobuf.Writer.create();
  const keyValue = (field: number, key: string, value: string) => {
    w.uint32((field << 3) | 2).fork().uint32((1 << 3) | 2).string(key);
    w.uint32((2 << 3) | 2).fork().uint32((1 << 3) | 2).string(value).ldelim();
    w.ldelim();
  };
  w.uint32((1 << 3) | 2).fork(); // ExportMetricsServiceRequest.resource_metrics = 1
  w.uint32((1 << 3) | 2).fork(); //   ResourceMetrics.resource = 1
  keyValue(1, 'service.name', 'svc'); //     Resource.attributes = 1
  w.uint32((3 << 3) | 2).fork(); //     Resource.entity_refs = 3 (v1.7.0, development)
  w.uint32((2 << 3) | 2).string('service'); //       EntityRef.type = 2
  w.uint32((3 << 3) | 2).string('service.name'); //       EntityRef.id_keys = 3
  w.ldelim().ldelim();
  w.uint32((2 << 3) | 2).fork(); //   ResourceMetrics.scope_metrics = 2
  w.uint32((2 << 3) | 2).fork(); //     ScopeMetrics.metrics = 2
  w.uint32((1 << 3) | 2).string('queue.depth'); //       Metric.name = 1
  w.uint32((5 << 3) | 2).fork(); //       Metric.gauge = 5
  w.uint32((1 << 3) | 2).fork(); //         Gauge.data_points = 1
  w.uint32((3 << 3) | 1).fixed64('1795393650000000000'); //           time_unix_nano = 3
  w.uint32((6 << 3) | 1).sfixed64('9007199254740993'); //           as_int = 6
  w.ldelim().ldelim();
  keyValue(12, 'source', 'prometheus'); //       Metric.metadata = 12 (v1.1.0 on)
  w.ldelim().ldelim().ldelim();
  return w.finish();
}

describe('decoding with the v1.7.0 definitions', () => {
  it('reads fields that the old 0.52 module skipped as unknown (Metric.metadata, Resource.entity_refs) and keeps the points', () => {
    const body = parseRequest(Buffer.from(v17Request()), 'protobuf') as { resourceMetrics: Array<Record<string, any>> };
    const rm = body.resourceMetrics[0]!;
    expect(rm.resource.entityRefs).toEqual([{ type: 'service', idKeys: ['service.name'] }]);
    const metric = rm.scopeMetrics[0].metrics[0];
    expect(metric.metadata).toEqual([{ key: 'source', value: { stringValue: 'prometheus' } }]);
    expect(metric.gauge.dataPoints).toEqual([{ timeUnixNano: '1795393650000000000', asInt: '9007199254740993' }]);
    const d = normalizeExport(body, CAPTURE_WINDOW);
    expect([d.acceptedPoints, d.rejected, d.resources[0]!.identity.serviceName, d.resources[0]!.metrics[0]!.name]).toEqual([1, [], 'svc', 'queue.depth']);
  });

  it('round-trips the request through the loaded types', () => {
    const bytes = v17Request();
    const again = ExportMetricsServiceRequest.encode(ExportMetricsServiceRequest.decode(bytes)).finish();
    expect(Buffer.from(again).equals(Buffer.from(bytes))).toBe(true);
  });
});
