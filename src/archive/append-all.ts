import { fs } from '../core/fs.js';

/**
 * Write all of `data` at the file's current position: a write may take only part of it. (The
 * journal's writeAll writes at a given offset; an archive and an extracted file are written in
 * order.)
 */
export function appendAll(fd: number, data: Buffer): void {
  let off = 0;
  while (off < data.length) off += fs.writeSync(fd, data, off, data.length - off);
}
