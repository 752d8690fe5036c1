/**
 * What a user would notice after a venv moved: each check is a small function returning
 * problems as readable sentences ("<check>: <what is wrong>"); `checkRelocated` runs them all.
 * None of them edits the venv, except the pip uninstall that a caller asks for explicitly.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { errnoOf } from '../../src/core/errors.js';
import { stripTrailingSlash } from '../../src/core/path-boundary.js';
import { checkActivate } from './check-activate.js';
import { findOldPaths, type OldPathHit } from './find-old-paths.js';
import { normalizeName, sitePackages, type BuiltVenv } from './build-venv.js';
import { parseScriptReport } from './make-wheel.js';
import { cleanEnv, describeFailure, run, type RunResult } from './run.js';

/** What `checkRelocated` checks, besides the venv itself. */
export interface CheckOptions {
  /** Where the venv was before. It must no longer exist, and nothing may still name it. */
  readonly oldPath: string;
  /** Names in bin/ written for the kit's wheels: each must run and report the venv as its prefix. */
  readonly scripts?: readonly string[];
  /** Other old places that nothing may name any more (the editable source's old folder). */
  readonly otherOldPaths?: readonly string[];
  /** Distributions `pip list` must show. */
  readonly packages?: readonly string[];
  /** Modules that must import from under `srcDir`, the editable project's new place. */
  readonly editable?: { readonly srcDir: string; readonly modules: readonly string[] };
  /** `pip uninstall -y` this distribution and check its files are gone. This changes the venv. */
  readonly uninstall?: string;
  /** Do not count pycs that name an old path as problems (they are logged). */
  readonly ignorePycs?: boolean;
  /**
   * Binaries allowed to still name an old path (venv-relative paths, or true for all): the
   * tool never edits binaries by default. They are logged; any other binary is a problem.
   */
  readonly expectBinaries?: boolean | readonly string[];
  /** Where to say what ran (shells, skipped scripts, tolerated hits); e.g. ava's `t.log`. */
  readonly log?: (line: string) => void;
}

/** The options that check every promise a kit venv (or a copy of it) makes. */
export function checksFor(venv: BuiltVenv): CheckOptions {
  return {
    oldPath: venv.builtAt,
    scripts: venv.scripts,
    packages: venv.packages,
    ...(venv.editable === undefined
      ? {}
      : {
          editable: { srcDir: venv.editable.srcDir, modules: venv.editable.modules },
          otherOldPaths: [path.join(path.dirname(venv.builtAt), 'src')],
        }),
  };
}

// Checks run the venv's interpreter, which must not write pycs: a stale pyc that Python
// quietly recompiled would hide a pyc the relocation got wrong.
const CHECK_ENV = cleanEnv({ PYTHONDONTWRITEBYTECODE: '1' });

function runPy(venvDir: string, code: string, ...args: string[]): Promise<RunResult> {
  return run(path.join(venvDir, 'bin', 'python'), ['-c', code, ...args], {
    env: CHECK_ENV,
    timeoutMs: 120_000,
  });
}

/** Run every check; an empty list means the venv works at `venvDir`. */
export async function checkRelocated(dir: string, opts: CheckOptions): Promise<string[]> {
  const venvDir = stripTrailingSlash(dir);
  const log = opts.log ?? ((): void => undefined);
  // The byte search comes first, before anything runs inside the venv.
  const problems = [...checkOldLocationGone(opts), ...checkNoOldPaths(venvDir, opts, log)];
  problems.push(...(await checkPrefix(venvDir)));
  problems.push(...(await checkScripts(venvDir, opts.scripts ?? [])));
  const activate = await checkActivate(venvDir);
  log(
    `activate: ran ${activate.ran.join(', ') || 'no shell'}${activate.skipped.length > 0 ? `; skipped ${activate.skipped.join(', ')}` : ''}`,
  );
  problems.push(...activate.problems);
  if (opts.editable !== undefined) problems.push(...(await checkEditable(venvDir, opts.editable)));
  problems.push(...(await checkPipList(venvDir, opts)));
  if (opts.uninstall !== undefined)
    problems.push(...(await checkUninstall(venvDir, opts.uninstall, opts.oldPath)));
  return problems;
}

/** The old location must be gone, or a venv that still uses it would look fine. */
export function checkOldLocationGone(opts: CheckOptions): string[] {
  let exists = true;
  try {
    fs.lstatSync(opts.oldPath);
  } catch {
    exists = false;
  }
  return exists
    ? [
        `old location: ${opts.oldPath} still exists; move the original away, or the venv may quietly use it`,
      ]
    : [];
}

