/**
 * The only module that touches the disk. Every other module calls `fs.X` through this object,
 * so tests can swap a method to inject ENOSPC, EIO or EACCES (rimraf's pattern).
 * `VENV_TOOLS_FAULTS` (see installFaultsFromEnv) does the same for a spawned CLI.
 */
import * as nodeFs from 'node:fs';

export const fs = {
  openSync: nodeFs.openSync,
  closeSync: nodeFs.closeSync,
  readSync: nodeFs.readSync,
  writeSync: nodeFs.writeSync,
  fsyncSync: nodeFs.fsyncSync,
  ftruncateSync: nodeFs.ftruncateSync,
  futimesSync: nodeFs.futimesSync,
  fstatSync: nodeFs.fstatSync,
  lstatSync: nodeFs.lstatSync,
  statSync: nodeFs.statSync,
  readdirSync: nodeFs.readdirSync,
  readlinkSync: nodeFs.readlinkSync,
  readFileSync: nodeFs.readFileSync,
  writeFileSync: nodeFs.writeFileSync,
  renameSync: nodeFs.renameSync,
  linkSync: nodeFs.linkSync,
  symlinkSync: nodeFs.symlinkSync,
  unlinkSync: nodeFs.unlinkSync,
  mkdirSync: nodeFs.mkdirSync,
  rmSync: nodeFs.rmSync,
  existsSync: nodeFs.existsSync,
  realpathSync: nodeFs.realpathSync,
  lutimesSync: nodeFs.lutimesSync,
  chmodSync: nodeFs.chmodSync,
  fchmodSync: nodeFs.fchmodSync,
  chownSync: nodeFs.chownSync,
  fchownSync: nodeFs.fchownSync,
  copyFileSync: nodeFs.copyFileSync,
  accessSync: nodeFs.accessSync,
  constants: nodeFs.constants,
};

export type Fs = typeof fs;
