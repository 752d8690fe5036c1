#!/usr/bin/env node
/**
 * The venv-tools command: parses argv, calls the library, prints, and picks the exit code.
 * The only module that prints or exits (docs/ARCHITECTURE.md).
 */
import { readFileSync } from 'node:fs';
import { resolve as resolvePath } from 'node:path';
import { performance } from 'node:perf_hooks';
import { parseCli } from '../src/cli/parse-cli.js';
import { UsageError, type CliRequest } from '../src/cli/cli-request.js';
import { errnoOf, VenvToolsError } from '../src/core/errors.js';
import type { Json } from '../src/report/format-json.js';
import {
  formatRelocation,
  formatScan,
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

/** Colour only on a terminal, and never with NO_COLOR set to anything but "" (no-color.org). */
async function paintFor(stream: NodeJS.WriteStream): Promise<Paint> {
  const on = stream.isTTY === true && !('NO_COLOR' in process.env && process.env.NO_COLOR !== '');
  if (!on) return NO_PAINT;
  const { Chalk } = await import('chalk');
  const c = new Chalk({ level: 1 });
  return { bold: c.bold, dim: c.dim, green: c.green, yellow: c.yellow, red: c.red };
}

/** What progressFor gives off a terminal; progress.js's NO_PROGRESS, without importing it. */
const QUIET: Progress = { update: () => undefined, finish: () => undefined };

/** A progress bar on stderr, only when it is a terminal that can erase a line. */
async function progressFor(label: string): Promise<Progress> {
  const e = process.stderr;
  if (e.isTTY !== true || process.env.TERM === 'dumb') return QUIET;
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

/** virtualenv-tools compatible mode: its messages on stdout, everything else on stderr. */
async function runCompat(req: Extract<CliRequest, { mode: 'compat' }>): Promise<number> {
  if (req.reinitialize) {
    const { reinitialize } = await import('../src/commands/reinitialize.js');
    const { formatReinit } = await import('../src/report/format-reinit.js');
    // virtualenv-tools has no --reinitialize message to copy; stdout stays reserved for its own.
    const report = reinitialize({
      path: req.path,
      ...(req.python === undefined ? {} : { python: req.python }),
    });
    for (const w of report.warnings) err(`warning: ${w.message}`);
    for (const l of formatReinit(report, await paintFor(process.stderr))) err(l);
    if (report.check !== null && !report.check.ok) return 1;
  }
  if (req.updatePath === undefined) return 0;
  const { joinAsGiven, relocate, requireAbsolute } =
    await import('../src/commands/relocate-venv.js');
  const to = req.updatePath === 'auto' ? resolvePath(req.path) : req.updatePath;
  const progress = await progressFor('relocate');
  try {
    requireAbsolute(to);
    const { report } = relocate({
      path: req.path,
      to,
      toFlag: '--update-path',
      dropUnreadablePycs: req.dropUnreadablePycs,
      onProgress: progress.update,
      ...threadsFromEnv(),
    });
    progress.finish();
    for (const w of formatWarnings(report, await paintFor(process.stderr))) err(w);
    if (report.status === 'up-to-date') {
      out(`Already up-to-date: ${req.path} (${report.new})`);
      return strictExit(req.strict, report);
    }
    if (req.verbose)
      for (const c of report.changes) out(`${c.letter} ${joinAsGiven(req.path, c.path)}`);
    out(`Updated: ${req.path} (${report.old} -> ${report.new})`);
    return strictExit(req.strict, report);
  } catch (e) {
    // virtualenv-tools prints these two on stdout; deploy scripts read them there.
    if (e instanceof VenvToolsError && (e.code === 'NOT_A_VENV' || e.code === 'NOT_ABSOLUTE')) {
      out(e.message);
      return 1;
    }
    throw e;
  } finally {
    progress.finish();
  }
}

async function runRelocate(req: Extract<CliRequest, { mode: 'relocate' }>): Promise<number> {
  const { joinAsGiven, relocate } = await import('../src/commands/relocate-venv.js');
  const progress = await progressFor('relocate');
  let result;
  try {
    result = relocate({
      path: req.path,
      to: req.to,
      toFlag: '--to',
      ...(req.from === undefined ? {} : { from: req.from }),
      forceFrom: req.forceFrom,
      maps: req.maps,
      dryRun: req.dryRun,
      dropUnreadablePycs: req.dropUnreadablePycs,
      onProgress: progress.update,
      ...threadsFromEnv(),
    });
  } finally {
    progress.finish();
  }
  const { report, plan } = result;
  const formatPlanDiff = req.diff
    ? (await import('../src/report/format-diff.js')).formatPlanDiff
    : undefined;
  if (req.json) {
    const { relocateJson } = await import('../src/report/format-json.js');
    outJson(relocateJson(report, formatPlanDiff?.(plan?.edits ?? [])));
    return strictExit(req.strict, report);
  }
  const paint = await paintFor(process.stdout);
  for (const w of formatWarnings(report, await paintFor(process.stderr))) err(w);
  if (req.verbose && report.status === 'updated') {
    for (const c of report.changes) out(`${c.letter} ${joinAsGiven(req.path, c.path)}`);
  }
  const lines = formatRelocation(report, paint);
  if (formatPlanDiff !== undefined && plan !== undefined) {
    // The diff goes between the plan and the summary line, which stays last.
    const summary = lines.pop();
    lines.push(...formatPlanDiff(plan.edits, paint));
    if (summary !== undefined) lines.push(summary);
  }
  for (const line of lines) out(line);
  return strictExit(req.strict, report);
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
  const { reinitialize } = await import('../src/commands/reinitialize.js');
  const { formatReinit } = await import('../src/report/format-reinit.js');
  const before = req.diff ? readCfg(req.path) : undefined;
  const report = reinitialize({
    path: req.path,
    ...(req.python === undefined ? {} : { python: req.python }),
    force: req.force,
    dryRun: req.dryRun,
  });
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
    for (const l of formatReinit(report, paint)) out(l);
    for (const l of diff ?? []) out(l);
  }
  return report.check === null || report.check.ok ? 0 : 1;
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
  const progress = await progressFor('pack');
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
  for (const l of formatPack(report, await paintFor(process.stdout))) out(l);
  return 0;
}

async function runUnpack(req: Extract<CliRequest, { mode: 'unpack' }>): Promise<number> {
  const { unpack } = await import('../src/commands/unpack.js');
  const progress = await progressFor('unpack');
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
  for (const l of formatUnpack(report, await paintFor(process.stdout))) out(l);
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
    for (const l of format(report, await paintFor(process.stdout))) out(l);
  }
  return report.ok ? 0 : 1;
}

