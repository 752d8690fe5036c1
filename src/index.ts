/**
 * venv-tools as a library: the commands a Node program calls, their options and the reports
 * they return, and the error they throw for problems a user can fix. Nothing here prints or
 * exits; the `venv-tools` command (bin/venv-tools.ts) is one user of it.
 *
 *     import { relocate, VenvToolsError } from 'venv-tools';
 *     const { report } = relocate({ path: '/srv/app/3f9c2e1/venv', to: '/srv/app/3f9c2e1/venv' });
 *     console.log(report.status, report.old, '->', report.new, report.changes.length, 'files');
 *
 * docs/JSON.md describes every field of the reports (they are what `--json` prints).
 */
export { relocate, type RelocateOptions } from './commands/relocate-venv.js';
export { scanVenv as scan, type ScanOptions } from './commands/scan-venv.js';
export { verifyVenv as verify, type VerifyOptions } from './commands/verify-venv.js';
export { reinitialize, type ReinitOptions } from './commands/reinitialize.js';
export { pack, type PackOptions } from './commands/pack.js';
export { unpack, type UnpackOptions } from './commands/unpack.js';
export { inspectArchive } from './commands/inspect-archive.js';
export type {
  ArchiveLayout,
  ArchiveReport,
  PackReport,
  UnpackedVenv,
  UnpackReport,
} from './report/archive-report.js';
export type { ArchiveManifest, ArchiveTrailer } from './archive/manifest.js';
export {
  makeRelocatable,
  type MakeRelocatableOptions,
  type MakeRelocatableResult,
} from './commands/make-relocatable.js';
export type {
  LeftFile,
  MakeRelocatableReport,
  RelocatableChange,
} from './relocate/make-relocatable-report.js';
export type {
  Change,
  DroppedPycReport,
  MappingReport,
  RelocationReport,
  RelocationResult,
  Timings,
} from './relocate/relocation-report.js';
export type { ScanReport, ScanWarning } from './report/scan-report.js';
export type { LocationReport, ScannedFile, ScanState } from './scan/locations.js';
export type { VerifyReport } from './verify/verify-report.js';
export type { ReinitInterpreter, ReinitReport } from './reinit/reinit-report.js';
export type { Warning } from './core/warning.js';
export type { FileKind } from './kinds/file-kind.js';
export type { Layout } from './scan/detect-layout.js';
export { VenvToolsError, type ErrorCode } from './core/errors.js';
