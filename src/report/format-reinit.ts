import { NO_PAINT, type Paint } from './format-report.js';
import type { ReinitReport } from '../reinit/reinit-report.js';

function howFound(r: ReinitReport): string {
  switch (r.interpreter.how) {
    case 'option':
      return 'named by --python';
    case 'PATH':
      return 'found on PATH';
    case 'fallback':
      return `no python${r.venv.majorMinor} on PATH`;
  }
}

/** The human lines of a reinit report (the `reinit` command's stdout); warnings are separate. */
export function formatReinit(r: ReinitReport, paint: Paint = NO_PAINT): string[] {
  const lines: string[] = [];
  const i = r.interpreter;
  if (r.recovered.state === 'completed') {
    lines.push(
      paint.yellow(
        `Finished an interrupted run first (${r.recovered.files} files from its journal).`,
      ),
    );
  }
  if (r.status === 'up-to-date') {
    lines.push(
      `${paint.green('Already up-to-date:')} ${r.path} (${i.linkTarget}, Python ${i.version})`,
    );
  } else {
    const head =
      r.status === 'dry-run' ? paint.bold('Would reinitialize') : paint.green('Reinitialized');
    lines.push(
      `${head} ${r.path}: Python ${r.venv.version} -> ${i.linkTarget} (Python ${i.version}, ${howFound(r)})`,
    );
    for (const s of i.skipped) lines.push(paint.dim(`  passed over ${s.path} (${s.why})`));
    for (const l of r.links) {
      if (l.action === 'keep') continue;
      const verb =
        l.action === 'create'
          ? l.copy
            ? 'new copy of'
            : 'new link ->'
          : l.copy
            ? 'fresh copy of'
            : '->';
      const from = l.old === null ? '' : `${l.old} `;
      lines.push(`  ${l.path}: ${from}${verb} ${l.new ?? ''}`);
    }
    for (const c of r.cfg) lines.push(`  pyvenv.cfg ${c.key}: ${c.old} -> ${c.new}`);
    const kept = r.links.filter((l) => l.action === 'keep' && l.form === 'alias-link');
    if (kept.length > 0) {
      lines.push(
        paint.dim(`  kept aliases: ${kept.map((l) => `${l.path} -> ${l.old ?? ''}`).join(', ')}`),
      );
    }
  }
  const c = r.check;
  if (c !== null) {
    if (c.ok) {
      lines.push(
        `  ${paint.green('check ok:')} bin/python runs Python ${c.version ?? '?'}, sys.prefix ${c.prefix ?? '?'}, sys.base_prefix ${c.basePrefix ?? '?'}`,
      );
    } else {
      lines.push(`  ${paint.red('check FAILED:')} ${c.problems.join('; ')}`);
    }
  }
  return lines;
}
