/**
 * The format of an API token file, read by the brain (api.tokenFiles) and by the CLI
 * (--token-file): one token a line; blank lines and lines starting with `#` are skipped.
 */
export function parseTokenFile(text: string): string[] {
  return text
    .split(/\r?\n/)
    .map((line) => line.trim())
    .filter((line) => line !== '' && !line.startsWith('#'));
}
