#!/usr/bin/env node
/**
 * The venv-tools command: parses argv, calls the library, prints, and picks the exit code.
 * The only module that prints, exits or handles a signal (docs/ARCHITECTURE.md).
 */
import { readFileSync } from 'node:fs';
import { resolve as resolvePath } from 'node:path';
import { performance } from 'node:perf_hooks';
import { parseCli } from '../src/cli/parse-cli.js';
import { UsageError, type CliRequest, type OutputOptions } from '../src/cli/cli-request.js';
import { commitsMade, type Steps } from '../src/core/commit-point.js';
import { errnoOf, VenvToolsError } from '../src/core/errors.js';
import type { Json } from '../src/report/format-json.js';
import {
  formatRelocation,
  formatWarnings,
  NO_PAINT,
  type Paint,
} from '../src/report/format-report.js';
import type { Progress } from '../src/core/progress.js';
import { trace } from '../src/core/trace.js';

trace('cli loaded');

// Startup is most of a deploy's `--update-path` run when the venv is already up to date, so
// every module that only some commands need is imported by those commands, when they run:
// yargs (in parseCli), chalk, the progress bar, reinit, scan, verify and the JSON and diff
// formatters. Static imports are for what the compatible `--update-path` path uses itself.

/** A variable set to something other than "", "0" or "false". */
function envOn(name: string): boolean {
  const v = process.env[name];
  return v !== undefined && v !== '' && v !== '0' && v !== 'false';
}

/** Colour only on a terminal, and never with NO_COLOR set to anything but "" (no-color.org). */
async function paintFor(stream: NodeJS.WriteStream): Promise<Paint> {
  const on = stream.isTTY === true && !('NO_COLOR' in process.env && process.env.NO_COLOR !== '');
  if (!on) return NO_PAINT;
  const { Chalk } = await import('chalk');
  const c = new Chalk({ level: 1 });
  return { bold: c.bold, dim: c.dim, green: c.green, yellow: c.yellow, red: c.red };
}

/** What progressFor gives when there is no bar; progress.js's NO_PROGRESS, without importing it. */
const NO_BAR: Progress = { update: () => undefined, finish: () => undefined };

/**
 * A progress bar on stderr: only on a terminal that can erase a line, and never with
 * --no-progress or --quiet, NO_COLOR (whose users ask for plain output) or CI (whose logs keep
 * every redraw) set.
 */
async function progressFor(label: string, o: OutputOptions): Promise<Progress> {
  const e = process.stderr;
  if (!o.progress || o.quiet || envOn('NO_COLOR') || envOn('CI')) return NO_BAR;
  if (e.isTTY !== true || process.env.TERM === 'dumb') return NO_BAR;
  const { createProgress, progressDelay } = await import('../src/core/progress.js');
  return createProgress({
    label,
    write: (s) => e.write(s),
    columns: () => e.columns || 80,
    now: () => performance.now(),
    delayMs: progressDelay(process.env),
  });
}

const out = (line: string) => process.stdout.write(`${line}\n`);
const err = (line: string) => process.stderr.write(`${line}\n`);
const outJson = (doc: Json) => out(JSON.stringify(doc, null, 2));

/** The lines a command prints on success; --quiet drops them. */
let quiet = false;
const say = (line: string) => {
  if (!quiet) out(line);
};

// ---------------------------------------------------------------------------------------------
// Ctrl-C and SIGTERM. The library runs synchronously and never handles a signal; a command that
// writes installs these handlers, which only note the signal. Node runs them between turns of
// the event loop, which the command gives them at the run's commit point (drive): before it,
// the run is stopped and unwinds with nothing changed; after it, the run has finished (applying
// a committed journal is never stopped half-way; a kill -9 leaves it for the next run to finish).
// Commands that only read (scan, verify, dry runs) keep Node's default: they stop at once.

const SIGNAL_EXIT: Readonly<Record<string, number>> = { SIGINT: 130, SIGTERM: 143 };
let caught: NodeJS.Signals | undefined;
let watching = false;

