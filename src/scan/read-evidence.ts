/**
 * Read the files the old-location evidence comes from and gather it: bin/* regular files and
 * pyvenv.cfg (cheap: a few small files), and with `deep`, every pyc, RECORD, `.pth` and
 * `.egg-link` too (every pyc is read). The same reading serves relocate, scan and verify, so
 * they see exactly the same evidence.
 */
import { posix } from 'node:path';
import { fs } from '../core/fs.js';
import { bytesToUtf8, fromBytes, toBytes, type ByteString } from '../core/path-boundary.js';
import { type Layout } from './detect-layout.js';
import { parsePyvenvCfg } from '../kinds/pyvenv-cfg.js';
import { gatherEvidence } from './find-old-prefix.js';
import { type Evidence, type EvidenceSource } from './evidence.js';
import { pycCompiledAt } from './pyc-compiled-at.js';
import { FileSearcher } from './search-files.js';
import { pthLocations, recordLocations } from './site-evidence.js';
import { walkEach } from './walk-tree.js';
import { realPath } from '../core/real-path.js';
import { unreadableError } from '../core/errors.js';

// Scripts pip writes are a few KB; a multi-megabyte file in bin/ is a binary, not a script.
const MAX_SCRIPT_SIZE = 4 << 20;

/**
 * Every piece of evidence for the venv's recorded location (see gatherEvidence); with `deep`
 * (or when `deep` says so of that cheap evidence), also what its pycs, RECORDs, `.pth` and
 * `.egg-link` files name (see readDeepEvidence).
 */
export function readEvidence(
  root: ByteString,
  layout: Layout,
  deep: boolean | ((cheap: readonly Evidence[]) => boolean) = false,
): Evidence[] {
  const bin: Array<{ name: ByteString; bytes: Buffer }> = [];
  const binAbs = `${root}/${layout.binDir}`;
  const names = fs.readdirSync(toBytes(binAbs), { encoding: 'buffer' }) as unknown as Buffer[];
  for (const nameBuf of names) {
    const name = fromBytes(nameBuf);
    const p = toBytes(`${binAbs}/${name}`);
    let st;
    try {
      st = fs.lstatSync(p);
    } catch {
      continue;
    }
    if (!st.isFile() || st.size > MAX_SCRIPT_SIZE) continue;
    try {
      bin.push({ name, bytes: fs.readFileSync(p) });
    } catch (err) {
      throw unreadableError(bytesToUtf8(`${binAbs}/${name}`), err);
    }
  }
  let cfg: Buffer | undefined;
  let keys = new Map<string, string>();
  if (layout.hasPyvenvCfg) {
    cfg = fs.readFileSync(toBytes(`${root}/pyvenv.cfg`));
    keys = parsePyvenvCfg(fromBytes(cfg));
  }
  const home = keys.get('home');
  const cheap = gatherEvidence({ bin, pyvenvCfg: cfg, home });
  if (!(typeof deep === 'function' ? deep(cheap) : deep)) return cheap;
  // The base interpreter's own prefix has a lib/pythonX.Y/site-packages too: a .pth naming it
  // says nothing about where the venv is.
  const base = [keys.get('base-prefix'), home === undefined ? undefined : posix.dirname(home)];
  return [
    ...cheap,
    ...readDeepEvidence(
      root,
      layout,
      base.filter((b) => b !== undefined),
    ),
  ];
}

function sameFolder(a: ByteString, b: ByteString): boolean {
  const ra = realPath(a);
  return ra !== undefined && ra === realPath(b);
}

// Prefixes that hold a lib/pythonX.Y/site-packages of a Python installation, never a venv's.
const SYSTEM_PREFIXES = new Set(['/', '/usr', '/usr/local']);

/**
 * The evidence of the venv's pycs (where each was compiled: pycCompiledAt), and of the absolute
 * RECORD rows, `.pth` and `.egg-link` lines of its site-packages that name a venv-shaped place
 * (site-evidence.ts). Summarised: one piece per location and source, with the count of files
 * and the first of them. A place a RECORD or `.pth` names counts only when it is gone or is
 * this venv: one that exists elsewhere is a Python's own prefix (`basePrefixes` are the base
 * interpreter's) or another venv whose packages a `.pth` may add on purpose, and relocating
 * onto it would break that (verify's pth check reports it).
 */
export function readDeepEvidence(
  root: ByteString,
  layout: Layout,
  basePrefixes: readonly ByteString[] = [],
): Evidence[] {
  const searcher = new FileSearcher(root, []);
  const found = new Map<
    string,
    { source: EvidenceSource; location: ByteString; files: ByteString[] }
  >();
  const add = (source: EvidenceSource, rel: ByteString, locations: readonly ByteString[]) => {
    for (const location of new Set(locations)) {
      const key = `${source}\0${location}`;
      const f = found.get(key) ?? { source, location, files: [] };
      f.files.push(rel);
      found.set(key, f);
    }
  };
  walkEach(root, (rel, type) => {
    if (type !== 'file' || !(rel.endsWith('.pyc') || rel.endsWith('.pyo'))) return;
    const r = searcher.read(rel, true);
    const at = r === undefined ? undefined : pycCompiledAt(rel, r.bytes);
    if (at !== undefined) add('pyc', rel, [at]);
  });
  const site = layout.sitePackages;
  let names: ByteString[] = [];
  try {
    names = (
      fs.readdirSync(toBytes(`${root}/${site}`), { encoding: 'buffer' }) as unknown as Buffer[]
    ).map(fromBytes);
  } catch {
    // detectLayout saw it a moment ago; gone since, it names nothing.
  }
  const listed: Array<{ source: EvidenceSource; rel: ByteString; locations: ByteString[] }> = [];
  for (const name of names.sort()) {
    const rel = `${site}/${name}`;
    if (name.endsWith('.pth') || name.endsWith('.egg-link')) {
      const r = searcher.read(rel, true);
      if (r === undefined) continue;
      const source = name.endsWith('.pth') ? 'pth' : 'egg-link';
      listed.push({ source, rel, locations: pthLocations(r.bytes) });
    } else if (name.endsWith('.dist-info')) {
      const r = searcher.read(`${rel}/RECORD`, true);
      if (r === undefined) continue;
      listed.push({ source: 'record', rel: `${rel}/RECORD`, locations: recordLocations(r.bytes) });
    }
  }
  const judged = new Map<ByteString, boolean>();
  const isCandidate = (loc: ByteString): boolean => {
    let ok = judged.get(loc);
    if (ok === undefined) {
      ok =
        !SYSTEM_PREFIXES.has(loc) &&
        !basePrefixes.includes(loc) &&
        (!fs.existsSync(toBytes(loc)) || sameFolder(loc, root));
      judged.set(loc, ok);
    }
    return ok;
  };
  for (const l of listed) add(l.source, l.rel, l.locations.filter(isCandidate));
  const order: EvidenceSource[] = ['pyc', 'record', 'pth', 'egg-link'];
  return [...found.values()]
    .sort(
      (a, b) =>
        order.indexOf(a.source) - order.indexOf(b.source) ||
        (a.location < b.location ? -1 : a.location > b.location ? 1 : 0),
    )
    .map((f) => ({
      file: f.files.reduce((m, x) => (x < m ? x : m)),
      source: f.source,
      location: f.location,
      count: f.files.length,
    }));
}
