/** What each of verify's checks returns. */

/** The checks, in the order verify runs and reports them. */
export const CHECK_NAMES = [
  'foreign-paths',
  'interpreters',
  'python',
  'activate',
  'pth',
  'pycs',
  'record',
  'relocatable',
] as const;

export type CheckName = (typeof CHECK_NAMES)[number];

/** One thing wrong, as a sentence, with the venv-relative paths it is about. */
export interface Problem {
  readonly check: CheckName;
  readonly message: string;
  readonly paths: readonly string[];
}

/** The outcome of one check. */
export interface CheckResult {
  readonly name: CheckName;
  /** `skipped` when there was nothing to check (no activate script, no RECORD). */
  readonly status: 'ok' | 'failed' | 'skipped';
  /** One line: what was checked and what it found. */
  readonly summary: string;
  readonly problems: readonly Problem[];
  /** Things worth knowing that are not problems (a binary naming the old place). */
  readonly notes: readonly string[];
}

/** Build a result: failed when there are problems. */
export function result(
  name: CheckName,
  summary: string,
  problems: readonly Omit<Problem, 'check'>[],
  notes: readonly string[] = [],
  skipped = false,
): CheckResult {
  return {
    name,
    status: problems.length > 0 ? 'failed' : skipped ? 'skipped' : 'ok',
    summary,
    problems: problems.map((p) => ({ check: name, ...p })),
    notes,
  };
}

/** "a, b, c, … (12 in all)": the first few of a list, for a message. */
export function someOf(items: readonly string[], max = 4): string {
  if (items.length <= max) return items.join(', ');
  return `${items.slice(0, max).join(', ')}, … (${items.length} in all)`;
}

/** "1 file" / "2 files". */
export function plural(n: number, one: string, many = `${one}s`): string {
  return `${n} ${n === 1 ? one : many}`;
}
