/**
 * A one-line progress bar for stderr. The CLI makes one only when stderr is a terminal; it
 * draws nothing until the run has taken `delayMs` (half a second), so quick runs never flash a
 * bar, and redraws at most every `intervalMs`. The library calls `update` from synchronous
 * code, so the bar is driven by those calls and needs no timer.
 */

/** What the library reports progress to. */
export interface Progress {
  /** `done` of `total` items of `phase` (walk, search, apply, record, …) are through. */
  update(phase: string, done: number, total: number): void;
  /** Erase the bar, if one was drawn. */
  finish(): void;
}

/** A Progress that draws nothing (no TTY, or NO_COLOR-style opt-out). */
export const NO_PROGRESS: Progress = { update: () => undefined, finish: () => undefined };

export interface ProgressOptions {
  /** What the bar says it is doing: the command name. */
  readonly label: string;
  readonly write: (s: string) => void;
  /** The terminal's width now (it may be resized during a run). */
  readonly columns: () => number;
  readonly now: () => number;
  /** Draw nothing before this many ms have passed since the bar was made. */
  readonly delayMs?: number;
  /** Redraw at most this often, in ms, unless the phase changes. */
  readonly intervalMs?: number;
}

// Carriage return, then "erase to end of line" (ECMA-48 EL, CSI K): every terminal since the
// VT100 knows it, and it leaves no debris when the new line is shorter than the old one.
const CLEAR_LINE = '\r\x1b[K';

/** The bar's text for one moment, fitted to `columns` (no control characters). */
export function renderBar(
  label: string,
  phase: string,
  done: number,
  total: number,
  columns: number,
): string {
  const d = Math.max(0, Math.min(done, total));
  const counts = total > 0 ? ` ${d}/${total}` : '';
  const head = `${label} ${phase} `;
  // Leave the last column free: writing into it makes some terminals wrap.
  const room = Math.min(40, columns - 1 - head.length - counts.length - 2);
  if (room < 5) return `${head}${counts.trim()}`.slice(0, Math.max(0, columns - 1));
  const filled = total > 0 ? Math.round((room * d) / total) : 0;
  const bar =
    '='.repeat(filled) + (filled < room ? '>' : '') + ' '.repeat(Math.max(0, room - filled - 1));
  return `${head}[${bar}]${counts}`;
}

/** A progress bar that writes through `opts.write` (see the module comment). */
export function createProgress(opts: ProgressOptions): Progress {
  const start = opts.now();
  const delay = opts.delayMs ?? 500;
  const interval = opts.intervalMs ?? 100;
  let drawn = false;
  let lastDraw = -Infinity;
  let lastPhase = '';
  return {
    update(phase, done, total) {
      const t = opts.now();
      if (t - start < delay) return;
      if (phase === lastPhase && t - lastDraw < interval && done < total) return;
      lastPhase = phase;
      lastDraw = t;
      drawn = true;
      opts.write(CLEAR_LINE + renderBar(opts.label, phase, done, total, opts.columns()));
    },
    finish() {
      if (drawn) opts.write(CLEAR_LINE);
      drawn = false;
    },
  };
}

/**
 * The delay before a bar appears: half a second, or `VENV_TOOLS_PROGRESS_DELAY_MS` (used by the
 * tests, which cannot rely on a run being slow enough to show one).
 */
export function progressDelay(env: NodeJS.ProcessEnv): number {
  const v = env.VENV_TOOLS_PROGRESS_DELAY_MS;
  const n = v === undefined || v === '' ? NaN : Number(v);
  return Number.isFinite(n) && n >= 0 ? n : 500;
}
