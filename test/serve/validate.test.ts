import {describe, expect, it} from 'vitest';
import {parseRequest} from '../../src/lib/serve/validate.js';

function messageOf(endpoint: 'chat' | 'completions', body: unknown): string {
  try {
    parseRequest(endpoint, body);
  } catch (error) {
    return (error as Error).message;
  }
  throw new Error('expected a 400');
}

describe('request validation messages (the 400 body a client sees)', () => {
  it('a value of the wrong type says what was expected and what was found, not that the field is required', () => {
    const m = messageOf('chat', {messages: [{role: 'user', content: 'hi'}], temperature: 'hot'});
    expect(m).toBe(`Invalid value for 'temperature': expected number, found "hot".`);
    expect(m).not.toContain('required');
  });

  it('a missing required field says it is missing', () => {
    expect(messageOf('chat', {model: 'tiny'})).toBe(`Invalid value for 'messages': expected array, but the field is missing.`);
  });
});
