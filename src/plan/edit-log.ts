import { ALL_KINDS, type FileKind } from '../kinds/file-kind.js';
import type { ByteString } from '../core/path-boundary.js';

/** One edit as a report lists it. */
export interface EditSummary {
  readonly rel: ByteString;
  readonly kind: FileKind;
  readonly op: 'write' | 'symlink' | 'remove';
}

const OPS: ReadonlyArray<EditSummary['op']> = ['write', 'symlink', 'remove'];
const KIND_CODE = new Map(ALL_KINDS.map((k, i) => [k, i]));
const OP_CODE = new Map(OPS.map((o, i) => [o, i]));

/**
 * The edits of a run, for its report, packed as bytes (kind, op, path length, path) outside the
 * JavaScript heap rather than held as an object and a string each. Held as objects, the 23,000
 * edits of a 100,000-file venv were most of what the main thread's young generation kept alive,
 * which made V8 grow it from 8 to 32 MB: 10-35 MB more at 4x the venv than at 1x (measured with
 * `--trace-gc-nvp` and GNU time, docs/PERFORMANCE.md). The worker sends its edits in this form
 * too, with each batch of journal frames.
 */
export class EditLog {
  private buf = Buffer.allocUnsafe(1 << 12);
  private used = 0;

  /** True when it holds no edit (none logged since the last `take`). */
  get empty(): boolean {
    return this.used === 0;
  }

  add(rel: ByteString, kind: FileKind, op: EditSummary['op']): void {
    this.room(6 + rel.length);
    const b = this.buf;
    b[this.used] = KIND_CODE.get(kind) as number;
    b[this.used + 1] = OP_CODE.get(op) as number;
    b.writeUInt32LE(rel.length, this.used + 2);
    this.used += 6 + b.write(rel, this.used + 6, 'latin1');
  }

  /** Add the edits another log packed (its `take`). */
  addPacked(packed: Uint8Array): void {
    this.room(packed.length);
    this.buf.set(packed, this.used);
    this.used += packed.length;
  }

  /** The edits logged since the last take, packed, as a copy of their own; the log starts over. */
  take(): Uint8Array {
    const out = new Uint8Array(this.used);
    out.set(this.buf.subarray(0, this.used));
    this.used = 0;
    return out;
  }

  /** Every edit logged, as objects, in the order logged. */
  entries(): EditSummary[] {
    const out: EditSummary[] = [];
    const b = this.buf;
    for (let p = 0; p < this.used;) {
      const kind = ALL_KINDS[b[p] as number];
      const op = OPS[b[p + 1] as number];
      const n = b.readUInt32LE(p + 2);
      if (kind === undefined || op === undefined || p + 6 + n > this.used) {
        throw new Error(`corrupt edit log at byte ${p}`);
      }
      out.push({ rel: b.toString('latin1', p + 6, p + 6 + n), kind, op });
      p += 6 + n;
    }
    return out;
  }

  private room(n: number): void {
    if (this.used + n <= this.buf.length) return;
    const more = Buffer.allocUnsafe(Math.max(2 * this.buf.length, this.used + n));
    this.buf.copy(more, 0, 0, this.used);
    this.buf = more;
  }
}