function watchSignals(): void {
  if (watching) return;
  watching = true;
  for (const sig of ['SIGINT', 'SIGTERM'] as const) {
    process.on(sig, () => {
      caught ??= sig;
    });
  }
}

/** Thrown into a run at its commit point when a signal came before it. */
class Interrupted extends Error {
  readonly signal: NodeJS.Signals;
  constructor(signal: NodeJS.Signals) {
    super(`interrupted (${signal})`);
    this.signal = signal;
  }
}

/** One turn of the event loop: a signal that came meanwhile has its handler run. */
const turn = () => new Promise<void>((resolve) => setImmediate(resolve));

/** Run `steps`, stopping it at its commit point if a signal has come by then. */
async function drive<T>(steps: Steps<T>): Promise<T> {
  let step = steps.next();
  while (step.done !== true) {
    // Two turns: the first may start after the loop's poll for signals in its own turn.
    await turn();
    await turn();
    step = caught === undefined ? steps.next() : steps.throw(new Interrupted(caught));
  }
  return step.value;
}

/**
 * After a writing run: when a signal came during it, say what became of the run and give the
 * signal's exit code; else `code`.
 */
async function afterSignal(code: number, what: string): Promise<number> {
  if (!watching) return code;
  // A signal that came during the run's last stretch has its handler run now.
  await turn();
  await turn();
  if (caught === undefined) return code;
  err(
    commitsMade() > 0
      ? `venv-tools: interrupted (${caught}) after the commit point: ${what} was finished first`
      : `venv-tools: interrupted (${caught}), nothing changed`,
  );
  return SIGNAL_EXIT[caught] ?? 1;
}

// ---------------------------------------------------------------------------------------------

/**
 * `VENV_TOOLS_THREADS=1` plans on one thread, `=2` on two whatever the venv's size (the default:
 * two on a machine with 2 CPUs or more, for venvs of a few thousand files and up).
 */
function threadsFromEnv(): { threads?: number } {
  const n = Number.parseInt(process.env.VENV_TOOLS_THREADS ?? '', 10);
  return n === 1 || n === 2 ? { threads: n } : {};
}

/**
 * The warnings that `--strict` turns into exit 1: the venv cannot work on this machine. Without
 * it the exit stays 0, as virtualenv-tools' is; the relocation is done either way.
 */
const STRICT_CODES: ReadonlySet<string> = new Set(['INTERPRETER_MISSING']);

function strictExit(
  strict: boolean,
  report: { readonly warnings: ReadonlyArray<{ readonly code: string }> },
): number {
  return strict && report.warnings.some((w) => STRICT_CODES.has(w.code)) ? 1 : 0;
}

/** `auto` for the new location: the absolute path of PATH, symlinks kept, as virtualenv-tools has it. */
const newLocation = (to: string, path: string) => (to === 'auto' ? resolvePath(path) : to);

/**
 * virtualenv-tools compatible mode: its messages on stdout, warnings on stderr. --json (ours)
 * prints one document instead of its lines.
 */
