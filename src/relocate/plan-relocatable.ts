/**
 * The plan of `make-relocatable`: which files of a venv pin it to its path and how each is
 * rewritten so that it finds its place at run time. It reads the few files that can hold such a
 * pin (bin/, the `.pth`, `.egg-link` and RECORD files of site-packages, pyvenv.cfg, and every
 * symlink), calls the pure forms of src/kinds/relocatable-*.ts on them, and returns the edits;
 * it writes nothing. The command journals and applies them; `verify --relocatable` asks for the
 * same plan and reports every edit it holds as a pin, so the two can never disagree.
 */
import type { Stats } from 'node:fs';
import { posix } from 'node:path';
import { fs } from '../core/fs.js';
import { errnoOf, unreadableError } from '../core/errors.js';
import { bytesToUtf8, fromBytes, toBytes, type ByteString } from '../core/path-boundary.js';
import { normalizeLocation } from '../core/normalize-location.js';
import { refusedLocation } from '../core/refused-location.js';
import type { FileKind } from '../kinds/file-kind.js';
import { makeActivateRelocatable, relocatableFlavor } from '../kinds/relocatable-activate.js';
import { makePthRelative } from '../kinds/relocatable-pth.js';
import { markRelocatable } from '../kinds/relocatable-pyvenv-cfg.js';
import { makeRecordRelative } from '../kinds/relocatable-record.js';
import { makeScriptRelocatable } from '../kinds/relocatable-shebang.js';
import { recordUpdateOf, type RecordUpdate } from '../kinds/rewrite-record.js';
import { relativeFrom, underPlace } from '../kinds/venv-relative.js';
import type { FileStat } from '../plan/planner.js';
import type { Layout } from '../scan/detect-layout.js';
import type { Evidence } from '../scan/evidence.js';
import { walkEach } from '../scan/walk-tree.js';

/** Why make-relocatable rewrites a file. */
export type PinReason =
  /** A script runs its interpreter by an absolute path. */
  | 'script'
  /** An activate script sets VIRTUAL_ENV to a fixed path. */
  | 'activate'
  /** A `.pth` or `.egg-link` line names a folder of the venv by an absolute path. */
  | 'pth'
  /** A RECORD lists a file of the venv by an absolute path. */
  | 'record'
  /** A symlink points into the venv by an absolute path. */
  | 'symlink'
  /** pyvenv.cfg lacks `relocatable = true`. */
  | 'pyvenv-cfg'
  /** Not a pin: uv's relocatable script header, replaced by one that BusyBox sh can run too. */
  | 'uv-script'
  /** Not a pin itself: a RECORD whose rows' hashes follow files rewritten for another reason. */
  | 'hashes';

/** One rewrite of the plan. */
export type RelocatableEdit =
  | {
      readonly op: 'write';
      readonly rel: ByteString;
      readonly kind: FileKind;
      readonly reason: PinReason;
      readonly bytes: Buffer;
      readonly before: Buffer;
      readonly stat: FileStat;
    }
  | {
      readonly op: 'symlink';
      readonly rel: ByteString;
      readonly kind: 'symlink';
      readonly reason: 'symlink';
      readonly target: ByteString;
      readonly before: ByteString;
    };

/** A file that pins the venv and that the plan cannot rewrite, with why. */
export interface Unplanned {
  readonly rel: ByteString;
  readonly kind: FileKind;
  readonly why: string;
}

/** The plan: its edits in path order, and the pins it could not plan. */
export interface RelocatablePlan {
  readonly edits: readonly RelocatableEdit[];
  readonly unplanned: readonly Unplanned[];
}

function realpathOf(p: ByteString): ByteString | undefined {
  try {
    return fromBytes(fs.realpathSync(toBytes(p), { encoding: 'buffer' }) as unknown as Buffer);
  } catch {
    return undefined;
  }
}

/**
 * The places that are this venv: where it stands (as given and with symlinks resolved), and every
 * location its evidence names (where it was built, or moved from without relocating: the
 * evidence only ever names places that are gone or are this venv). `/` and system folders never
 * count, whatever a damaged file says.
 */
export function venvPlaces(root: ByteString, evidence: readonly Evidence[]): ByteString[] {
  const all = [root, realpathOf(root), ...evidence.map((e) => e.location)];
  const out: ByteString[] = [];
  for (const p of all) {
    if (p === undefined || out.includes(p)) continue;
    if (refusedLocation(normalizeLocation(bytesToUtf8(p))) !== undefined) continue;
    out.push(p);
  }
  return out;
}

function statOf(st: Stats): FileStat {
  return {
    mode: st.mode,
    nlink: st.nlink,
    uid: st.uid,
    gid: st.gid,
    atimeMs: st.atimeMs,
    mtimeMs: st.mtimeMs,
  };
}

/** A regular file's bytes and stat (symlinks are not followed), or undefined when it is not one. */
function readRegular(
  root: ByteString,
  rel: ByteString,
): { bytes: Buffer; stat: Stats } | undefined {
  const p = toBytes(`${root}/${rel}`);
  let fd: number;
  try {
    fd = fs.openSync(p, fs.constants.O_RDONLY | fs.constants.O_NOFOLLOW | fs.constants.O_NONBLOCK);
  } catch (err) {
    const code = errnoOf(err);
    if (code === 'ENOENT' || code === 'ELOOP' || code === 'ENXIO') return undefined;
    throw unreadableError(bytesToUtf8(`${root}/${rel}`), err);
  }
  try {
    const stat = fs.fstatSync(fd);
    if (!stat.isFile()) return undefined;
    return { bytes: fs.readFileSync(fd), stat };
  } catch (err) {
    throw unreadableError(bytesToUtf8(`${root}/${rel}`), err);
  } finally {
    fs.closeSync(fd);
  }
}

