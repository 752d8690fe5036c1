#!/usr/bin/env node
/**
 * The venv-tools command: parses argv, calls the library, prints, and picks the exit code.
 * The only module that prints or exits (STYLE.md "Thin entry").
 */
import { readFileSync } from 'node:fs';
import { resolve as resolvePath } from 'node:path';
import { performance } from 'node:perf_hooks';
import { Chalk } from 'chalk';
import { parseCli, UsageError, type CliRequest } from '../src/cli-args.js';
import { errnoOf, VenvToolsError } from '../src/errors.js';
import { formatPlanDiff, formatReinitDiff, plannedPyvenvCfg } from '../src/format-diff.js';
import {
  errorJson,
  reinitJson,
  relocateJson,
  scanJson,
  verifyJson,
  type Json,
} from '../src/format-json.js';
import {
  formatRelocation,
  formatScan,
  formatWarnings,
  NO_PAINT,
  type Paint,
} from '../src/format-report.js';
import { installFaultsFromEnv } from '../src/fs-faults.js';
import { createProgress, NO_PROGRESS, progressDelay, type Progress } from '../src/progress.js';
import { joinAsGiven, relocate, requireAbsolute } from '../src/relocate/relocate.js';
import { formatReinit } from '../src/reinit/format-reinit.js';
import { reinitialize } from '../src/reinit/reinitialize.js';
import { scanVenv } from '../src/scan/scan-venv.js';
import { formatVerify } from '../src/verify/format-verify.js';
import { verifyVenv } from '../src/verify/verify-venv.js';

/** Colour only on a terminal, and never with NO_COLOR set to anything but "" (no-color.org). */
function paintFor(stream: NodeJS.WriteStream): Paint {
  const on = stream.isTTY === true && !('NO_COLOR' in process.env && process.env.NO_COLOR !== '');
  if (!on) return NO_PAINT;
  const c = new Chalk({ level: 1 });
  return { bold: c.bold, dim: c.dim, green: c.green, yellow: c.yellow, red: c.red };
}

/** A progress bar on stderr, only when it is a terminal that can erase a line. */
function progressFor(label: string): Progress {
  const e = process.stderr;
  if (e.isTTY !== true || process.env.TERM === 'dumb') return NO_PROGRESS;
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

/** virtualenv-tools compatible mode: its messages on stdout, everything else on stderr. */
function runCompat(req: Extract<CliRequest, { mode: 'compat' }>): number {
  if (req.reinitialize) {
    // virtualenv-tools has no --reinitialize message to copy; stdout stays reserved for its own.
    const report = reinitialize({
      path: req.path,
      ...(req.python === undefined ? {} : { python: req.python }),
    });
    for (const w of report.warnings) err(`warning: ${w.message}`);
    for (const l of formatReinit(report, paintFor(process.stderr))) err(l);
    if (report.check !== null && !report.check.ok) return 1;
  }
  if (req.updatePath === undefined) return 0;
  const to = req.updatePath === 'auto' ? resolvePath(req.path) : req.updatePath;
  const progress = progressFor('relocate');
  try {
    requireAbsolute(to);
    const { report } = relocate({ path: req.path, to, onProgress: progress.update });
    progress.finish();
    for (const w of formatWarnings(report, paintFor(process.stderr))) err(w);
    if (report.status === 'up-to-date') {
      out(`Already up-to-date: ${req.path} (${report.new})`);
      return 0;
    }
    if (req.verbose)
      for (const c of report.changes) out(`${c.letter} ${joinAsGiven(req.path, c.path)}`);
    out(`Updated: ${req.path} (${report.old} -> ${report.new})`);
    return 0;
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

function runRelocate(req: Extract<CliRequest, { mode: 'relocate' }>): number {
  const progress = progressFor('relocate');
  let result;
  try {
    result = relocate({
      path: req.path,
      to: req.to,
      ...(req.from === undefined ? {} : { from: req.from }),
      maps: req.maps,
      dryRun: req.dryRun,
      onProgress: progress.update,
    });
  } finally {
    progress.finish();
  }
  const { report, plan } = result;
  if (req.json) {
    outJson(relocateJson(report, req.diff ? formatPlanDiff(plan?.edits ?? []) : undefined));
    return 0;
  }
  const paint = paintFor(process.stdout);
  for (const w of formatWarnings(report, paintFor(process.stderr))) err(w);
  if (req.verbose && report.status === 'updated') {
    for (const c of report.changes) out(`${c.letter} ${joinAsGiven(req.path, c.path)}`);
  }
  const lines = formatRelocation(report, paint);
  if (req.diff && plan !== undefined) {
    // The diff goes between the plan and the summary line, which stays last.
    const summary = lines.pop();
    lines.push(...formatPlanDiff(plan.edits, paint));
    if (summary !== undefined) lines.push(summary);
  }
  for (const line of lines) out(line);
  return 0;
}

/** pyvenv.cfg's bytes, or undefined when it cannot be read (reinit then fails with its own message). */
function readCfg(path: string): Buffer | undefined {
  try {
    return readFileSync(resolvePath(path, 'pyvenv.cfg'));
  } catch {
    return undefined;
  }
}

function runReinit(req: Extract<CliRequest, { mode: 'reinit' }>): number {
  const before = req.diff ? readCfg(req.path) : undefined;
  const report = reinitialize({
    path: req.path,
    ...(req.python === undefined ? {} : { python: req.python }),
    force: req.force,
    dryRun: req.dryRun,
  });
  const paint = req.json ? NO_PAINT : paintFor(process.stdout);
  const diff = req.diff
    ? formatReinitDiff(
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
      )
    : undefined;
  if (req.json) {
    outJson(reinitJson(report, diff));
  } else {
    for (const w of report.warnings)
      err(`${paintFor(process.stderr).yellow('warning:')} ${w.message}`);
    for (const l of formatReinit(report, paint)) out(l);
    for (const l of diff ?? []) out(l);
  }
  return report.check === null || report.check.ok ? 0 : 1;
}

function runScan(req: Extract<CliRequest, { mode: 'scan' }>): number {
  const progress = progressFor('scan');
  let report;
  try {
    report = scanVenv({ path: req.path, onProgress: progress.update });
  } finally {
    progress.finish();
  }
  if (req.json) {
    outJson(scanJson(report));
    return 0;
  }
  for (const w of formatWarnings(report, paintFor(process.stderr))) err(w);
  for (const l of formatScan(report, paintFor(process.stdout))) out(l);
  return 0;
}

function runVerify(req: Extract<CliRequest, { mode: 'verify' }>): number {
  const progress = progressFor('verify');
  let report;
  try {
    report = verifyVenv({ path: req.path, onProgress: progress.update });
  } finally {
    progress.finish();
  }
  if (req.json) outJson(verifyJson(report));
  else for (const l of formatVerify(report, paintFor(process.stdout))) out(l);
  return report.ok ? 0 : 1;
}

function main(argv: readonly string[]): number {
  let req: CliRequest;
  try {
    req = parseCli(argv);
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
        return runCompat(req);
      case 'relocate':
        return runRelocate(req);
      case 'reinit':
        return runReinit(req);
      case 'scan':
        return runScan(req);
      case 'verify':
        return runVerify(req);
    }
  } catch (e) {
    if (e instanceof UsageError) {
      err(`venv-tools: ${e.message}`);
      return 2;
    }
    if (e instanceof VenvToolsError) {
      // With --json, stdout still gets its one document, saying what failed.
      if ('json' in req && req.json) outJson(errorJson(req.mode, e));
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
installFaultsFromEnv();
process.exitCode = main(process.argv.slice(2));