async function runCompat(req: Extract<CliRequest, { mode: 'compat' }>): Promise<number> {
  if (req.reinitialize) {
    const { reinitializeSteps } = await import('../src/commands/reinitialize.js');
    watchSignals();
    const report = await drive(
      reinitializeSteps({
        path: req.path,
        ...(req.python === undefined ? {} : { python: req.python }),
      }),
    );
    if (req.json) {
      const { reinitJson } = await import('../src/report/format-json.js');
      outJson(reinitJson(report));
    } else {
      const { formatReinit } = await import('../src/report/format-reinit.js');
      const warning = (await paintFor(process.stderr)).yellow('warning:');
      for (const w of report.warnings) err(`${warning} ${w.message}`);
      // On stdout, as every command's report: virtualenv-tools itself printed virtualenv's.
      for (const l of formatReinit(report, await paintFor(process.stdout))) say(l);
    }
    const failed = report.check !== null && !report.check.ok;
    // A signal, or a venv whose python does not start: the relocation is not run.
    const code = await afterSignal(failed ? 1 : 0, '--reinitialize');
    if (code !== 0) return code;
  }
  if (req.updatePath === undefined) return 0;
  const { joinAsGiven, relocateSteps, requireAbsolute } =
    await import('../src/commands/relocate-venv.js');
  const to = newLocation(req.updatePath, req.path);
  requireAbsolute(to, '--update-path', req.path);
  watchSignals();
  const progress = await progressFor('relocate', req);
  let result;
  try {
    result = await drive(
      relocateSteps({
        path: req.path,
        to,
        toFlag: '--update-path',
        dropUnreadablePycs: req.dropUnreadablePycs,
        onProgress: progress.update,
        ...threadsFromEnv(),
      }),
    );
  } finally {
    progress.finish();
  }
  const { report } = result;
  if (req.json) {
    const { relocateJson } = await import('../src/report/format-json.js');
    outJson(relocateJson(report));
    return await afterSignal(strictExit(req.strict, report), 'the relocation');
  }
  for (const w of formatWarnings(report, await paintFor(process.stderr))) err(w);
  if (report.status === 'up-to-date') {
    say(`Already up-to-date: ${req.path} (${report.new})`);
  } else {
    if (req.verbose)
      for (const c of report.changes) say(`${c.letter} ${joinAsGiven(req.path, c.path)}`);
    say(`Updated: ${req.path} (${report.old} -> ${report.new})`);
  }
  return await afterSignal(strictExit(req.strict, report), 'the relocation');
}

async function runRelocate(req: Extract<CliRequest, { mode: 'relocate' }>): Promise<number> {
  const { joinAsGiven, relocateSteps } = await import('../src/commands/relocate-venv.js');
  if (!req.dryRun) watchSignals();
  const progress = await progressFor('relocate', req);
  let result;
  try {
    result = await drive(
      relocateSteps({
        path: req.path,
        to: newLocation(req.to, req.path),
        toFlag: '--to',
        ...(req.from === undefined ? {} : { from: req.from }),
        forceFrom: req.forceFrom,
        maps: req.maps,
        dryRun: req.dryRun,
        dropUnreadablePycs: req.dropUnreadablePycs,
        onProgress: progress.update,
        ...threadsFromEnv(),
      }),
    );
  } finally {
    progress.finish();
  }
  const { report, plan } = result;
  const code = strictExit(req.strict, report);
  const formatPlanDiff = req.diff
    ? (await import('../src/report/format-diff.js')).formatPlanDiff
    : undefined;
  if (req.json) {
    const { relocateJson } = await import('../src/report/format-json.js');
    outJson(relocateJson(report, formatPlanDiff?.(plan?.edits ?? [])));
    return await afterSignal(code, 'the relocation');
  }
  const paint = await paintFor(process.stdout);
  for (const w of formatWarnings(report, await paintFor(process.stderr))) err(w);
  if (req.verbose && report.status === 'updated') {
    for (const c of report.changes) say(`${c.letter} ${joinAsGiven(req.path, c.path)}`);
  }
  const lines = formatRelocation(report, paint);
  if (formatPlanDiff !== undefined && plan !== undefined) {
    // The diff goes between the plan and the summary line, which stays last.
    const summary = lines.pop();
    lines.push(...formatPlanDiff(plan.edits, paint));
    if (summary !== undefined) lines.push(summary);
  }
  for (const line of lines) say(line);
  return await afterSignal(code, 'the relocation');
}

/** pyvenv.cfg's bytes, or undefined when it cannot be read (reinit then fails with its own message). */
function readCfg(path: string): Buffer | undefined {
  try {
    return readFileSync(resolvePath(path, 'pyvenv.cfg'));
  } catch {
    return undefined;
  }
}

