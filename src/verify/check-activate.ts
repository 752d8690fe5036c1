import { fs } from '../core/fs.js';
import { bytesToUtf8, fromBytes, toBytes, type ByteString } from '../core/path-boundary.js';
import { activateFlavor } from '../kinds/rewrite-activate.js';
import type { Evidence } from '../scan/evidence.js';
import { plural, result, someOf, type CheckResult } from './check-result.js';

/**
 * Every activate script sets VIRTUAL_ENV to this venv. The values are read with the same shell
 * lexers relocation uses (scan/activate-evidence.ts), so any template version counts. A script
 * that sets no fixed path (CPython's Activate.ps1 derives it from its own folder) is fine.
 */
export function checkActivate(
  root: ByteString,
  binDir: string,
  evidence: readonly Evidence[],
  isHere: (location: ByteString) => boolean,
): CheckResult {
  const names = (
    fs.readdirSync(toBytes(`${root}/${binDir}`), { encoding: 'buffer' }) as unknown as Buffer[]
  )
    .map(fromBytes)
    .filter((n) => activateFlavor(n) !== undefined)
    .sort();
  if (names.length === 0) {
    return result('activate', `no activate script in ${binDir}/`, [], [], true);
  }
  const problems: Array<{ message: string; paths: string[] }> = [];
  const fixed: string[] = [];
  const derived: string[] = [];
  for (const name of names) {
    const file = `${binDir}/${name}`;
    const shown = bytesToUtf8(file);
    const values = evidence.filter((e) => e.source === 'activate' && e.file === file);
    if (values.length === 0) {
      derived.push(shown);
      continue;
    }
    const wrong = values.filter((e) => !isHere(e.location));
    if (wrong.length === 0) {
      fixed.push(shown);
      continue;
    }
    problems.push({
      message: `${shown} sets VIRTUAL_ENV to ${wrong.map((e) => bytesToUtf8(e.location)).join(' and ')}, not this venv`,
      paths: [shown],
    });
  }
  const notes =
    derived.length === 0
      ? []
      : [
          `${someOf(derived)} set${derived.length === 1 ? 's' : ''} VIRTUAL_ENV from ${derived.length === 1 ? 'its' : 'their'} own folder, not a fixed path`,
        ];
  const summary =
    problems.length === 0
      ? `${plural(fixed.length, 'activate script')} set${fixed.length === 1 ? 's' : ''} VIRTUAL_ENV to this venv`
      : `${plural(problems.length, 'activate script')} of ${names.length} set${problems.length === 1 ? 's' : ''} VIRTUAL_ENV to another place`;
  return result('activate', summary, problems, notes);
}
