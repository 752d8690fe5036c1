import { filetypeinfo } from 'magic-bytes.js';
import type { FileKind } from '../kinds/file-kind.js';
import type { ByteString } from '../core/path-boundary.js';
import { activateFlavor } from '../kinds/rewrite-activate.js';
import type { Layout } from './detect-layout.js';

/** How a file's content is rewritten; several kinds share a syntax. */
export type Syntax =
  | 'shebang'
  | 'activate'
  | 'python'
  | 'pyvenv-cfg'
  | 'pth'
  | 'json'
  | 'record'
  | 'pyc'
  | 'text'
  | 'binary';

export interface Classification {
  readonly kind: FileKind;
  readonly syntax: Syntax;
}

/** Formats magic-bytes.js recognises that are text all the same. */
const TEXT_MIMES = new Set(['application/json', 'application/xml', 'image/svg+xml']);

/** True for content that must never be edited as text (a NUL in the head, or a binary magic). */
export function looksBinary(bytes: Buffer): boolean {
  const head = bytes.subarray(0, 8000);
  if (head.indexOf(0) !== -1) return true;
  const guesses = filetypeinfo(head.subarray(0, 64));
  return guesses.some(
    (g) => g.mime !== undefined && !g.mime.startsWith('text/') && !TEXT_MIMES.has(g.mime),
  );
}

/** A short name for a binary's format, for the report (`ELF`, `zip`, …). */
export function binaryFormat(bytes: Buffer): string {
  const g = filetypeinfo(bytes.subarray(0, 64))[0];
  return g?.typename ?? 'data';
}

function looksJson(bytes: Buffer): boolean {
  for (const b of bytes.subarray(0, 64)) {
    if (b === 0x20 || b === 0x0a || b === 0x0d || b === 0x09) continue;
    return b === 0x7b /* { */ || b === 0x5b; /* [ */
  }
  return false;
}

/** Classify a file that holds a path, from its place in the venv and its first bytes. */
export function classifyFile(rel: ByteString, bytes: Buffer, layout: Layout): Classification {
  const slash = rel.lastIndexOf('/');
  const dir = slash === -1 ? '' : rel.slice(0, slash);
  const name = rel.slice(slash + 1);
  if (rel === 'pyvenv.cfg') return { kind: 'pyvenv-cfg', syntax: 'pyvenv-cfg' };
  if (name.endsWith('.pyc') || name.endsWith('.pyo')) return { kind: 'pyc', syntax: 'pyc' };
  if (dir === layout.binDir) {
    if (activateFlavor(name) !== undefined) return { kind: 'activate', syntax: 'activate' };
    if (name === 'activate_this.py' || name === 'activate.xsh') {
      return { kind: 'activate', syntax: 'python' };
    }
    if (bytes[0] === 0x23 && bytes[1] === 0x21 && !looksBinary(bytes)) {
      return { kind: 'shebang', syntax: 'shebang' };
    }
  }
  if (looksBinary(bytes)) return { kind: 'binary', syntax: 'binary' };
  if (name.endsWith('.pth')) return { kind: 'pth', syntax: 'pth' };
  if (name.endsWith('.egg-link')) return { kind: 'egg-link', syntax: 'pth' };
  if (/^__editable__.*finder\.py$/.test(name)) return { kind: 'finder', syntax: 'python' };
  if (name === 'direct_url.json' && dir.endsWith('.dist-info')) {
    return { kind: 'direct-url', syntax: 'json' };
  }
  if (name === 'RECORD' && dir.endsWith('.dist-info')) return { kind: 'record', syntax: 'record' };
  if (name.endsWith('.py') || name.endsWith('.pyw')) return { kind: 'text', syntax: 'python' };
  if (name.endsWith('.json') || name.endsWith('.ipynb') || looksJson(bytes)) {
    return { kind: 'text', syntax: 'json' };
  }
  return { kind: 'text', syntax: 'text' };
}
