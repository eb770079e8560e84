/** `45 s`, `2 min`, `1 min 30 s`, `1 h 30 min`: a duration for people, right at any scale. Pure. */
export function humanDuration(ms: number): string {
  const s = Math.max(0, Math.round(ms / 1000));
  if (s < 60) return ms > 0 && ms < 1000 ? `${Math.max(1, Math.round(ms))} ms` : `${s} s`;
  const min = Math.floor(s / 60);
  const sec = s % 60;
  if (min < 10 && sec) return `${min} min ${sec} s`;
  const m = Math.round(s / 60);
  if (m < 60) return `${m} min`;
  return `${Math.floor(m / 60)} h${m % 60 ? ` ${m % 60} min` : ''}`;
}
