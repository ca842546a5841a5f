import { InputError } from '../../lib/errors.js';
import { decodeBody } from '../../lib/http/decode-body.js';
import { ExportMetricsServiceRequest, ExportMetricsServiceResponse, RpcStatus, TO_OBJECT } from './otlp-proto.js';

/**
 * Bytes ⇄ objects for OTLP/HTTP: content types, Content-Encoding, request decoding and the answers
 * (ExportMetricsServiceResponse on success, google.rpc.Status on failure), each in the request's own
 * format as the OTLP specification requires.
 */
export type OtlpFormat = 'json' | 'protobuf';

/** Unsupported media type: answered 415 (a client error the exporter does not retry). */
export class UnsupportedMediaTypeError extends InputError {
  override readonly status = 415;
}

/** The request's format from its Content-Type; throws UnsupportedMediaTypeError otherwise. */
export function formatOf(contentType: string): OtlpFormat {
  const type = contentType.split(';')[0]!.trim().toLowerCase();
  if (type === 'application/json') return 'json';
  if (type === 'application/x-protobuf' || type === 'application/protobuf') return 'protobuf';
  throw new UnsupportedMediaTypeError(
    `cannot decode metrics export: Content-Type ${JSON.stringify(contentType)} is not application/json or application/x-protobuf`,
  );
}

/** Undoes Content-Encoding (identity, gzip, deflate) with the shared bounded decoder; 415 for others. */
export function decompress(body: Buffer, contentEncoding: string, limit: number): Promise<Buffer> {
  return decodeBody(body, contentEncoding, limit, { what: 'metrics export', unsupported: (m) => new UnsupportedMediaTypeError(m) });
}

/**
 * The request body as a plain object (lowerCamelCase fields, 64-bit integers as strings or numbers).
 * Protobuf goes through the vendored definitions (otlp-proto.ts). OTLP/JSON is the same messages'
 * JSON mapping and is only parsed here: normalizeExport reads both shapes and validates each point.
 * protobufjs's fromObject is deliberately not used for JSON: it coerces silently (asInt 1.5 → 1,
 * count -2 → 0, timeUnixNano "soon" → 0, asDouble "NaN" → null) where we reject the point by name.
 */
export function parseRequest(bytes: Buffer, format: OtlpFormat): unknown {
  if (format === 'json') {
    try {
      return JSON.parse(bytes.toString('utf8'));
    } catch (err) {
      throw new InputError(`cannot decode metrics export: the body is not valid JSON (${(err as Error).message})`);
    }
  }
  try {
    return ExportMetricsServiceRequest.toObject(ExportMetricsServiceRequest.decode(bytes), TO_OBJECT);
  } catch (err) {
    throw new InputError(`cannot decode metrics export: the body is not a valid protobuf ExportMetricsServiceRequest (${(err as Error).message})`);
  }
}

export interface Encoded {
  body: string | Uint8Array;
  contentType: string;
}

export interface PartialSuccess {
  rejectedDataPoints: number;
  errorMessage: string;
}

/** The success answer: `{}` (or an empty message), or partialSuccess with the rejected count. */
export function encodeResponse(format: OtlpFormat, partial: PartialSuccess | undefined): Encoded {
  const message = partial && partial.rejectedDataPoints > 0 ? { partialSuccess: partial } : {};
  if (format === 'json') return { body: JSON.stringify(message), contentType: 'application/json' };
  const body = ExportMetricsServiceResponse.encode(ExportMetricsServiceResponse.fromObject(message)).finish();
  return { body, contentType: 'application/x-protobuf' };
}

/** gRPC status codes for the HTTP statuses we answer (google.rpc.Status.code). */
const GRPC_CODE: Record<number, number> = { 400: 3, 401: 16, 403: 7, 404: 5, 405: 12, 413: 8, 415: 3, 429: 8, 500: 13, 503: 14 };

/** An error answer's body: google.rpc.Status {code, message}. */
export function encodeStatus(format: OtlpFormat, httpStatus: number, message: string): Encoded {
  const status = { code: GRPC_CODE[httpStatus] ?? 2, message };
  if (format === 'json') return { body: JSON.stringify(status), contentType: 'application/json' };
  return { body: RpcStatus.encode(RpcStatus.fromObject(status)).finish(), contentType: 'application/x-protobuf' };
}
