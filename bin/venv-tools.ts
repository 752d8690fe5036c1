#!/usr/bin/env node
/**
 * The venv-tools command: parses argv, calls the library, prints, and picks the exit code.
 * The only module that prints or exits (STYLE.md "Thin entry").
 */
import { resolve as resolvePath } from 'node:path';
import { Chalk } from 'chalk';
import { parseCli, UsageError, type CliRequest } from '../src/cli-args.js';
import { VenvToolsError } from '../src/errors.js';
import { installFaultsFromEnv } from '../src/fs-faults.js';
import { formatRelocation, formatWarnings, NO_PAINT, type Paint } from '../src/format-report.js';
import { joinAsGiven, relocate, requireAbsolute } from '../src/relocate/relocate.js';
import { formatReinit } from '../src/reinit/format-reinit.js';
import { reinitialize } from '../src/reinit/reinitialize.js';

function paintFor(stream: NodeJS.WriteStream): Paint {
  const on = stream.isTTY === true && !('NO_COLOR' in process.env && process.env.NO_COLOR !== '');
  if (!on) return NO_PAINT;
  const c = new Chalk({ level: 1 });
  return { bold: c.bold, dim: c.dim, green: c.green, yellow: c.yellow, red: c.red };
}

const out = (line: string) => process.stdout.write(`${line}\n`);
const err = (line: string) => process.stderr.write(`${line}\n`);

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
  try {
    requireAbsolute(to);
    const { report } = relocate({ path: req.path, to });
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
  }
}

function runRelocate(req: Extract<CliRequest, { mode: 'relocate' }>): number {
  const { report } = relocate({
    path: req.path,
    to: req.to,
    ...(req.from === undefined ? {} : { from: req.from }),
    maps: req.maps,
    dryRun: req.dryRun,
  });
  if (req.json) {
    out(JSON.stringify(report, null, 2));
    return 0;
  }
  const paint = paintFor(process.stdout);
  for (const w of formatWarnings(report, paintFor(process.stderr))) err(w);
  if (req.verbose && report.status === 'updated') {
    for (const c of report.changes) out(`${c.letter} ${joinAsGiven(req.path, c.path)}`);
  }
  for (const line of formatRelocation(report, paint)) out(line);
  return 0;
}

function runReinit(req: Extract<CliRequest, { mode: 'reinit' }>): number {
  const report = reinitialize({
    path: req.path,
    ...(req.python === undefined ? {} : { python: req.python }),
    force: req.force,
    dryRun: req.dryRun,
  });
  if (req.json) {
    out(JSON.stringify(report, null, 2));
  } else {
    for (const w of report.warnings)
      err(`${paintFor(process.stderr).yellow('warning:')} ${w.message}`);
    for (const l of formatReinit(report, paintFor(process.stdout))) out(l);
  }
  return report.check === null || report.check.ok ? 0 : 1;
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
    }
  } catch (e) {
    if (e instanceof UsageError) {
      err(`venv-tools: ${e.message}`);
      return 2;
    }
    if (e instanceof VenvToolsError) {
      err(`venv-tools: ${e.message}`);
      return 1;
    }
    err(`venv-tools: internal error (a bug; please report it with this output):`);
    err(e instanceof Error ? (e.stack ?? e.message) : String(e));
    return 1;
  }
}

installFaultsFromEnv();
process.exitCode = main(process.argv.slice(2));
