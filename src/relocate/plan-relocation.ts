import { posix } from 'node:path';
import { RewriteError, VenvToolsError } from '../errors.js';
import type { FileKind } from '../kinds.js';
import {
  bytesToUtf8,
  findPathMatches,
  fromBytes,
  isWholePathAt,
  replacePaths,
  toBytes,
  type ByteString,
  type Mapping,
} from '../path-boundary.js';
import { binaryFormat, classifyFile, type Syntax } from '../scan/classify-file.js';
import type { Layout } from '../scan/detect-layout.js';
import { activateFlavor, rewriteActivate } from './rewrite-activate.js';
import { rewriteJson } from './rewrite-json.js';
import { rewritePth } from './rewrite-pth.js';
import { rewritePyc } from './rewrite-pyc.js';
import { rewritePythonSource } from './rewrite-python-source.js';
import { rewritePyvenvCfg } from './rewrite-pyvenv-cfg.js';
import { recordUpdateOf, rewriteRecord } from './rewrite-record.js';
import { rewriteShebang } from './rewrite-shebang.js';

/** One change the apply step will make; paths are relative to the venv root. */
export type Edit =
  | {
      readonly op: 'write';
      readonly rel: ByteString;
      readonly kind: FileKind;
      readonly bytes: Buffer;
      readonly before: Buffer;
    }
  | {
      readonly op: 'symlink';
      readonly rel: ByteString;
      readonly kind: 'symlink';
      readonly target: ByteString;
      readonly before: ByteString;
    }
  | {
      readonly op: 'remove';
      readonly rel: ByteString;
      readonly kind: 'pyc-removed';
      readonly reason: string;
    };

/** A warning with a stable code. */
export interface Warning {
  readonly code: 'PYC_REMOVED' | 'BINARY_NOT_EDITED' | 'OUTSIDE_REFERENCE' | 'ASSUMED_MOVED_ALONG';
  readonly message: string;
  readonly path?: string;
}

/** A binary file that holds a mapped path; never edited. */
export interface BinaryHit {
  readonly rel: ByteString;
  readonly matches: number;
  readonly format: string;
}

export interface PlanInput {
  readonly layout: Layout;
  /** Venv-wide mappings (the venv's own first). */
  readonly mappings: readonly Mapping[];
  /** Files holding a needle, with their bytes. */
  readonly hits: ReadonlyArray<{ readonly rel: ByteString; readonly bytes: Buffer }>;
  /** Every RECORD file's bytes. */
  readonly records: ReadonlyMap<ByteString, Buffer>;
  /** Every symlink in the venv with its target. */
  readonly symlinks: ReadonlyArray<{ readonly rel: ByteString; readonly target: ByteString }>;
  /** Every regular file's rel path. */
  readonly files: ReadonlySet<ByteString>;
  /** Reads a file not among the hits (a pyc whose source changes). */
  readonly readFile: (rel: ByteString) => Buffer;
}

export interface Plan {
  readonly edits: Edit[];
  readonly binaries: BinaryHit[];
  readonly warnings: Warning[];
}

function rewriteBySyntax(
  syntax: Syntax,
  rel: ByteString,
  bytes: Buffer,
  mappings: readonly Mapping[],
): Buffer | undefined {
  const ctx = { mappings };
  switch (syntax) {
    case 'shebang':
      return rewriteShebang(bytes, ctx);
    case 'activate': {
      const flavor = activateFlavor(posix.basename(rel));
      return flavor === undefined
        ? rewriteText(bytes, mappings)
        : rewriteActivate(bytes, { mappings, flavor });
    }
    case 'python':
      return rewritePythonSource(bytes, ctx);
    case 'pyvenv-cfg':
      return rewritePyvenvCfg(bytes, ctx);
    case 'pth':
      return rewritePth(bytes, ctx);
    case 'json':
      try {
        return rewriteJson(bytes, ctx);
      } catch (err) {
        // Looked like JSON but is not: the plain text rule is the safe reading.
        if (err instanceof RewriteError) return rewriteText(bytes, mappings);
        throw err;
      }
    case 'text':
      return rewriteText(bytes, mappings);
    case 'record':
    case 'pyc':
    case 'binary':
      return undefined;
  }
}

/** The general text rule: whole-path replace, raw. */
export function rewriteText(bytes: Buffer, mappings: readonly Mapping[]): Buffer | undefined {
  const out = replacePaths(fromBytes(bytes), mappings);
  return out === undefined ? undefined : toBytes(out);
}

/** The source .py of a pyc: `d/__pycache__/m.cpython-311.pyc` or legacy `d/m.pyc` -> `d/m.py`. */
export function sourceOfPyc(rel: ByteString): ByteString {
  const m = /^(.*?)(?:__pycache__\/)?([^/]+?)(?:\.[^./]+-\d+(?:\.opt-\d)?)?\.py[co]$/.exec(rel);
  return m ? `${m[1] ?? ''}${m[2] ?? ''}.py` : rel;
}

function failRewrite(rel: ByteString, err: RewriteError): VenvToolsError {
  const shown = bytesToUtf8(rel);
  return new VenvToolsError(
    err.reason === 'unquotable' ? 'UNSUPPORTED' : 'BAD_INPUT',
    `cannot rewrite ${shown}: ${err.message}. Nothing was changed. Choose a target path this file can express, or fix or remove the file and run again.`,
    shown,
  );
}

