/**
 * Read the files the old-location evidence comes from (bin/* regular files and pyvenv.cfg) and
 * gather it. The same reading as relocate.ts's own, shared so that scan and verify see exactly
 * the evidence a relocation would act on; relocate.ts can adopt it.
 */
import { fs } from '../fs.js';
import { errnoOf, VenvToolsError } from '../errors.js';
import { bytesToUtf8, fromBytes, toBytes, type ByteString } from '../path-boundary.js';
import { parsePyvenvCfg, type Layout } from './detect-layout.js';
import { gatherEvidence, type Evidence } from './find-old-prefix.js';

// Scripts pip writes are a few KB; a multi-megabyte file in bin/ is a binary, not a script.
const MAX_SCRIPT_SIZE = 4 << 20;

/** Every piece of evidence for the venv's recorded location (see gatherEvidence). */
export function readEvidence(root: ByteString, layout: Layout): Evidence[] {
  const bin: Array<{ name: ByteString; bytes: Buffer }> = [];
  const binAbs = `${root}/${layout.binDir}`;
  const names = fs.readdirSync(toBytes(binAbs), { encoding: 'buffer' }) as unknown as Buffer[];
  for (const nameBuf of names) {
    const name = fromBytes(nameBuf);
    const p = toBytes(`${binAbs}/${name}`);
    let st;
    try {
      st = fs.lstatSync(p);
    } catch {
      continue;
    }
    if (!st.isFile() || st.size > MAX_SCRIPT_SIZE) continue;
    try {
      bin.push({ name, bytes: fs.readFileSync(p) });
    } catch (err) {
      const shown = bytesToUtf8(`${binAbs}/${name}`);
      throw new VenvToolsError(
        'UNREADABLE',
        `cannot read ${shown}: ${errnoOf(err) ?? ''}; fix its permissions and run again`,
        shown,
      );
    }
  }
  let cfg: Buffer | undefined;
  let home: ByteString | undefined;
  if (layout.hasPyvenvCfg) {
    cfg = fs.readFileSync(toBytes(`${root}/pyvenv.cfg`));
    home = parsePyvenvCfg(fromBytes(cfg)).get('home');
  }
  return gatherEvidence({ bin, pyvenvCfg: cfg, home });
}
