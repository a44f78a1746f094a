/** Reading a request body with a size limit and a deadline (slow or endless bodies get 408/413). */
import type {IncomingMessage} from 'node:http';
import {ApiError} from './api-error.js';

const utf8 = new TextDecoder('utf-8', {fatal: true});

export function readBody(req: IncomingMessage, limit: number, timeoutMs: number): Promise<Buffer> {
  const declared = Number(req.headers['content-length']);
  if (Number.isFinite(declared) && declared > limit) {
    return Promise.reject(new ApiError(413, `The request body is ${declared} bytes; the limit is ${limit} bytes.`, 'invalid_request_error', null, 'body_too_large'));
  }
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    const done = (err: Error | null, body?: Buffer) => {
      clearTimeout(timer);
      req.off('data', onData);
      req.off('end', onEnd);
      req.off('error', onError);
      req.off('aborted', onAborted);
      if (err) reject(err);
      else resolve(body!);
    };
    const onData = (c: Buffer) => {
      size += c.length;
      if (size > limit) done(new ApiError(413, `The request body is over the limit of ${limit} bytes.`, 'invalid_request_error', null, 'body_too_large'));
      else chunks.push(c);
    };
    const onEnd = () => done(null, Buffer.concat(chunks, size));
    const onError = (e: Error) => done(e);
    const onAborted = () => done(new Error('client aborted the request'));
    const timer = setTimeout(
      () => done(new ApiError(408, `The request body did not arrive within ${timeoutMs / 1000} s.`, 'invalid_request_error', null, 'request_timeout')),
      timeoutMs,
    );
    req.on('data', onData);
    req.on('end', onEnd);
    req.on('error', onError);
    req.on('aborted', onAborted);
  });
}

/** UTF-8 JSON, or a 400 saying which of the two it is not. */
export function parseJsonBody(buf: Buffer): unknown {
  let text: string;
  try {
    text = utf8.decode(buf);
  } catch {
    throw new ApiError(400, 'The request body is not valid UTF-8.', 'invalid_request_error', null, 'invalid_utf8');
  }
  if (text.trim() === '') throw new ApiError(400, 'The request body is empty; expected a JSON object.', 'invalid_request_error');
  try {
    return JSON.parse(text) as unknown;
  } catch {
    // V8's message quotes the body; prompts must not reach logs or the ledger, so it is not passed on.
    throw new ApiError(400, 'The request body is not valid JSON.', 'invalid_request_error', null, 'invalid_json');
  }
}
