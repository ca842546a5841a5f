import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import protobuf from 'protobufjs';

/**
 * The OTLP protobuf types, loaded once at start-up by protobufjs from the official opentelemetry-proto
 * .proto files vendored under proto/ (version, origin and licence: proto/README.md). Upgrading OTLP is
 * a swap of those files. protobufjs builds each message's decoder and encoder from the definitions (the
 * same generated code a static module would hold); nothing here reads bytes by hand.
 */

/** The subset of a protobufjs message class that we use. */
export interface MessageType {
  decode(reader: Uint8Array): object;
  encode(message: object): { finish(): Uint8Array };
  fromObject(object: Record<string, unknown>): object;
  toObject(message: object, options?: protobuf.IConversionOptions): Record<string, any>;
}

/** The entry point of the vendored definitions (it imports metrics, resource and common). */
export const METRICS_SERVICE_PROTO = 'opentelemetry/proto/collector/metrics/v1/metrics_service.proto';

/** proto/ at the package root, whether we run from source (tests) or from dist/ (npm start). */
export function protoDir(): string {
  let dir = path.dirname(fileURLToPath(import.meta.url));
  for (let i = 0; i < 6; i++) {
    if (fs.existsSync(path.join(dir, 'proto', METRICS_SERVICE_PROTO))) return path.join(dir, 'proto');
    dir = path.dirname(dir);
  }
  throw new Error(`cannot find the vendored OTLP definitions (proto/${METRICS_SERVICE_PROTO}) above ${fileURLToPath(import.meta.url)}`);
}

/** Loads the definitions with upstream import paths ("opentelemetry/proto/...") resolved under `dir`. */
export function loadOtlpRoot(dir: string): protobuf.Root {
  const root = new protobuf.Root();
  root.resolvePath = (_origin, target) => path.join(dir, target);
  root.loadSync(METRICS_SERVICE_PROTO);
  root.resolveAll();
  return root;
}

export const otlpRoot = loadOtlpRoot(protoDir());

const type = (name: string): MessageType => otlpRoot.lookupType(name) as unknown as MessageType;
export const ExportMetricsServiceRequest = type('opentelemetry.proto.collector.metrics.v1.ExportMetricsServiceRequest');
export const ExportMetricsServiceResponse = type('opentelemetry.proto.collector.metrics.v1.ExportMetricsServiceResponse');

/**
 * google.rpc.Status, the body of OTLP/HTTP error answers (google/rpc/status.proto): code = 1,
 * message = 2. Field 3 (details, repeated Any) is never sent by us and is skipped when decoding.
 */
export const RpcStatus: MessageType = new protobuf.Type('Status')
  .add(new protobuf.Field('code', 1, 'int32'))
  .add(new protobuf.Field('message', 2, 'string')) as unknown as MessageType;
new protobuf.Root().define('google.rpc').add(RpcStatus as unknown as protobuf.Type);

/** Options for toObject: 64-bit integers as decimal strings (exact), enums as numbers. */
export const TO_OBJECT: protobuf.IConversionOptions = { longs: String, enums: Number, bytes: String };