/** No file or symlink in the venv may name an old path (binaries and pycs as the options say). */
export function checkNoOldPaths(
  venvDir: string,
  opts: CheckOptions,
  log: (line: string) => void,
): string[] {
  const hits = findOldPaths(venvDir, [opts.oldPath, ...(opts.otherOldPaths ?? [])]);
  const names = (h: OldPathHit): string =>
    h.names
      .map((p, k) => {
        const how = h.spellings[k];
        return how === undefined || how === 'as is'
          ? JSON.stringify(p)
          : `${JSON.stringify(p)} (${how})`;
      })
      .join(' and ');
  const problems = hits.text.map((h) => `old path: ${h.file} still names ${names(h)}`);
  problems.push(...hits.symlinks.map((h) => `old path: symlink ${h.file} still names ${names(h)}`));
  if (hits.pycs.length > 0) {
    const some = hits.pycs.slice(0, 3).map((h) => h.file);
    const all = [...new Set(hits.pycs.flatMap((h) => h.names))]
      .map((p) => JSON.stringify(p))
      .join(' and ');
    const line = `${hits.pycs.length} pyc files still name ${all}, e.g. ${some.join(', ')}`;
    if (opts.ignorePycs === true) log(`old path (ignored): ${line}`);
    else problems.push(`old path: ${line}`);
  }
  const allowed = opts.expectBinaries;
  for (const h of hits.binaries) {
    if (allowed === true || (Array.isArray(allowed) && allowed.includes(h.file))) {
      log(`old path (expected in a binary): ${h.file} names ${names(h)}`);
    } else {
      problems.push(`old path: binary ${h.file} still names ${names(h)}`);
    }
  }
  return problems;
}

/** `bin/python` must start and report exactly the venv as `sys.prefix`. */
export async function checkPrefix(venvDir: string): Promise<string[]> {
  const r = await runPy(
    venvDir,
    'import os, sys; sys.stdout.buffer.write(os.fsencode(sys.prefix))',
  );
  if (r.error !== undefined || r.status !== 0)
    return [`sys.prefix: bin/python ${describeFailure(r)}`];
  const want = Buffer.from(venvDir, 'utf8');
  return r.stdout.equals(want)
    ? []
    : [
        `sys.prefix: bin/python reports ${JSON.stringify(r.stdout.toString('utf8'))} instead of ${JSON.stringify(venvDir)}`,
      ];
}

/**
 * Every executable script in bin/ must start. The kit's own (`scripts`) run without arguments
 * and must report the venv as their prefix; any other (pip, wheel, …) must pass `--help`.
 */
export async function checkScripts(venvDir: string, scripts: readonly string[]): Promise<string[]> {
  const bin = path.join(venvDir, 'bin');
  const problems = scripts
    .filter((s) => !fs.existsSync(path.join(bin, s)))
    .map((s) => `scripts: bin/${s} is missing`);
  const want = Buffer.from(venvDir, 'utf8');
  // Other scripts with the very same bytes (pip, pip3, pip3.X) would behave the same: one runs.
  const seen = new Set<string>();
  const runnable = fs
    .readdirSync(bin)
    .sort()
    .filter((name) => {
      const file = path.join(bin, name);
      if (!isScript(file)) return false;
      if (scripts.includes(name)) return true;
      const content = fs.readFileSync(file, 'latin1');
      if (seen.has(content)) return false;
      seen.add(content);
      return true;
    });
  const results = await Promise.all(
    runnable.map(async (name) => {
      const ours = scripts.includes(name);
      const r = await run(path.join(bin, name), ours ? [] : ['--help'], {
        env: CHECK_ENV,
        timeoutMs: 120_000,
      });
      return { name, ours, r };
    }),
  );
  for (const { name, ours, r } of results) {
    if (errnoOf(r.error) === 'ENOENT') {
      // execve reports a missing #! interpreter as ENOENT on the script itself.
      const line = fs.readFileSync(path.join(bin, name), 'utf8').split('\n', 1)[0] ?? '';
      problems.push(
        `scripts: bin/${name} cannot start: its interpreter is missing (${JSON.stringify(line)})`,
      );
      continue;
    }
    if (r.error !== undefined || r.status !== 0) {
      problems.push(`scripts: bin/${name}${ours ? '' : ' --help'} ${describeFailure(r)}`);
      continue;
    }
    if (!ours) continue;
    const report = parseScriptReport(r.stdout);
    if (report === undefined || report.name !== name) {
      problems.push(
        `scripts: bin/${name} ran but did not print its report line (got ${JSON.stringify(r.stdout.toString('utf8').trim())})`,
      );
    } else if (!report.prefix.equals(want)) {
      problems.push(
        `scripts: bin/${name} ran under prefix ${JSON.stringify(report.prefix.toString('utf8'))}, not the venv's`,
      );
    }
  }
  return problems;
}

/** A regular executable file starting with `#!` (pip's scripts; not activate, not the python links). */
function isScript(file: string): boolean {
  const st = fs.lstatSync(file);
  if (!st.isFile() || (st.mode & 0o111) === 0) return false;
  const fd = fs.openSync(file, 'r');
  try {
    const head = Buffer.alloc(2);
    return fs.readSync(fd, head, 0, 2, 0) === 2 && head.toString('latin1') === '#!';
  } finally {
    fs.closeSync(fd);
  }
}