/** RECORD rows are relative to the folder holding the .dist-info (site-packages). */
function recordTarget(
  recordRel: ByteString,
  listed: ByteString,
  newRoot: ByteString,
): ByteString | undefined {
  let rel: string;
  if (listed.startsWith('/')) {
    if (!listed.startsWith(`${newRoot}/`)) return undefined;
    rel = listed.slice(newRoot.length + 1);
  } else {
    rel = posix.join(posix.dirname(posix.dirname(recordRel)), listed);
  }
  rel = posix.normalize(rel);
  return rel.startsWith('../') || rel === '..' ? undefined : rel;
}

/**
 * Turn the inventory into edits. Pure: every input is already in memory except `readFile`,
 * which reads the few pycs whose source changes without holding the path themselves.
 */
export function planRelocation(input: PlanInput): Plan {
  const { mappings } = input;
  const newRoot = (mappings[0] as Mapping).to;
  const edits: Edit[] = [];
  const binaries: BinaryHit[] = [];
  const warnings: Warning[] = [];
  const written = new Map<ByteString, Buffer>();
  const pycHits: Array<{ rel: ByteString; bytes: Buffer }> = [];

  for (const hit of input.hits) {
    const { kind, syntax } = classifyFile(hit.rel, hit.bytes, input.layout);
    if (syntax === 'pyc') {
      pycHits.push(hit);
      continue;
    }
    if (syntax === 'record') continue; // after every other file, below
    if (syntax === 'binary') {
      const n = findPathMatches(fromBytes(hit.bytes), mappings).length;
      if (n > 0) binaries.push({ rel: hit.rel, matches: n, format: binaryFormat(hit.bytes) });
      continue;
    }
    let out: Buffer | undefined;
    try {
      out = rewriteBySyntax(syntax, hit.rel, hit.bytes, mappings);
    } catch (err) {
      if (err instanceof RewriteError) throw failRewrite(hit.rel, err);
      throw err;
    }
    if (out === undefined || out.equals(hit.bytes)) continue;
    edits.push({ op: 'write', rel: hit.rel, kind, bytes: out, before: hit.bytes });
    written.set(hit.rel, out);
  }

  // Pycs: those holding the path, and those whose source .py this run rewrites (their header's
  // source size or hash must follow the new source).
  const pycs = new Map<ByteString, Buffer>();
  for (const h of pycHits) pycs.set(h.rel, h.bytes);
  if (written.size > 0) {
    for (const rel of input.files) {
      if (
        (rel.endsWith('.pyc') || rel.endsWith('.pyo')) &&
        !pycs.has(rel) &&
        written.has(sourceOfPyc(rel))
      ) {
        pycs.set(rel, input.readFile(rel));
      }
    }
  }
  for (const [rel, bytes] of pycs) {
    const source = sourceOfPyc(rel);
    const newSource = written.get(source);
    let out: Buffer | undefined;
    try {
      out = rewritePyc(bytes, newSource === undefined ? { mappings } : { mappings, newSource });
    } catch (err) {
      if (!(err instanceof RewriteError)) throw err;
      if (input.files.has(source)) {
        // A pyc is only a cache of its source: Python rebuilds it on the next import.
        edits.push({ op: 'remove', rel, kind: 'pyc-removed', reason: err.message });
        warnings.push({
          code: 'PYC_REMOVED',
          message: `removed ${bytesToUtf8(rel)} (${err.message}); Python recompiles it from ${bytesToUtf8(source)}`,
          path: bytesToUtf8(rel),
        });
        continue;
      }
      const shown = bytesToUtf8(rel);
      throw new VenvToolsError(
        'BAD_PYC',
        `cannot rewrite ${shown}: ${err.message}, and it has no source .py to rebuild it from. Nothing was changed. Remove or replace this file, then run again.`,
        shown,
      );
    }
    if (out === undefined || out.equals(bytes)) continue;
    edits.push({ op: 'write', rel, kind: 'pyc', bytes: out, before: bytes });
    written.set(rel, out);
  }

  // RECORD files last: every file this run rewrote that a RECORD lists gets its hash and size.
  for (const [rel, bytes] of input.records) {
    const updateFor = (listed: ByteString) => {
      const target = recordTarget(rel, listed, newRoot);
      const next = target === undefined ? undefined : written.get(target);
      return next === undefined ? undefined : recordUpdateOf(next);
    };
    let out: Buffer | undefined;
    try {
      out = rewriteRecord(bytes, { mappings, updateFor });
    } catch (err) {
      if (err instanceof RewriteError) throw failRewrite(rel, err);
      throw err;
    }
    if (out === undefined || out.equals(bytes)) continue;
    edits.push({ op: 'write', rel, kind: 'record', bytes: out, before: bytes });
  }

  for (const link of input.symlinks) {
    const m = findPathMatches(link.target, mappings)[0];
    if (m === undefined || m.start !== 0 || !isWholePathAt(link.target, m.start, m.end)) continue;
    const target = m.mapping.to + link.target.slice(m.end);
    if (target !== link.target) {
      edits.push({ op: 'symlink', rel: link.rel, kind: 'symlink', target, before: link.target });
    }
  }

  edits.sort((a, b) => (a.rel < b.rel ? -1 : a.rel > b.rel ? 1 : 0));
  for (const b of binaries) {
    warnings.push({
      code: 'BINARY_NOT_EDITED',
      message: `${bytesToUtf8(b.rel)} (${b.format}) holds the old path ${b.matches} time(s); binaries are never edited`,
      path: bytesToUtf8(b.rel),
    });
  }
  return { edits, binaries, warnings };
}
