import { normalizeLocation } from '../core/normalize-location.js';
import type { ByteString } from '../core/path-boundary.js';
import { refusedLocation } from '../core/refused-location.js';
import type { Evidence } from './evidence.js';

/**
 * The old location a message may suggest with `--from`: of the locations the evidence names,
 * other than `target` and never one that would be refused (`/`, a system folder), the one
 * pyvenv.cfg names, else the one an activate script names, else the one most files name.
 * Undefined when no location qualifies: the message then asks the user to look at the files.
 */
export function suggestOldPrefix(
  evidence: readonly Evidence[],
  target: ByteString,
): ByteString | undefined {
  const byLoc = new Map<ByteString, { cfg: boolean; activate: boolean; files: Set<ByteString> }>();
  for (const e of evidence) {
    const loc = normalizeLocation(e.location);
    if (loc === target || refusedLocation(loc) !== undefined) continue;
    const s = byLoc.get(loc) ?? { cfg: false, activate: false, files: new Set() };
    if (e.source === 'pyvenv.cfg') s.cfg = true;
    if (e.source === 'activate') s.activate = true;
    s.files.add(e.file);
    byLoc.set(loc, s);
  }
  let best: ByteString | undefined;
  let bestScore = [-1, -1, -1];
  for (const [loc, s] of byLoc) {
    const score = [s.cfg ? 1 : 0, s.activate ? 1 : 0, s.files.size];
    const i = score.findIndex((v, k) => v !== bestScore[k]);
    if (i !== -1 && (score[i] as number) > (bestScore[i] as number)) {
      best = loc;
      bestScore = score;
    }
  }
  return best;
}
