/**
 * One unary gRPC call over HTTP/2 on a Unix socket (https://github.com/grpc/grpc/blob/master/doc/PROTOCOL-HTTP2.md):
 * a length-prefixed request, one length-prefixed answer, the status in the trailers (or in the headers of a
 * Trailers-Only answer). No compression is offered, so none may come back.
 */
import { connect, constants, type ClientHttp2Session, type IncomingHttpHeaders } from "node:http2";
import { connect as connectSocket } from "node:net";

export class GrpcError extends Error {
  /** The gRPC status code (12 UNIMPLEMENTED, 14 UNAVAILABLE, 4 DEADLINE_EXCEEDED, ...); undefined for transport errors. */
  readonly code: number | undefined;
  constructor(message: string, code?: number, options?: ErrorOptions) {
    super(message, options);
    this.code = code;
  }
}

export const GRPC_DEADLINE_EXCEEDED = 4;
export const GRPC_UNIMPLEMENTED = 12;

export interface UnaryCall {
  socketPath: string;
  /** `/<package>.<Service>/<Method>`. */
  method: string;
  request: Uint8Array;
  timeoutMs: number;
  /** A larger answer is refused (the kubelet's own PodResources client allows 16 MiB). */
  maxResponseBytes: number;
}

function frame(message: Uint8Array): Buffer {
  const header = Buffer.alloc(5);
  header.writeUInt32BE(message.length, 1);
  return Buffer.concat([header, message]);
}

/** The one message of a unary answer's body. */
export function unframe(body: Buffer, method: string): Uint8Array {
  if (body.length < 5) throw new GrpcError(`${method}: answer has no message (${body.length} bytes)`);
  if (body[0] !== 0)
    throw new GrpcError(`${method}: answer is compressed, though no compression was offered`);
  const length = body.readUInt32BE(1);
  if (body.length !== 5 + length)
    throw new GrpcError(`${method}: answer is ${body.length - 5} bytes where its frame says ${length}`);
  return new Uint8Array(body.buffer, body.byteOffset + 5, length);
}

function grpcStatus(headers: IncomingHttpHeaders): { code: number; message: string } | undefined {
  const raw = headers["grpc-status"];
  if (raw === undefined) return undefined;
  const message = headers["grpc-message"];
  let text = typeof message === "string" ? message : "";
  try {
    text = decodeURIComponent(text);
  } catch {
    // grpc-message is percent-encoded; keep it as sent if it is not.
  }
  return { code: Number(raw), message: text };
}

/** Calls `method` once and returns the answer's message bytes; throws GrpcError on any failure. */
export async function unaryCall(call: UnaryCall): Promise<Uint8Array> {
  const { method } = call;
  let session: ClientHttp2Session | undefined;
  let timer: NodeJS.Timeout | undefined;
  try {
    return await new Promise<Uint8Array>((resolve, reject) => {
      const fail = (error: unknown): void => {
        reject(
          error instanceof GrpcError
            ? error
            : new GrpcError(`${method}: ${(error as Error).message}`, undefined, { cause: error }),
        );
      };
      timer = setTimeout(() => {
        fail(new GrpcError(`${method}: no answer within ${call.timeoutMs} ms`, GRPC_DEADLINE_EXCEEDED));
      }, call.timeoutMs);
      session = connect("http://localhost", { createConnection: () => connectSocket(call.socketPath) });
      session.on("error", fail);
      const stream = session.request({
        [constants.HTTP2_HEADER_METHOD]: "POST",
        [constants.HTTP2_HEADER_PATH]: method,
        [constants.HTTP2_HEADER_CONTENT_TYPE]: "application/grpc",
        te: "trailers",
        "grpc-timeout": `${Math.max(1, Math.ceil(call.timeoutMs))}m`,
      });
      const chunks: Buffer[] = [];
      let size = 0;
      let headers: IncomingHttpHeaders = {};
      let trailers: IncomingHttpHeaders = {};
      stream.on("response", (h) => (headers = h));
      stream.on("trailers", (t: IncomingHttpHeaders) => (trailers = t));
      stream.on("data", (chunk: Buffer) => {
        size += chunk.length;
        if (size > call.maxResponseBytes + 5) {
          stream.close(constants.NGHTTP2_CANCEL);
          fail(new GrpcError(`${method}: answer larger than ${call.maxResponseBytes} bytes`));
          return;
        }
        chunks.push(chunk);
      });
      stream.on("error", fail);
      stream.on("end", () => {
        const httpStatus = headers[constants.HTTP2_HEADER_STATUS];
        const status = grpcStatus(trailers) ?? grpcStatus(headers);
        if (Number(httpStatus) !== 200) {
          fail(new GrpcError(`${method}: HTTP status ${String(httpStatus)}`));
        } else if (status === undefined) {
          fail(new GrpcError(`${method}: answer without grpc-status`));
        } else if (status.code !== 0) {
          fail(new GrpcError(`${method}: gRPC status ${status.code}: ${status.message}`, status.code));
        } else {
          try {
            resolve(unframe(Buffer.concat(chunks), method));
          } catch (error) {
            fail(error);
          }
        }
      });
      stream.end(frame(call.request));
    });
  } finally {
    clearTimeout(timer);
    session?.destroy();
  }
}