function listNames(root: ByteString, dirRel: ByteString): ByteString[] {
  try {
    return (
      fs.readdirSync(toBytes(`${root}/${dirRel}`), { encoding: 'buffer' }) as unknown as Buffer[]
    )
      .map(fromBytes)
      .sort();
  } catch {
    return [];
  }
}

// Scripts pip writes are a few KB; a multi-megabyte file in bin/ is a binary, not a script.
const MAX_SCRIPT_SIZE = 4 << 20;

/** Plan the rewrites that make the venv at `root` relocatable; `places` come from venvPlaces. */
export function planRelocatable(
  root: ByteString,
  layout: Layout,
  places: readonly ByteString[],
): RelocatablePlan {
  const edits: RelocatableEdit[] = [];
  const unplanned: Unplanned[] = [];
  const updates = new Map<ByteString, RecordUpdate>();
  const write = (
    rel: ByteString,
    kind: FileKind,
    reason: PinReason,
    bytes: Buffer,
    read: { bytes: Buffer; stat: Stats },
  ): void => {
    edits.push({
      op: 'write',
      rel,
      kind,
      reason,
      bytes,
      before: read.bytes,
      stat: statOf(read.stat),
    });
    updates.set(rel, recordUpdateOf(bytes));
  };
  const bin = layout.binDir;
  const hasInterpreter = (name: string): boolean => {
    try {
      fs.lstatSync(toBytes(`${root}/${bin}/${name}`));
      return true;
    } catch {
      return false;
    }
  };

  for (const name of listNames(root, bin)) {
    const rel = `${bin}/${name}`;
    let st: Stats;
    try {
      st = fs.lstatSync(toBytes(`${root}/${rel}`));
    } catch {
      continue;
    }
    if (!st.isFile() || st.size > MAX_SCRIPT_SIZE) continue;
    const read = readRegular(root, rel);
    if (read === undefined) continue;
    const flavor = relocatableFlavor(name);
    if (flavor !== undefined) {
      const r = makeActivateRelocatable(read.bytes, { flavor, places, fileName: name });
      if (r.bytes !== undefined) write(rel, 'activate', 'activate', r.bytes, read);
      for (const why of r.left) unplanned.push({ rel, kind: 'activate', why });
      continue;
    }
    if (read.bytes[0] !== 0x23 || read.bytes[1] !== 0x21) continue;
    const r = makeScriptRelocatable(read.bytes, { places, binDir: bin, hasInterpreter });
    if (r.bytes !== undefined)
      write(rel, 'shebang', r.fromUv === true ? 'uv-script' : 'script', r.bytes, read);
    else if (r.left !== undefined) unplanned.push({ rel, kind: 'shebang', why: r.left });
  }

  const site = layout.sitePackages;
  const records: ByteString[] = [];
  for (const name of listNames(root, site)) {
    const rel = `${site}/${name}`;
    if (name.endsWith('.dist-info')) {
      records.push(`${rel}/RECORD`);
      continue;
    }
    if (!name.endsWith('.pth') && !name.endsWith('.egg-link')) continue;
    const read = readRegular(root, rel);
    if (read === undefined) continue;
    const kind: FileKind = name.endsWith('.pth') ? 'pth' : 'egg-link';
    const r = makePthRelative(read.bytes, { places, dir: site });
    if (r.bytes !== undefined) write(rel, kind, 'pth', r.bytes, read);
    for (const why of r.left) unplanned.push({ rel, kind, why });
  }

  if (layout.hasPyvenvCfg) {
    const read = readRegular(root, 'pyvenv.cfg');
    const out = read === undefined ? undefined : markRelocatable(read.bytes);
    if (read !== undefined && out !== undefined)
      write('pyvenv.cfg', 'pyvenv-cfg', 'pyvenv-cfg', out, read);
  }

  walkEach(root, (rel, type) => {
    if (type !== 'symlink') return;
    let target: ByteString;
    try {
      target = fromBytes(fs.readlinkSync(toBytes(`${root}/${rel}`), { encoding: 'buffer' }));
    } catch {
      return; // gone since the walk
    }
    if (!target.startsWith('/')) return;
    const to = underPlace(target, places);
    if (to === undefined) return;
    edits.push({
      op: 'symlink',
      rel,
      kind: 'symlink',
      reason: 'symlink',
      target: relativeFrom(posix.dirname(rel), to),
      before: target,
    });
  });

  // Last: every file whose new hash a RECORD lists is planned by now.
  for (const rel of records) {
    const read = readRegular(root, rel);
    if (read === undefined) continue;
    const out = makeRecordRelative(read.bytes, {
      places,
      recordRel: rel,
      updateFor: (listed) => updates.get(listed),
    });
    if (out === undefined) continue;
    const moved = makeRecordRelative(read.bytes, {
      places,
      recordRel: rel,
      updateFor: () => undefined,
    });
    write(rel, 'record', moved === undefined ? 'hashes' : 'record', out, read);
  }
  edits.sort((a, b) => (a.rel < b.rel ? -1 : a.rel > b.rel ? 1 : 0));
  return { edits, unplanned };
}
