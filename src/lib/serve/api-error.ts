/** Errors in OpenAI's shape: {"error": {"message", "type", "param", "code"}}. */

export class ApiError extends Error {
  constructor(
    readonly status: number,
    message: string,
    readonly type: string,
    readonly param: string | null = null,
    readonly code: string | null = null,
  ) {
    super(message);
  }

  toBody(): {error: {message: string; type: string; param: string | null; code: string | null}} {
    return {error: {message: this.message, type: this.type, param: this.param, code: this.code}};
  }
}

export const badRequest = (message: string, param: string | null = null, code: string | null = null) =>
  new ApiError(400, message, 'invalid_request_error', param, code);
