/** What a file in a venv is, as far as relocation cares. */
export type FileKind =
  | 'shebang'
  | 'activate'
  | 'pyvenv-cfg'
  | 'pth'
  | 'egg-link'
  | 'finder'
  | 'direct-url'
  | 'record'
  | 'pyc'
  | 'pyc-removed'
  | 'symlink'
  | 'text'
  | 'binary';

/**
 * The one-letter tags of `--verbose`. S, B, P, F and A are virtualenv-tools' own; the rest are
 * ours (docs/REWRITING.md, "What gets rewritten").
 */
export const KIND_LETTER: Readonly<Record<FileKind, string>> = {
  shebang: 'S',
  pyc: 'B',
  pth: 'P',
  finder: 'F',
  activate: 'A',
  'pyvenv-cfg': 'C',
  record: 'R',
  'egg-link': 'E',
  'direct-url': 'J',
  symlink: 'L',
  text: 'T',
  'pyc-removed': 'X',
  binary: '?',
};

/** Every kind, in report order. */
export const ALL_KINDS: readonly FileKind[] = [
  'shebang',
  'activate',
  'pyvenv-cfg',
  'pth',
  'egg-link',
  'finder',
  'direct-url',
  'record',
  'pyc',
  'pyc-removed',
  'symlink',
  'text',
  'binary',
];
