/**
 * JSON Schema `pattern`s (and `patternProperties`, `propertyNames`) matched
 * in linear time. V8's backtracking engine lets a pattern such as
 * `^(a+)+$` take time doubling with each character of a value, so one
 * record could stall every client of the process. RE2JS (a pure-JS port
 * of RE2) matches in time linear in the value; the patterns it cannot
 * match that way (lookaround, backreferences) are refused when the schema
 * is stored.
 */
import { RE2JS } from 're2js';

/** A pattern this gateway refuses, with the engine's reason. */
export class UnsupportedPatternError extends Error {
  constructor(
    readonly pattern: string,
    readonly reason: string,
  ) {
    super(
      `The pattern ${JSON.stringify(pattern)} cannot be matched in linear time, so this gateway refuses it ` +
        `(lookahead, lookbehind and backreferences are not supported): ${reason}.`,
    );
    this.name = 'UnsupportedPatternError';
  }
}

class LinearPattern {
  readonly #compiled: RE2JS;

  constructor(
    readonly source: string,
    readonly flags: string,
  ) {
    try {
      // ECMAScript syntax (\uXXXX, named groups, /) translated to RE2's.
      this.#compiled = RE2JS.compile(RE2JS.translateRegExp(source));
    } catch (error) {
      throw new UnsupportedPatternError(source, (error as Error).message);
    }
  }

  test(value: string): boolean {
    return this.#compiled.test(value);
  }

  /** ajv keys its cache of patterns by this, as it would a RegExp's. */
  toString(): string {
    return `/${this.source}/${this.flags}`;
  }
}

/** The engine ajv's `code.regExp` option takes: a factory, named for ajv's standalone code. */
export const linearRegExp = Object.assign((pattern: string, flags: string) => new LinearPattern(pattern, flags), { code: 'linearRegExp' });
