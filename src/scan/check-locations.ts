/**
 * The locations a relocation is given, checked before anything is locked or written: each is
 * made absolute-only, normalised (the report says when that changed it), and refused when it
 * can never be a venv's location (see refused-location.ts), or when the venv's own files
 * contradict `--from`. Each refusal names the location, the override flag where one is safe,
 * and the next step.
 */
import { resolve } from 'node:path';
import { VenvToolsError } from '../core/errors.js';
import { normalizeLocation } from '../core/normalize-location.js';
import { bytesToUtf8, utf8ToBytes, type ByteString, type Mapping } from '../core/path-boundary.js';
import { refusedLocation, type Refusal } from '../core/refused-location.js';
import { describeEvidence } from './find-old-prefix.js';
import { type Evidence } from './evidence.js';
import { suggestOldPrefix } from './suggest-old-prefix.js';
import type { Warning } from '../core/warning.js';

/**
 * Check that a user-given path is absolute; the message is virtualenv-tools', and the hint
 * gives the absolute form, and for the new location (`venvPath` given: `--to` and
 * `--update-path` take `auto`) the `auto` form too.
 */
export function requireAbsolute(p: string, flag = '--update-path', venvPath?: string): void {
  if (p.startsWith('/')) return;
  const here = venvPath === undefined ? undefined : resolve(venvPath);
  const auto = here === undefined ? '' : `${flag} auto for where the venv stands (${here})`;
  let hint: string;
  if (p === '') hint = auto === '' ? 'name the location' : `name the new location, or use ${auto}`;
  else if (resolve(p) === here) hint = `use ${flag} auto, or the absolute form ${flag} ${here}`;
  else hint = `use the absolute form, ${flag} ${resolve(p)}${auto === '' ? '' : `, or ${auto}`}`;
  throw new VenvToolsError('NOT_ABSOLUTE', `${flag} must be absolute: ${p}`, p, hint);
}

/** The locations as the user gave them. */
export interface GivenLocations {
  /** The venv as given, for the commands the messages suggest. */
  readonly path: string;
  readonly to: string;
  /** How the user named `to`: `--update-path` or `--to`. */
  readonly toFlag: string;
  readonly from?: string | undefined;
  readonly maps: ReadonlyArray<{ readonly from: string; readonly to: string }>;
}

/** The locations, absolute and normalised (byte strings), and what normalising changed. */
export interface CheckedLocations {
  readonly to: ByteString;
  readonly from: ByteString | undefined;
  readonly maps: Mapping[];
  readonly warnings: Warning[];
}

/** Why a refused location cannot be a venv's, as the messages say it. */
function because(why: Refusal, location: string): string {
  return why === 'root'
    ? '/ starts every absolute path, so every path in every file of the venv would be rewritten, and no venv is rooted there'
    : `${location} is a system folder, where no venv is rooted, and every path under it in every file of the venv would be rewritten`;
}

function refuse(message: string, location: string): VenvToolsError {
  return new VenvToolsError('REFUSED_LOCATION', message, location);
}

/**
 * Normalise and check every location but the evidence (see checkFrom): `/` is refused in any
 * role, with no override; a system folder as the new location or on either side of `--map` is
 * refused with no override; a system folder as `--from` is left to checkFrom, which
 * `--force-from` overrides.
 */
export function checkLocations(given: GivenLocations): CheckedLocations {
  const warnings: Warning[] = [];
  const normal = (value: string, flag: string, shown = `${flag} ${value}`): string => {
    // `auto` is for the new location alone.
    requireAbsolute(value, flag, flag === given.toFlag ? given.path : undefined);
    const n = normalizeLocation(value);
    if (n !== value) {
      warnings.push({
        code: 'NORMALIZED',
        message: `${shown} was read as ${n} (".", ".." and repeated or trailing "/" removed)`,
        path: n,
      });
    }
    return n;
  };

  const to = normal(given.to, given.toFlag);
  const toWhy = refusedLocation(to);
  if (toWhy !== undefined) {
    throw refuse(
      `refusing ${to} as the new location (${given.toFlag} ${given.to}): ${because(toWhy, to)}. ` +
        `There is no override. Name the venv's own folder, e.g. ${given.toFlag} ${to === '/' ? '/srv' : to}/app/venv`,
      to,
    );
  }

  let from: string | undefined;
  if (given.from !== undefined) {
    from = normal(given.from, '--from');
    if (refusedLocation(from) === 'root') {
      throw refuse(
        `refusing / as the old location (--from ${given.from}): ${because('root', from)}. There is no override. ` +
          `Name the folder the venv was built at (venv-tools scan ${given.path} lists the locations its files name).`,
        from,
      );
    }
  }

  const maps = given.maps.map((m) => {
    const shown = `--map ${m.from}=${m.to}`;
    const a = normal(m.from, '--map', shown);
    const b = normal(m.to, '--map', shown);
    for (const side of [a, b]) {
      const why = refusedLocation(side);
      if (why === undefined) continue;
      throw refuse(
        `refusing ${side} in ${shown}: ${because(why, side)}. There is no override. ` +
          `Map the specific folder that moved, e.g. --map /build/app/src=/srv/app/src`,
        side,
      );
    }
    return { from: utf8ToBytes(a), to: utf8ToBytes(b) };
  });

  return {
    to: utf8ToBytes(to),
    from: from === undefined ? undefined : utf8ToBytes(from),
    maps,
    warnings,
  };
}

