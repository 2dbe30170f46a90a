/**
 * Just enough of the protobuf wire format (https://protobuf.dev/programming-guides/encoding/) to read the kubelet
 * PodResources answers: varints, length-delimited fields and skipping everything else. Hand-written so the agent
 * needs no protobuf dependency for four small messages.
 */

export class ProtobufError extends Error {}

export const WIRE_VARINT = 0;
export const WIRE_FIXED64 = 1;
export const WIRE_LENGTH_DELIMITED = 2;
export const WIRE_FIXED32 = 5;

export type WireField =
  | { field: number; wireType: typeof WIRE_VARINT; value: bigint }
  | { field: number; wireType: typeof WIRE_LENGTH_DELIMITED; bytes: Uint8Array }
  | { field: number; wireType: typeof WIRE_FIXED64 | typeof WIRE_FIXED32 };

function readVarint(bytes: Uint8Array, start: number): { value: bigint; next: number } {
  let value = 0n;
  for (let i = 0; i < 10; i++) {
    const at = start + i;
    const byte = bytes[at];
    if (byte === undefined) throw new ProtobufError(`varint at byte ${start} runs past the end`);
    value |= BigInt(byte & 0x7f) << BigInt(7 * i);
    if ((byte & 0x80) === 0) return { value, next: at + 1 };
  }
  throw new ProtobufError(`varint at byte ${start} is longer than 10 bytes`);
}

/** The fields of one message in wire order; throws ProtobufError on anything malformed. */
export function* wireFields(bytes: Uint8Array): Generator<WireField> {
  let at = 0;
  while (at < bytes.length) {
    const key = readVarint(bytes, at);
    at = key.next;
    const field = Number(key.value >> 3n);
    const wireType = Number(key.value & 7n);
    if (field < 1 || field > 536_870_911) throw new ProtobufError(`field number ${field} out of range`);
    switch (wireType) {
      case WIRE_VARINT: {
        const { value, next } = readVarint(bytes, at);
        at = next;
        yield { field, wireType, value };
        break;
      }
      case WIRE_LENGTH_DELIMITED: {
        const length = readVarint(bytes, at);
        const end = length.next + Number(length.value);
        if (length.value > BigInt(bytes.length) || end > bytes.length)
          throw new ProtobufError(`field ${field}: length ${length.value} runs past the end of the message`);
        yield { field, wireType, bytes: bytes.subarray(length.next, end) };
        at = end;
        break;
      }
      case WIRE_FIXED64:
      case WIRE_FIXED32: {
        at += wireType === WIRE_FIXED64 ? 8 : 4;
        if (at > bytes.length) throw new ProtobufError(`field ${field}: fixed-width value runs past the end`);
        yield { field, wireType };
        break;
      }
      default:
        throw new ProtobufError(`field ${field}: unsupported wire type ${wireType}`);
    }
  }
}

const utf8 = new TextDecoder("utf-8", { fatal: true });

/** A proto3 `string` field's value. */
export function protoString(field: WireField): string {
  if (field.wireType !== WIRE_LENGTH_DELIMITED)
    throw new ProtobufError(`field ${field.field}: wire type ${field.wireType} where a string was expected`);
  try {
    return utf8.decode(field.bytes);
  } catch (error) {
    throw new ProtobufError(`field ${field.field}: not UTF-8`, { cause: error });
  }
}

/** A nested message field's bytes. */
export function protoMessage(field: WireField): Uint8Array {
  if (field.wireType !== WIRE_LENGTH_DELIMITED)
    throw new ProtobufError(`field ${field.field}: wire type ${field.wireType} where a message was expected`);
  return field.bytes;
}
