import { createRequire } from 'node:module';
import protobuf from 'protobufjs';

/**
 * The OTLP protobuf types. The OTLP messages come from the OpenTelemetry project's own protobufjs
 * static module, generated from the official opentelemetry-proto v1 definitions and published in
 * @opentelemetry/otlp-transformer 0.52.1 (installed as `otlp-transformer-protos`; later releases
 * replaced it with hand-written serializers). protobufjs does all wire decoding and encoding; nothing
 * here reads bytes by hand.
 */

/** The subset of a protobufjs message class that we use. */
export interface MessageType {
  decode(reader: Uint8Array): object;
  encode(message: object): { finish(): Uint8Array };
  fromObject(object: Record<string, unknown>): object;
  toObject(message: object, options?: protobuf.IConversionOptions): Record<string, any>;
}

const require = createRequire(import.meta.url);
// eslint-disable-next-line @typescript-eslint/no-explicit-any
const otlp: any = require('otlp-transformer-protos/build/src/generated/root.js');
const metricsV1 = otlp.opentelemetry.proto.collector.metrics.v1;

export const ExportMetricsServiceRequest: MessageType = metricsV1.ExportMetricsServiceRequest;
export const ExportMetricsServiceResponse: MessageType = metricsV1.ExportMetricsServiceResponse;

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