async function runReinit(req: Extract<CliRequest, { mode: 'reinit' }>): Promise<number> {
  const { reinitializeSteps } = await import('../src/commands/reinitialize.js');
  const { formatReinit } = await import('../src/report/format-reinit.js');
  const before = req.diff ? readCfg(req.path) : undefined;
  if (!req.dryRun) watchSignals();
  const report = await drive(
    reinitializeSteps({
      path: req.path,
      ...(req.python === undefined ? {} : { python: req.python }),
      force: req.force,
      dryRun: req.dryRun,
    }),
  );
  const paint = req.json ? NO_PAINT : await paintFor(process.stdout);
  let diff: string[] | undefined;
  if (req.diff) {
    const { formatReinitDiff, plannedPyvenvCfg } = await import('../src/report/format-diff.js');
    diff = formatReinitDiff(
      {
        links: report.links,
        cfgBefore: before,
        cfgAfter:
          before === undefined
            ? undefined
            : req.dryRun
              ? plannedPyvenvCfg(before, report)
              : readCfg(req.path),
      },
      paint,
    );
  }
  if (req.json) {
    const { reinitJson } = await import('../src/report/format-json.js');
    outJson(reinitJson(report, diff));
  } else {
    const warning = (await paintFor(process.stderr)).yellow('warning:');
    for (const w of report.warnings) err(`${warning} ${w.message}`);
    for (const l of formatReinit(report, paint)) say(l);
    for (const l of diff ?? []) say(l);
  }
  return await afterSignal(report.check === null || report.check.ok ? 0 : 1, 'the reinit');
}

/** How zstd is done: `VENV_TOOLS_ZSTD=wasm` uses the built-in codec even with the program on PATH. */
function zstdFromEnv(): { zstd?: 'wasm' | 'program'; envPath?: string } {
  const z = process.env.VENV_TOOLS_ZSTD;
  return {
    ...(z === 'wasm' || z === 'program' ? { zstd: z } : {}),
    ...(process.env.PATH === undefined ? {} : { envPath: process.env.PATH }),
  };
}

async function runPack(req: Extract<CliRequest, { mode: 'pack' }>): Promise<number> {
  const { pack } = await import('../src/commands/pack.js');
  const progress = await progressFor('pack', req);
  let report;
  try {
    report = await pack({
      path: req.path,
      output: req.output,
      ...(req.to === undefined ? {} : { to: req.to }),
      ...(req.format === undefined ? {} : { format: req.format }),
      dropUnreadablePycs: req.dropUnreadablePycs,
      onProgress: progress.update,
      ...zstdFromEnv(),
    });
  } finally {
    progress.finish();
  }
  if (req.json) {
    outJson({ command: 'pack', ...report } as unknown as Json);
    return 0;
  }
  const { formatPack } = await import('../src/report/format-archive.js');
  for (const w of formatWarnings(report, await paintFor(process.stderr))) err(w);
  for (const l of formatPack(report, await paintFor(process.stdout))) say(l);
  return 0;
}

async function runUnpack(req: Extract<CliRequest, { mode: 'unpack' }>): Promise<number> {
  const { unpack } = await import('../src/commands/unpack.js');
  const progress = await progressFor('unpack', req);
  let report;
  try {
    report = await unpack({
      archive: req.archive,
      dest: req.dest,
      force: req.force,
      reinitialize: req.reinitialize,
      ...(req.python === undefined ? {} : { python: req.python }),
      dropUnreadablePycs: req.dropUnreadablePycs,
      onProgress: progress.update,
      ...zstdFromEnv(),
    });
  } finally {
    progress.finish();
  }
  if (req.json) {
    outJson({ command: 'unpack', ...report } as unknown as Json);
    return 0;
  }
  const { formatUnpack } = await import('../src/report/format-archive.js');
  for (const w of formatWarnings(report, await paintFor(process.stderr))) err(w);
  for (const l of formatUnpack(report, await paintFor(process.stdout))) say(l);
  return 0;
}

