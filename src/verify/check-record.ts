import { createHash, getHashes } from 'node:crypto';
import { posix } from 'node:path';
import { fs } from '../core/fs.js';
import { errnoOf } from '../core/errors.js';
import { bytesToUtf8, fromBytes, toBytes, type ByteString } from '../core/path-boundary.js';
import { plural, result, type CheckResult } from './check-result.js';
import { parseRecord } from '../kinds/record.js';

const HASHES = new Set(getHashes());

/** A path for messages: venv-relative when inside the venv, absolute otherwise. */
function shownPath(root: ByteString, abs: ByteString): string {
  return bytesToUtf8(abs.startsWith(`${root}/`) ? abs.slice(root.length + 1) : abs);
}

/** Every RECORD in site-packages, venv-relative, sorted. */
function recordFiles(root: ByteString, sitePackages: string): ByteString[] {
  let names: Buffer[];
  try {
    names = fs.readdirSync(toBytes(`${root}/${sitePackages}`), {
      encoding: 'buffer',
    }) as unknown as Buffer[];
  } catch {
    return [];
  }
  const out: ByteString[] = [];
  for (const n of names.map(fromBytes).sort()) {
    if (!n.endsWith('.dist-info')) continue;
    const rel = `${sitePackages}/${n}/RECORD`;
    try {
      if (fs.lstatSync(toBytes(`${root}/${rel}`)).isFile()) out.push(rel);
    } catch {
      // a dist-info without RECORD: nothing to check
    }
  }
  return out;
}

/**
 * Every file a RECORD lists with a hash exists and matches that hash and size, so that pip
 * (which trusts RECORD to uninstall) and auditors (`pip check`-style tools, SBOM scanners)
 * see a consistent install. Relocation recomputes the rows of the files it rewrites; a tool
 * that edits files without doing so leaves rows that fail here.
 */
export function checkRecord(
  root: ByteString,
  sitePackages: string,
  onProgress?: (phase: string, done: number, total: number) => void,
): CheckResult {
  const records = recordFiles(root, sitePackages);
  if (records.length === 0) {
    return result('record', `no RECORD in ${sitePackages}`, [], [], true);
  }
  const problems: Array<{ message: string; paths: string[] }> = [];
  const notes: string[] = [];
  const work: Array<{ record: ByteString; path: ByteString; hash: string; size: string }> = [];
  for (const record of records) {
    let bytes: Buffer;
    try {
      bytes = fs.readFileSync(toBytes(`${root}/${record}`));
    } catch (err) {
      problems.push({
        message: `${bytesToUtf8(record)} cannot be read: ${errnoOf(err) ?? (err as Error).message}`,
        paths: [bytesToUtf8(record)],
      });
      continue;
    }
    for (const row of parseRecord(fromBytes(bytes)).rows) {
      if (row.hash !== '') work.push({ record, ...row });
    }
  }
  let checked = 0;
  for (const [k, w] of work.entries()) {
    onProgress?.('record', k, work.length);
    // RECORD paths are relative to the folder that holds the .dist-info (site-packages).
    const base = posix.dirname(posix.dirname(`${root}/${w.record}`));
    const abs = w.path.startsWith('/') ? posix.normalize(w.path) : posix.join(base, w.path);
    const file = shownPath(root, abs);
    const rec = bytesToUtf8(w.record);
    const eq = w.hash.indexOf('=');
    const algo = eq === -1 ? '' : w.hash.slice(0, eq);
    if (!HASHES.has(algo)) {
      notes.push(
        `${rec}: ${file} has a hash of an unknown kind (${w.hash.slice(0, 20)}); not checked`,
      );
      continue;
    }
    let st;
    try {
      st = fs.lstatSync(toBytes(abs));
    } catch {
      problems.push({ message: `${rec} lists ${file}, which is missing`, paths: [file, rec] });
      continue;
    }
    if (!st.isFile()) {
      problems.push({
        message: `${rec} lists ${file}, which is not a regular file`,
        paths: [file, rec],
      });
      continue;
    }
    let content: Buffer;
    try {
      content = fs.readFileSync(toBytes(abs));
    } catch (err) {
      problems.push({
        message: `${rec} lists ${file}, which cannot be read: ${errnoOf(err) ?? (err as Error).message}`,
        paths: [file, rec],
      });
      continue;
    }
    checked++;
    // urlsafe base64 without padding (PEP 376); tolerate padding written by other tools.
    const want = w.hash.slice(eq + 1).replace(/=+$/, '');
    const got = createHash(algo).update(content).digest('base64url');
    const sizeOk = w.size === '' || Number(w.size) === content.length;
    if (got !== want || !sizeOk) {
      problems.push({
        message: `${rec} lists ${file} with ${algo}=${want}${w.size === '' ? '' : `, ${w.size} bytes`}; the file has ${algo}=${got}, ${content.length} bytes`,
        paths: [file, rec],
      });
    }
  }
  onProgress?.('record', work.length, work.length);
  const summary =
    problems.length === 0
      ? `${plural(checked, 'hash', 'hashes')} in ${plural(records.length, 'RECORD')} match their files`
      : `${plural(problems.length, 'row')} of ${work.length} in ${plural(records.length, 'RECORD')} ${problems.length === 1 ? 'does' : 'do'} not match`;
  return result('record', summary, problems, notes);
}
