/**
 * The `--json` documents: one per command, a stable schema (docs/JSON.md, and the JSON Schema
 * files in docs/schema/ that test/json-schema.test.ts validates real output against). Each is
 * built field by field from the library's report, never by dumping it, so an internal change
 * cannot silently change the contract: a new field reaches the JSON only when it is added here
 * and to the schema. Absent values are `null`, never a missing key.
 */
import type { VenvToolsError } from '../core/errors.js';
import type { FileKind } from '../kinds/file-kind.js';
import type { Recovery } from '../apply/recover-journal.js';
import type { RelocationReport } from '../relocate/relocation-report.js';
import type { ReinitReport } from '../reinit/reinit-report.js';
import type { Layout } from '../scan/detect-layout.js';
import type { ScanReport } from './scan-report.js';
import type { LocationReport, ScannedFile } from '../scan/locations.js';
import type { Fix } from '../verify/fix-command.js';
import type { VerifyReport } from '../verify/verify-report.js';
import type { MakeRelocatableReport } from '../relocate/make-relocatable-report.js';

/** Bumped only when a field is removed or changes meaning; new fields keep the version. */
export const SCHEMA_VERSION = 1;

/** A JSON value. */
export type Json = null | boolean | number | string | Json[] | { [key: string]: Json };

type Command = 'relocate' | 'reinit' | 'scan' | 'verify' | 'make-relocatable' | 'pack' | 'unpack';

function head(command: Command): { command: Command; schemaVersion: number } {
  return { command, schemaVersion: SCHEMA_VERSION };
}

const orNull = <T extends Json>(v: T | undefined): T | null => (v === undefined ? null : v);

/** A duration in milliseconds, rounded to 0.1 ms: `152.9`, never `152.90297599999997`. */
export function ms(v: number): number {
  return Math.round(v * 10) / 10;
}

function layoutJson(l: Layout): Json {
  return {
    binDir: l.binDir,
    libDir: l.libDir,
    sitePackages: l.sitePackages,
    pythonVersion: l.pythonVersion,
    implementation: l.implementation,
    hasPyvenvCfg: l.hasPyvenvCfg,
    creator: l.creator,
    creatorVersion: orNull(l.creatorVersion),
    cfgVersion: orNull(l.cfgVersion),
  };
}

function recoveredJson(r: Recovery): Json {
  return { state: r.state, files: r.files, old: orNull(r.old), new: orNull(r.new) };
}

function warningsJson(
  ws: ReadonlyArray<{ readonly code: string; readonly message: string; readonly path?: string }>,
): Json {
  return ws.map((w) => ({ code: w.code, message: w.message, path: orNull(w.path) }));
}

/** The scan statistics, field by field (the schema's order). */
function statsJson(st: { files: number; bytes: number; symlinks: number; dirs: number }) {
  return { files: st.files, bytes: st.bytes, symlinks: st.symlinks, dirs: st.dirs };
}

function countsJson(c: Partial<Record<FileKind, number>>): Json {
  const out: { [k: string]: Json } = {};
  for (const [k, v] of Object.entries(c)) if (v !== undefined) out[k] = v;
  return out;
}

function binariesJson(bs: RelocationReport['binaries']): Json {
  return bs.map((b) => ({ path: b.path, matches: b.matches, format: b.format }));
}

function droppedPycsJson(ds: RelocationReport['droppedPycs']): Json {
  return ds.map((d) => ({
    path: d.path,
    source: orNull(d.source),
    outcome: d.outcome,
    reason: d.reason,
  }));
}

function mappingsJson(ms: RelocationReport['mappings']): Json {
  return ms.map((m) => ({ from: m.from, to: m.to, why: m.why }));
}

function locationsJson(ls: readonly LocationReport[]): Json {
  return ls.map((l) => ({
    location: l.location,
    here: l.here,
    evidence: l.evidence.map((e) => ({ file: e.file, source: e.source, count: e.count })),
  }));
}

function filesJson(fs: readonly ScannedFile[]): Json {
  return fs.map((f) => ({ path: f.path, kind: f.kind, letter: f.letter, names: f.names }));
}

function fixesJson(fs: readonly Fix[]): Json {
  return fs.map((f) => ({ why: f.why, argv: [...f.argv], command: f.command }));
}

/** `relocate --json` (and `--dry-run --json`); `diff` is present only with `--diff`. */
export function relocateJson(r: RelocationReport, diff?: readonly string[]): Json {
  return {
    ...head('relocate'),
    path: r.path,
    root: r.root,
    status: r.status,
    old: orNull(r.old),
    new: r.new,
    layout: layoutJson(r.layout),
    evidence: r.evidence.map((e) => ({
      file: e.file,
      source: e.source,
      location: e.location,
      count: e.count,
    })),
    mappings: mappingsJson(r.mappings),
    recovered: recoveredJson(r.recovered),
    changes: r.changes.map((c) => ({ path: c.path, kind: c.kind, letter: c.letter, op: c.op })),
    counts: countsJson(r.counts),
    binaries: binariesJson(r.binaries),
    droppedPycs: droppedPycsJson(r.droppedPycs),
    warnings: warningsJson(r.warnings),
    stats: statsJson(r.stats),
    timings: {
      walk: ms(r.timings.walk),
      search: ms(r.timings.search),
      plan: ms(r.timings.plan),
      journal: ms(r.timings.journal),
      apply: ms(r.timings.apply),
      total: ms(r.timings.total),
    },
    ...(diff === undefined ? {} : { diff: diff.join('\n') }),
  };
}