/** scan and verify of an archive: read it to its end, write nothing. */
async function runArchive(
  req: { path: string; json: boolean },
  what: 'scan' | 'verify',
): Promise<number> {
  const { inspectArchive } = await import('../src/commands/inspect-archive.js');
  const { formatArchiveScan, formatArchiveVerify } =
    await import('../src/report/format-archive.js');
  const report = await inspectArchive({ archive: req.path, ...zstdFromEnv() });
  if (req.json) outJson({ command: what, ...report } as unknown as Json);
  else {
    const format = what === 'scan' ? formatArchiveScan : formatArchiveVerify;
    // A failed check is the output: --quiet keeps it.
    const print = report.ok ? say : out;
    for (const l of format(report, await paintFor(process.stdout))) print(l);
  }
  return report.ok ? 0 : 1;
}

async function runScan(req: Extract<CliRequest, { mode: 'scan' }>): Promise<number> {
  const { isArchivePath } = await import('../src/commands/inspect-archive.js');
  if (isArchivePath(req.path)) return runArchive(req, 'scan');
  const { scanVenv } = await import('../src/commands/scan-venv.js');
  const progress = await progressFor('scan', req);
  let report;
  try {
    report = scanVenv({ path: req.path, onProgress: progress.update });
  } finally {
    progress.finish();
  }
  if (req.json) {
    const { scanJson } = await import('../src/report/format-json.js');
    outJson(scanJson(report));
    return 0;
  }
  const { formatScan } = await import('../src/report/format-scan.js');
  for (const w of formatWarnings(report, await paintFor(process.stderr))) err(w);
  const paint = await paintFor(process.stdout);
  for (const l of formatScan(report, paint, { verbose: req.verbose })) say(l);
  return 0;
}

async function runVerify(req: Extract<CliRequest, { mode: 'verify' }>): Promise<number> {
  const { isArchivePath } = await import('../src/commands/inspect-archive.js');
  if (isArchivePath(req.path)) return runArchive(req, 'verify');
  const { verifyVenv } = await import('../src/commands/verify-venv.js');
  const progress = await progressFor('verify', req);
  let report;
  try {
    report = verifyVenv({
      path: req.path,
      relocatable: req.relocatable,
      onProgress: progress.update,
    });
  } finally {
    progress.finish();
  }
  if (req.json) {
    const { verifyJson } = await import('../src/report/format-json.js');
    outJson(verifyJson(report));
  } else {
    const { formatVerify } = await import('../src/report/format-verify.js');
    // The problems are the output of a failed verify: --quiet keeps them.
    const print = report.ok ? say : out;
    for (const l of formatVerify(report, await paintFor(process.stdout))) print(l);
  }
  return report.ok ? 0 : 1;
}

async function runMakeRelocatable(
  req: Extract<CliRequest, { mode: 'make-relocatable' }>,
): Promise<number> {
  const { makeRelocatable } = await import('../src/commands/make-relocatable.js');
  if (!req.dryRun) watchSignals();
  const progress = await progressFor('make-relocatable', req);
  let result;
  try {
    result = makeRelocatable({ path: req.path, dryRun: req.dryRun, onProgress: progress.update });
  } finally {
    progress.finish();
  }
  const { report, edits } = result;
  const diff = req.diff
    ? (await import('../src/report/format-diff.js')).formatPlanDiff(
        edits,
        req.json ? NO_PAINT : await paintFor(process.stdout),
      )
    : undefined;
  if (req.json) {
    const { makeRelocatableJson } = await import('../src/report/format-json.js');
    outJson(makeRelocatableJson(report, diff));
    return await afterSignal(0, 'make-relocatable');
  }
  const { formatMakeRelocatable } = await import('../src/report/format-relocatable.js');
  const lines = formatMakeRelocatable(report, await paintFor(process.stdout));
  for (const l of lines) say(l);
  for (const l of diff ?? []) say(l);
  return await afterSignal(0, 'make-relocatable');
}