async function runScan(req: Extract<CliRequest, { mode: 'scan' }>): Promise<number> {
  const { isArchivePath } = await import('../src/commands/inspect-archive.js');
  if (isArchivePath(req.path)) return runArchive(req, 'scan');
  const { scanVenv } = await import('../src/commands/scan-venv.js');
  const progress = await progressFor('scan');
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
  for (const w of formatWarnings(report, await paintFor(process.stderr))) err(w);
  for (const l of formatScan(report, await paintFor(process.stdout))) out(l);
  return 0;
}

async function runVerify(req: Extract<CliRequest, { mode: 'verify' }>): Promise<number> {
  const { isArchivePath } = await import('../src/commands/inspect-archive.js');
  if (isArchivePath(req.path)) return runArchive(req, 'verify');
  const { verifyVenv } = await import('../src/commands/verify-venv.js');
  const progress = await progressFor('verify');
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
    for (const l of formatVerify(report, await paintFor(process.stdout))) out(l);
  }
  return report.ok ? 0 : 1;
}

async function runMakeRelocatable(
  req: Extract<CliRequest, { mode: 'make-relocatable' }>,
): Promise<number> {
  const { makeRelocatable } = await import('../src/commands/make-relocatable.js');
  const progress = await progressFor('make-relocatable');
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
    return 0;
  }
  const { formatMakeRelocatable } = await import('../src/report/format-relocatable.js');
  const lines = formatMakeRelocatable(report, await paintFor(process.stdout));
  for (const l of lines) out(l);
  for (const l of diff ?? []) out(l);
  return 0;
}

async function main(argv: readonly string[]): Promise<number> {
  let req: CliRequest;
  try {
    req = await parseCli(argv);
  } catch (e) {
    if (e instanceof UsageError) {
      err(`venv-tools: ${e.message}`);
      err('Run venv-tools --help for usage.');
      return 2;
    }
    throw e;
  }
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
    if (e instanceof UsageError) {
      err(`venv-tools: ${e.message}`);
      return 2;
    }
    if (e instanceof VenvToolsError) {
      // With --json, stdout still gets its one document, saying what failed.
      if ('json' in req && req.json) {
        const { errorJson } = await import('../src/report/format-json.js');
        outJson(errorJson(req.mode, e));
      }
      err(`venv-tools: ${e.message}`);
      return 1;
    }
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
