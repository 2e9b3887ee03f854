import type { FastifySchemaValidationError } from 'fastify';
import type { ErrorView } from './views.js';

/** An answer other than 2xx, with a message for a person (it names the field for bad input). */
export class ApiError extends Error {
  constructor(
    readonly statusCode: number,
    message: string,
  ) {
    super(message);
  }
}

/** 400 for one field: `field` is `body/value`, `querystring/since`, `params/id`... */
export const badInput = (field: string, message: string): ApiError => new ApiError(400, `${field}: ${message}`);
export const notFound = (message: string): ApiError => new ApiError(404, message);

const REASONS: Record<number, string> = { 400: 'Bad Request', 401: 'Unauthorized', 403: 'Forbidden', 404: 'Not Found', 405: 'Method Not Allowed', 409: 'Conflict', 413: 'Payload Too Large', 415: 'Unsupported Media Type', 429: 'Too Many Requests', 500: 'Internal Server Error', 503: 'Service Unavailable' };

export function errorView(statusCode: number, message: string): ErrorView {
  return { statusCode, error: REASONS[statusCode] ?? (statusCode >= 500 ? 'Internal Server Error' : 'Bad Request'), message };
}

/**
 * Fastify's schema errors as one message naming the field: `body/scope: must be one of endpoint,
 * ip, host`, `body/reason: is required`, `querystring/limit: must be <= 1000`.
 */
export function formatSchemaErrors(errors: FastifySchemaValidationError[], dataVar: string): Error {
  const e = errors[0];
  if (!e) return badInput(dataVar, 'is invalid');
  let path = `${dataVar}${e.instancePath}`;
  let message = e.message ?? 'is invalid';
  if (e.keyword === 'required') {
    path += `/${String(e.params['missingProperty'])}`;
    message = 'is required';
  } else if (e.keyword === 'additionalProperties') {
    path += `/${String(e.params['additionalProperty'])}`;
    message = 'is not a known field';
  } else if (e.keyword === 'enum') {
    message = `must be one of ${(e.params['allowedValues'] as unknown[]).map(String).join(', ')}`;
  }
  return badInput(path, message);
}
