/**
 * swarmkit answers through gRPC, and dockerd passes its errors on as they print:
 * `rpc error: code = InvalidArgument desc = ...`. The HTTP status follows the code as dockerd maps it
 * (daemon/server/httpstatus: FailedPrecondition is a 400, Unknown a 500).
 */
import { BerthError, type ErrorKind } from '../../lib/errors.js';

export type RpcCode = 'InvalidArgument' | 'NotFound' | 'AlreadyExists' | 'PermissionDenied' | 'FailedPrecondition' | 'Unimplemented' | 'Unknown' | 'Internal';

const KIND: Record<RpcCode, ErrorKind> = {
  InvalidArgument: 'InvalidArgument',
  NotFound: 'NotFound',
  AlreadyExists: 'Conflict',
  PermissionDenied: 'Forbidden',
  FailedPrecondition: 'InvalidArgument',
  Unimplemented: 'NotImplemented',
  Unknown: 'Internal',
  Internal: 'Internal',
};

export function rpcError(code: RpcCode, desc: string): BerthError {
  return new BerthError(KIND[code], `rpc error: code = ${code} desc = ${desc}`);
}
