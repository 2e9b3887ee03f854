/** How times and counts read in the console: relative where recency matters, UTC ISO on hover. */

export function ago(iso: string | null, nowMs = Date.now()): string {
  if (iso === null) return 'never';
  const seconds = Math.round((nowMs - Date.parse(iso)) / 1000);
  if (!Number.isFinite(seconds)) return iso;
  const future = seconds < 0;
  const s = Math.abs(seconds);
  const text = s < 60 ? `${s} s` : s < 3600 ? `${Math.round(s / 60)} min` : s < 86_400 ? `${Math.round(s / 3600)} h` : `${Math.round(s / 86_400)} d`;
  return future ? `in ${text}` : `${text} ago`;
}

export function clock(iso: string | null): string {
  if (iso === null) return '—';
  return iso.replace('T', ' ').replace(/\.\d+Z$/, 'Z');
}

export function bytes(n: number): string {
  if (n < 1024) return `${n} B`;
  if (n < 1024 ** 2) return `${(n / 1024).toFixed(1)} KiB`;
  if (n < 1024 ** 3) return `${(n / 1024 ** 2).toFixed(1)} MiB`;
  return `${(n / 1024 ** 3).toFixed(1)} GiB`;
}

/** Counts of items by hour over the last `hours` hours, oldest first: [hour starts (s), counts]. */
export function hourly(times: readonly string[], hours: number, nowMs = Date.now()): [number[], number[]] {
  const hour = 3_600_000;
  const end = Math.ceil(nowMs / hour) * hour;
  const starts = Array.from({ length: hours }, (_, i) => end - (hours - i) * hour);
  const counts = starts.map(() => 0);
  for (const time of times) {
    const t = Date.parse(time);
    const index = Math.floor((t - (end - hours * hour)) / hour);
    if (index >= 0 && index < hours) counts[index]! += 1;
  }
  return [starts.map((ms) => ms / 1000), counts];
}
