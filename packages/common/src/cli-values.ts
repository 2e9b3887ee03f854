/**
 * Parsers for command-line values, shaped for commander's `argParser`: each returns the value or
 * throws an error whose message says what was expected, which commander prints as
 * "error: option '--x <n>' argument 'abc' is invalid. <message>".
 */

export class InvalidValueError extends Error {
  readonly code = 'commander.invalidArgument';
}

export function integerInRange(min: number, max: number): (text: string) => number {
  return (text: string) => {
    const value = /^-?\d+$/.test(text.trim()) ? Number(text) : NaN;
    if (!Number.isSafeInteger(value) || value < min || value > max) {
      throw new InvalidValueError(`Expected a whole number from ${min} to ${max}.`);
    }
    return value;
  };
}

export function portList(text: string): number[] {
  const ports = text
    .split(',')
    .map((part) => part.trim())
    .filter((part) => part !== '');
  return ports.map((part) => {
    const port = /^\d+$/.test(part) ? Number(part) : NaN;
    if (!(port >= 1 && port <= 65535)) throw new InvalidValueError(`"${part}" is not a port (1 to 65535); give ports separated by commas, e.g. 53,80,443,123.`);
    return port;
  });
}

/** For repeatable options: collects every occurrence into an array. */
export function collect<T>(parse: (text: string) => T): (text: string, previous: T[] | undefined) => T[] {
  return (text, previous) => [...(previous ?? []), parse(text)];
}
