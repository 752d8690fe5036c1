/**
 * pyvenv.cfg's `relocatable = true`, as uv writes it for `uv venv --relocatable`. Python does not
 * read the key; it marks the venv as one whose files find their place at run time (uv installs
 * relocatable scripts into such a venv; venv-tools' relocate reports it "already relocatable").
 */
import { fromBytes, toBytes } from '../core/path-boundary.js';

const KEY = /^[ \t]*relocatable[ \t]*=[ \t]*(.*?)[ \t]*$/i;

/** True when pyvenv.cfg says `relocatable = true` (any case, as uv and configparser read it). */
export function isMarkedRelocatable(cfg: Buffer): boolean {
  for (const line of fromBytes(cfg).split(/\r?\n/)) {
    const m = KEY.exec(line);
    if (m !== null) return (m[1] ?? '').toLowerCase() === 'true';
  }
  return false;
}

/** pyvenv.cfg with `relocatable = true` (set, or appended in the file's line ending); undefined when it has it. */
export function markRelocatable(cfg: Buffer): Buffer | undefined {
  if (isMarkedRelocatable(cfg)) return undefined;
  const s = fromBytes(cfg);
  const eol = /\r\n/.test(s) ? '\r\n' : '\n';
  const lines = s.split(/(?<=\n)/);
  const at = lines.findIndex((l) => KEY.test(l.replace(/\r?\n$/, '')));
  if (at !== -1) {
    const line = lines[at] as string;
    const end = /\r?\n$/.exec(line)?.[0] ?? '';
    lines[at] = `relocatable = true${end}`;
    return toBytes(lines.join(''));
  }
  const sep = s === '' || s.endsWith('\n') ? '' : eol;
  return toBytes(`${s}${sep}relocatable = true${eol}`);
}
