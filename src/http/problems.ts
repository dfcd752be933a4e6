import type { ErrorRequestHandler, NextFunction, Request, RequestHandler, Response } from 'express';
import { GatewayError, PROBLEM_CONTENT_TYPE, toGatewayError, toProblem, logAnsweredFailure, type Logger } from '../common/index.js';
import { isV2Path, sendV2Error } from './v2/index.js';
import { operationOf } from './contract.js';
import { isRegistryPath, sendRegistryError } from './registry/index.js';

/** Writes one error as problem+json, with Retry-After when retrying can help. */
export function sendProblem(res: Response, error: GatewayError): void {
  if (error.retryAfterSeconds !== undefined) res.setHeader('Retry-After', String(error.retryAfterSeconds));
  res.status(error.status).type(PROBLEM_CONTENT_TYPE).send(JSON.stringify(toProblem(error, res.req.originalUrl)));
}

/**
 * body-parser marks its failures with a `type`; these become our own
 * errors so that a client learns what to fix (where the JSON broke, what
 * the limit is) in the same shape as every other error.
 */
function fromBodyParserError(error: unknown): GatewayError | undefined {
  if (typeof error !== 'object' || error === null || !('type' in error)) return undefined;
  const { type, message, limit } = error as { type: unknown; message?: string; limit?: number };
  switch (type) {
    case 'entity.parse.failed':
      return new GatewayError('GW_ERR_MALFORMED_JSON', `The request body is not valid JSON: ${message ?? 'parse error'}.`);
    case 'entity.too.large':
      return new GatewayError('GW_ERR_PAYLOAD_TOO_LARGE', `The request body is larger than the limit of ${limit ?? '?'} bytes.`, {
        extensions: { limitBytes: limit },
      });
    case 'encoding.unsupported':
    case 'charset.unsupported':
      return new GatewayError('GW_ERR_UNSUPPORTED_MEDIA_TYPE', `The request body's encoding is not supported: ${message ?? ''}`);
    case 'request.aborted':
    case 'request.size.invalid':
      return new GatewayError('GW_ERR_BAD_REQUEST', 'The request body ended before its declared length.');
    default:
      return undefined;
  }
}

/**
 * Any other failure to read a body that body-parser marks as the client's
 * (a 4xx status), such as bytes that are not the gzip or brotli their
 * Content-Encoding says: the client's mistake, never a 500.
 */
function fromUnreadableBody(error: unknown, req: Request): GatewayError | undefined {
  if (error instanceof GatewayError) return undefined;
  const status = (error as { status?: unknown } | null)?.status;
  if (typeof status !== 'number' || status < 400 || status >= 500) return undefined;
  const encoding = req.headers['content-encoding'];
  const detail = encoding && encoding !== 'identity'
    ? `The request body is not valid ${encoding} data, as its Content-Encoding says it is.`
    : 'The request body could not be read.';
  return new GatewayError(status === 415 ? 'GW_ERR_UNSUPPORTED_MEDIA_TYPE' : status === 413 ? 'GW_ERR_PAYLOAD_TOO_LARGE' : 'GW_ERR_BAD_REQUEST', detail);
}

/** The last middleware: every error, from any route, leaves through here. */
export function problemHandler(logger: Logger): ErrorRequestHandler {
  return (error: unknown, req: Request, res: Response, next: NextFunction) => {
    if (res.headersSent) {
      next(error);
      return;
    }
    const gatewayError = fromBodyParserError(error) ?? fromUnreadableBody(error, req) ?? toGatewayError(error);
    logAnsweredFailure(logger, gatewayError, { requestId: res.locals.requestId, route: operationOf(res)?.operation.template });
    // Confluent's clients read {error_code, message} under v2's paths, a path the contract lacks too.
    const matched = operationOf(res)?.operation;
    if (matched ? matched.errorFormat === 'confluent-v2' : isV2Path(req.path)) sendV2Error(res, gatewayError);
    // Registry clients read the registry's {error_code, message} likewise.
    else if (matched ? matched.errorFormat === 'schema-registry' : isRegistryPath(req.path)) sendRegistryError(res, gatewayError);
    else sendProblem(res, gatewayError);
  };
}

/** For a path no route serves. */
export const notFound: RequestHandler = (req, _res, next) => {
  next(new GatewayError('GW_ERR_NOT_FOUND', `No route serves ${req.method} ${req.path}.`));
};