/** The evidence naming locations other than `target`, normalised (as the checks compare them). */
function otherEvidence(evidence: readonly Evidence[], target: ByteString): Evidence[] {
  return evidence
    .map((e) => ({ ...e, location: normalizeLocation(e.location) }))
    .filter((e) => e.location !== target);
}

/** "Name it: venv-tools relocate … --from X …", or "look at the files" when nothing qualifies. */
function nextStep(evidence: readonly Evidence[], target: ByteString, path: string): string {
  const suggested = suggestOldPrefix(evidence, target);
  return suggested === undefined
    ? 'Look at the files listed to see where it was built, and name that folder with --from'
    : `Name the folder it was built at, e.g. venv-tools relocate ${path} --from ${bytesToUtf8(suggested)} --to ${bytesToUtf8(target)}`;
}

/**
 * Refuse an old location given with `--from` that is a system folder, or that the venv's own
 * files contradict: they name other locations (besides `target`, which counts as done, and
 * besides any that would be refused) and none of them is `from`. A venv with no such evidence
 * accepts any `--from`. `--force-from` skips this check: the odd venv really built there.
 */
export function checkFrom(
  from: ByteString,
  givenFrom: string,
  evidence: readonly Evidence[],
  target: ByteString,
  path: string,
): void {
  const others = otherEvidence(evidence, target);
  const candidates = new Set(
    others.map((e) => e.location).filter((l) => refusedLocation(l) === undefined),
  );
  const system = refusedLocation(from) === 'system-folder';
  const contradicted = candidates.size > 0 && !candidates.has(from);
  if (!system && !contradicted) return;
  const shown = bytesToUtf8(from);
  const named =
    others.length === 0
      ? ''
      : `\n${path}'s own files name:\n${describeEvidence(others)}\n${nextStep(evidence, target, path)}, `;
  const override = `add --force-from if the venv really was built at ${shown}.`;
  if (system) {
    throw refuse(
      `refusing ${shown} as the old location (--from ${givenFrom}): ${because('system-folder', shown)}.` +
        (named === ''
          ? ` Name the folder the venv was built at, or ${override}`
          : `${named}or ${override}`),
      shown,
    );
  }
  throw new VenvToolsError(
    'FROM_CONTRADICTED',
    `refusing --from ${givenFrom}: ${path}'s own files do not name ${shown} as where it was built.${named}or ${override}`,
    shown,
  );
}

/**
 * Refuse an old location the evidence alone named (no `--from`) when it would be refused: the
 * files of a venv that `--update-path /` damaged name `/`.
 */
export function checkFoundOld(
  old: ByteString,
  evidence: readonly Evidence[],
  target: ByteString,
  path: string,
): void {
  const why = refusedLocation(normalizeLocation(old));
  if (why === undefined) return;
  const shown = bytesToUtf8(old);
  const others = otherEvidence(evidence, target);
  throw refuse(
    `refusing ${shown} as the old location: ${path}'s own files name it as where the venv was built:\n` +
      `${describeEvidence(others)}\nbut ${because(why, shown)}. ` +
      (why === 'root'
        ? `There is no override. Look at the files listed; if you know where the venv was built, name it: venv-tools relocate ${path} --from OLD --to ${bytesToUtf8(target)}`
        : `If the venv really was built at ${shown} itself: venv-tools relocate ${path} --from ${shown} --force-from --to ${bytesToUtf8(target)}`),
    shown,
  );
}