/** The command a failure is reported under, in --json's error document. */
function jsonCommand(req: CliRequest) {
  if (req.mode === 'output') return undefined;
  if (req.mode === 'compat') return req.updatePath === undefined ? 'reinit' : 'relocate';
  return req.mode;
}

/**
 * A user-fixable failure. virtualenv-tools printed its two messages on stdout, and deploy
 * scripts and its test suite read them there, so the virtualenv-tools form keeps them there,
 * word for word; and also on stderr when stdout is not a terminal, so that a log that keeps
 * only stderr has them too. Every other error goes to stderr; the plain-words hint, on a line
 * of its own below it. With --json, stdout gets one document that says what failed.
 */
async function failed(req: CliRequest, e: VenvToolsError): Promise<number> {
  const json = 'json' in req && req.json;
  const command = jsonCommand(req);
  if (json && command !== undefined) {
    const { errorJson } = await import('../src/report/format-json.js');
    outJson(errorJson(command, e));
  }
  const peer = req.mode === 'compat' && (e.code === 'NOT_A_VENV' || e.code === 'NOT_ABSOLUTE');
  if (peer && !json) out(e.message);
  if (!peer || json || process.stdout.isTTY !== true) err(`venv-tools: ${e.message}`);
  if (e.hint !== undefined) err(`hint: ${e.hint}`);
  return 1;
}

function columns(): number {
  const c = process.stdout.isTTY === true ? process.stdout.columns : undefined;
  return c !== undefined && c > 0 ? c : Number.parseInt(process.env.COLUMNS ?? '', 10) || 80;
}

async function main(argv: readonly string[]): Promise<number> {
  let req: CliRequest;
  try {
    req = await parseCli(argv, { columns: columns() });
  } catch (e) {
    if (e instanceof UsageError) {
      if (e.usage !== undefined) err(e.usage);
      err(`venv-tools: ${e.message}`);
      err('Run venv-tools --help for usage.');
      return 2;
    }
    throw e;
  }
  quiet = 'quiet' in req && req.quiet && !('json' in req && req.json);
  try {
    switch (req.mode) {
      case 'output':
        out(req.text);
        return 0;
      case 'compat':
        return await runCompat(req);
      case 'relocate':
        return await runRelocate(req);
      case 'reinit':
        return await runReinit(req);
      case 'scan':
        return await runScan(req);
      case 'verify':
        return await runVerify(req);
      case 'pack':
        return await runPack(req);
      case 'unpack':
        return await runUnpack(req);
      case 'make-relocatable':
        return await runMakeRelocatable(req);
    }
  } catch (e) {
    if (e instanceof Interrupted) {
      err(`venv-tools: interrupted (${e.signal}), nothing changed`);
      return SIGNAL_EXIT[e.signal] ?? 1;
    }
    if (e instanceof UsageError) {
      err(`venv-tools: ${e.message}`);
      return 2;
    }
    if (e instanceof VenvToolsError) return await afterSignal(await failed(req, e), 'the run');
    err(`venv-tools: internal error (a bug; please report it with this output):`);
    err(e instanceof Error ? (e.stack ?? e.message) : String(e));
    return 1;
  }
}

// A reader that stops early (`venv-tools scan | head`) closes the pipe: that is not an error.
process.stdout.on('error', (e) => {
  if (errnoOf(e) === 'EPIPE') process.exit(process.exitCode ?? 0);
  throw e;
});
process.on('exit', () => trace('exit'));
// No top-level await: the single executable runs this file as CommonJS (scripts/build-binary.mjs).
void (async () => {
  // Only the fault tests set VENV_TOOLS_FAULTS (see src/fs-faults.ts): nobody else pays for
  // importing the module.
  if (process.env.VENV_TOOLS_FAULTS !== undefined) {
    const { installFaultsFromEnv } = await import('../src/core/fs-faults.js');
    installFaultsFromEnv();
  }
  process.exitCode = await main(process.argv.slice(2));
})();
