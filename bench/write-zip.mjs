// A minimal zip writer for the benchmark's wheels: stored entries (no compression), written as
// they come so a 10 MB wheel never sits in memory twice. pip only needs what PKWARE's APPNOTE
// calls the local headers, the central directory and its end record; no zip64 (our wheels stay far
// below 4 GiB and 65,535 entries, which is checked).
import { closeSync, openSync, writeSync } from 'node:fs';
import { crc32 } from 'node:zlib';

// 1980-01-01 00:00:00 in DOS format: the earliest time a zip can hold, as reproducible builds use.
const DOS_TIME = 0;
const DOS_DATE = (0 << 9) | (1 << 5) | 1;
// Bit 11: names are UTF-8.
const FLAG_UTF8 = 0x0800;

function writeAll(fd, buf) {
  let off = 0;
  while (off < buf.length) off += writeSync(fd, buf, off, buf.length - off);
}

/**
 * Write a zip at `path` holding `entries` ({ name, data: Buffer, mode? }) in order.
 * `mode` is the Unix permission (0o644 by default, 0o755 for scripts pip should keep executable).
 */
export function writeZip(path, entries) {
  if (entries.length > 0xffff) throw new Error(`${path}: too many entries for a zip without zip64`);
  const fd = openSync(path, 'w');
  const central = [];
  let offset = 0;
  try {
    for (const { name, data, mode = 0o644 } of entries) {
      const nameBuf = Buffer.from(name, 'utf8');
      const crc = crc32(data);
      const local = Buffer.alloc(30);
      local.writeUInt32LE(0x04034b50, 0);
      local.writeUInt16LE(20, 4);
      local.writeUInt16LE(FLAG_UTF8, 6);
      local.writeUInt16LE(0, 8);
      local.writeUInt16LE(DOS_TIME, 10);
      local.writeUInt16LE(DOS_DATE, 12);
      local.writeUInt32LE(crc, 14);
      local.writeUInt32LE(data.length, 18);
      local.writeUInt32LE(data.length, 22);
      local.writeUInt16LE(nameBuf.length, 26);
      local.writeUInt16LE(0, 28);
      writeAll(fd, local);
      writeAll(fd, nameBuf);
      writeAll(fd, data);

      const cd = Buffer.alloc(46);
      cd.writeUInt32LE(0x02014b50, 0);
      cd.writeUInt16LE((3 << 8) | 20, 4); // made by Unix, so the external attributes carry a mode
      cd.writeUInt16LE(20, 6);
      cd.writeUInt16LE(FLAG_UTF8, 8);
      cd.writeUInt16LE(0, 10);
      cd.writeUInt16LE(DOS_TIME, 12);
      cd.writeUInt16LE(DOS_DATE, 14);
      cd.writeUInt32LE(crc, 16);
      cd.writeUInt32LE(data.length, 20);
      cd.writeUInt32LE(data.length, 24);
      cd.writeUInt16LE(nameBuf.length, 28);
      cd.writeUInt32LE(((0o100000 | mode) << 16) >>> 0, 38);
      cd.writeUInt32LE(offset, 42);
      central.push(cd, nameBuf);
      offset += local.length + nameBuf.length + data.length;
      if (offset > 0xffffffff) throw new Error(`${path}: over 4 GiB, needs zip64`);
    }
    const cdStart = offset;
    let cdSize = 0;
    for (const b of central) {
      writeAll(fd, b);
      cdSize += b.length;
    }
    const end = Buffer.alloc(22);
    end.writeUInt32LE(0x06054b50, 0);
    end.writeUInt16LE(entries.length, 8);
    end.writeUInt16LE(entries.length, 10);
    end.writeUInt32LE(cdSize, 12);
    end.writeUInt32LE(cdStart, 16);
    writeAll(fd, end);
  } finally {
    closeSync(fd);
  }
}