/** `reinit --json`; `diff` is present only with `--diff`. */
export function reinitJson(r: ReinitReport, diff?: readonly string[]): Json {
  const i = r.interpreter;
  return {
    ...head('reinit'),
    path: r.path,
    root: r.root,
    status: r.status,
    venv: {
      version: r.venv.version,
      majorMinor: r.venv.majorMinor,
      source: r.venv.source,
      implementation: r.venv.implementation,
      creator: r.venv.creator,
      libDir: r.venv.libDir,
    },
    interpreter: {
      found: i.found,
      how: i.how,
      linkTarget: i.linkTarget,
      version: i.version,
      versionInfo: i.versionInfo,
      implementation: i.implementation,
      executable: i.executable,
      realExecutable: i.realExecutable,
      prefix: i.prefix,
      execPrefix: i.execPrefix,
      skipped: i.skipped.map((s) => ({ path: s.path, why: s.why })),
    },
    forced: r.forced,
    links: r.links.map((l) => ({
      path: l.path,
      form: l.form,
      action: l.action,
      old: l.old,
      new: l.new,
      copy: l.copy,
    })),
    cfg: r.cfg.map((c) => ({ key: c.key, old: c.old, new: c.new })),
    recovered: recoveredJson(r.recovered),
    check:
      r.check === null
        ? null
        : {
            ok: r.check.ok,
            python: r.check.python,
            version: r.check.version,
            prefix: r.check.prefix,
            basePrefix: r.check.basePrefix,
            problems: [...r.check.problems],
          },
    warnings: warningsJson(r.warnings),
    ...(diff === undefined ? {} : { diff: diff.join('\n') }),
  };
}

/** `scan --json`. */
export function scanJson(r: ScanReport): Json {
  return {
    ...head('scan'),
    path: r.path,
    root: r.root,
    state: r.state,
    old: r.old,
    layout: layoutJson(r.layout),
    locations: locationsJson(r.locations),
    files: filesJson(r.files),
    counts: countsJson(r.counts),
    binaries: binariesJson(r.binaries),
    droppedPycs: droppedPycsJson(r.droppedPycs),
    mappings: mappingsJson(r.mappings),
    warnings: warningsJson(r.warnings),
    fixes: fixesJson(r.fixes),
    recovered: recoveredJson(r.recovered),
    stats: statsJson(r.stats),
    timings: {
      walk: ms(r.timings.walk),
      search: ms(r.timings.search),
      plan: ms(r.timings.plan),
      total: ms(r.timings.total),
    },
  };
}

/** `verify --json`. */
export function verifyJson(r: VerifyReport): Json {
  const timings: { [k: string]: Json } = { total: ms(r.timings.total) };
  for (const c of r.checks) timings[c.name] = ms(r.timings[c.name]);
  return {
    ...head('verify'),
    path: r.path,
    root: r.root,
    ok: r.ok,
    relocatable: r.relocatable,
    state: r.state,
    layout: layoutJson(r.layout),
    locations: locationsJson(r.locations),
    foreign: [...r.foreign],
    checks: r.checks.map((c) => ({
      name: c.name,
      status: c.status,
      summary: c.summary,
      problems: c.problems.map((p) => ({
        check: p.check,
        message: p.message,
        paths: [...p.paths],
      })),
      notes: [...c.notes],
    })),
    problems: r.problems.map((p) => ({ check: p.check, message: p.message, paths: [...p.paths] })),
    stale: filesJson(r.stale),
    binaries: binariesJson(r.binaries),
    python: { version: r.python.version, prefix: r.python.prefix, basePrefix: r.python.basePrefix },
    fixes: fixesJson(r.fixes),
    recovered: recoveredJson(r.recovered),
    timings,
  };
}

/** `make-relocatable --json` (and `--dry-run --json`); `diff` is present only with `--diff`. */
export function makeRelocatableJson(r: MakeRelocatableReport, diff?: readonly string[]): Json {
  return {
    ...head('make-relocatable'),
    path: r.path,
    root: r.root,
    status: r.status,
    relocatable: r.relocatable,
    layout: layoutJson(r.layout),
    places: [...r.places],
    changes: r.changes.map((c) => ({
      path: c.path,
      kind: c.kind,
      letter: c.letter,
      reason: c.reason,
    })),
    counts: countsJson(r.counts),
    left: r.left.map((l) => ({ path: l.path, kind: l.kind, why: l.why, names: [...l.names] })),
    recovered: recoveredJson(r.recovered),
    ...(diff === undefined ? {} : { diff: diff.join('\n') }),
    timings: {
      search: ms(r.timings.search),
      plan: ms(r.timings.plan),
      apply: ms(r.timings.apply),
      total: ms(r.timings.total),
    },
  };
}

/** The document a command prints with `--json` when it fails with a user-fixable error (exit 1). */
export function errorJson(command: Command, e: VenvToolsError): Json {
  return {
    ...head(command),
    error: { code: e.code, message: e.message, path: orNull(e.path), hint: orNull(e.hint) },
  };
}