/** Each editable module must import, from under the project's new folder. */
export async function checkEditable(
  venvDir: string,
  editable: NonNullable<CheckOptions['editable']>,
): Promise<string[]> {
  const problems: string[] = [];
  const under = Buffer.from(editable.srcDir + path.sep, 'utf8');
  for (const mod of editable.modules) {
    // Run from "/", so that the current folder on sys.path cannot supply the module.
    const r = await runPy(
      venvDir,
      'import importlib, os, sys; m = importlib.import_module(sys.argv[1]); sys.stdout.buffer.write(os.fsencode(m.__file__))',
      mod,
    );
    if (r.error !== undefined || r.status !== 0) {
      problems.push(`editable: import ${mod} ${describeFailure(r)}`);
    } else if (!r.stdout.subarray(0, under.length).equals(under)) {
      problems.push(
        `editable: ${mod} comes from ${JSON.stringify(r.stdout.toString('utf8'))}, not from under ${JSON.stringify(editable.srcDir)}`,
      );
    }
  }
  return problems;
}

interface PipListEntry {
  readonly name: string;
  readonly version: string;
  readonly editable_project_location?: string;
}

async function pipList(venvDir: string): Promise<PipListEntry[] | string> {
  const r = await run(path.join(venvDir, 'bin', 'python'), ['-m', 'pip', 'list', '--format=json'], {
    env: CHECK_ENV,
    timeoutMs: 120_000,
  });
  if (r.error !== undefined || r.status !== 0) return `pip list ${describeFailure(r)}`;
  try {
    return JSON.parse(r.stdout.toString('utf8')) as PipListEntry[];
  } catch {
    return `pip list printed no JSON: ${JSON.stringify(r.stdout.toString('utf8').slice(0, 200))}`;
  }
}

/** `pip list` must work and show `packages`; an editable one at the project's new place (pip >= 21.3 says where). */
export async function checkPipList(venvDir: string, opts: CheckOptions): Promise<string[]> {
  const list = await pipList(venvDir);
  if (typeof list === 'string') return [`pip: ${list}`];
  const byName = new Map(list.map((e) => [normalizeName(e.name), e]));
  const problems: string[] = [];
  for (const name of opts.packages ?? []) {
    const entry = byName.get(normalizeName(name));
    if (entry === undefined) {
      problems.push(`pip: pip list does not show ${name}`);
    } else if (
      opts.editable !== undefined &&
      entry.editable_project_location !== undefined &&
      entry.editable_project_location !== opts.editable.srcDir
    ) {
      problems.push(
        `pip: pip list puts editable ${name} at ${JSON.stringify(entry.editable_project_location)}, not ${JSON.stringify(opts.editable.srcDir)}`,
      );
    }
  }
  return problems;
}

/**
 * `pip uninstall -y name` must succeed and remove every file its RECORD lists (pip resolves
 * RECORD entries against site-packages; an entry that names the old location is looked for
 * at the new one).
 */
export async function checkUninstall(
  venvDir: string,
  name: string,
  oldPath: string,
): Promise<string[]> {
  const site = sitePackages(venvDir);
  const want = normalizeName(name).replace(/-/g, '_');
  const distInfo = fs
    .readdirSync(site)
    .find(
      (d) =>
        d.endsWith('.dist-info') &&
        normalizeName(d.replace(/-[^-]+\.dist-info$/, '')).replace(/-/g, '_') === want,
    );
  const files: string[] = [];
  if (distInfo !== undefined) {
    for (const line of fs.readFileSync(path.join(site, distInfo, 'RECORD'), 'utf8').split('\n')) {
      const entry = line.split(',')[0];
      if (entry === undefined || entry === '') continue;
      let file = path.resolve(site, entry);
      if (file === oldPath || file.startsWith(oldPath + path.sep))
        file = venvDir + file.slice(oldPath.length);
      if (fs.existsSync(file)) files.push(file);
    }
  }
  const r = await run(path.join(venvDir, 'bin', 'python'), ['-m', 'pip', 'uninstall', '-y', name], {
    env: CHECK_ENV,
    timeoutMs: 120_000,
  });
  if (r.error !== undefined || r.status !== 0)
    return [`pip: pip uninstall -y ${name} ${describeFailure(r)}`];
  const problems = files
    .filter((f) => fs.existsSync(f))
    .map((f) => `pip: pip uninstall -y ${name} left ${path.relative(venvDir, f)} behind`);
  const list = await pipList(venvDir);
  if (typeof list === 'string') problems.push(`pip: after uninstalling ${name}, ${list}`);
  else if (list.some((e) => normalizeName(e.name) === normalizeName(name))) {
    problems.push(`pip: pip list still shows ${name} after pip uninstall -y`);
  }
  return problems;
}
