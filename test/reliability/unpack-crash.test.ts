import test from 'ava';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { MINIMAL } from '../fixtures/venvs/recipes.js';
import { copyVenv } from '../helpers/build-venv.js';
import { cli } from '../helpers/cli.js';
import { treeDiff, treeState } from '../helpers/reliability-tree.js';
import { reliabilityPython, seeded, startCli } from '../helpers/reliability-venv.js';
import { runOk } from '../helpers/run.js';
import { freshDir } from '../helpers/scratch.js';

// unpack is all or nothing (issue "pack and unpack"): a SIGKILL at any moment leaves DEST
// absent or complete, never half there; what is left is only a temporary folder beside it, which
// the next unpack to DEST removes and reports, and that next unpack succeeds. Kills land at
// seeded random moments of runs on an archive venv-tools packed (relocated in the stream) and on
// a plain tar.gz (extracted, then relocated by a relocation run of its own).
//
// Serial: the kills are timed, and another test's load would only shift where they land.

const SEED = Number(process.env.CRASH_SEED ?? 20240611);
const KILLS = Number(process.env.UNPACK_KILLS ?? 24);

function write(p: string, text: string, mode = 0o644): void {
  fs.mkdirSync(path.dirname(p), { recursive: true });
  fs.writeFileSync(p, text, { mode });
}

test.serial(
  `a SIGKILL at ${KILLS} random moments of unpack leaves DEST absent or complete, and the next unpack succeeds`,
  async (t) => {
    const python = reliabilityPython();
    const top = freshDir('unpack-crash');
    const v = await copyVenv(MINIMAL, python, { appDir: path.join(top, 'build', 'app') });
    // Enough files naming the old place that a run lasts long enough to be killed inside.
    const site = path.join(v.dir, 'lib', `python${v.version}`, 'site-packages');
    for (let i = 0; i < 2500; i++) {
      write(
        path.join(v.dir, 'share', `d${i % 50}`, `conf-${i}.txt`),
        `root = ${v.builtAt}\nlog = ${v.builtAt}/var/${i}\n`,
      );
    }
    for (let i = 0; i < 300; i++)
      write(
        path.join(site, 'gen', `mod_${i}.py`),
        `HERE = ${JSON.stringify(`${v.builtAt}/lib/${i}`)}\n`,
      );
    const ours = path.join(top, 'app.tar.zst');
    const packed = cli(['pack', v.dir, '-o', ours]);
    t.is(packed.status, 0, packed.stderr);
    const plain = path.join(top, 'plain.tar.gz');
    await runOk('tar', ['-czf', plain, '-C', v.dir, '.']);

    const dest = path.join(top, 'srv', 'app', 'release', 'venv');
    const parent = path.dirname(dest);
    const reference = new Map<string, ReturnType<typeof treeState>>();
    const duration = new Map<string, number>();
    for (const archive of [ours, plain]) {
      const t0 = Date.now();
      const r = cli(['unpack', archive, dest]);
      duration.set(archive, Date.now() - t0);
      t.is(r.status, 0, r.stderr);
      reference.set(archive, treeState(dest));
      fs.rmSync(dest, { recursive: true });
    }
    t.log(
      `uninterrupted: ${[...duration].map(([a, ms]) => `${path.basename(a)} ${ms} ms`).join(', ')}`,
    );

    const rand = seeded(SEED);
    const seen = { absent: 0, complete: 0, leftovers: 0 };
    for (let k = 0; k < KILLS; k++) {
      const archive = k % 3 === 2 ? plain : ours;
      const want = reference.get(archive) as ReturnType<typeof treeState>;
      const delay = Math.floor((0.05 + 0.95 * rand()) * (duration.get(archive) as number));
      const run = startCli(['unpack', archive, dest]);
      await new Promise((r) => setTimeout(r, delay));
      run.child.kill('SIGKILL');
      const ended = await run.ended;
      const what = `kill ${k} after ${delay} ms (${path.basename(archive)}, ${ended.signal ?? `exit ${ended.status}`})`;
      let complete = false;
      if (fs.existsSync(dest)) {
        t.deepEqual(
          treeDiff(want, treeState(dest), { mtimes: true }),
          [],
          `${what}: DEST is there, and whole`,
        );
        complete = true;
        seen.complete++;
      } else seen.absent++;
      const left = fs.readdirSync(parent).filter((n) => n !== 'venv');
      if (left.length > 0) seen.leftovers++;
      t.true(
        left.every((n) => n.startsWith('.venv.venv-tools-')),
        `${what}: only temporary folders beside DEST: ${left.join(', ')}`,
      );
      // The next unpack finishes the job (replacing a complete DEST takes --force).
      const again = cli(['unpack', archive, dest, ...(complete ? ['--force'] : [])]);
      t.is(again.status, 0, `${what}: the next unpack: ${again.stderr}`);
      if (left.length > 0)
        t.regex(again.stdout, /removed the leftover of an interrupted unpack/, what);
      t.deepEqual(
        treeDiff(want, treeState(dest), { mtimes: true }),
        [],
        `${what}: after the next unpack`,
      );
      t.deepEqual(fs.readdirSync(parent), ['venv'], `${what}: nothing beside DEST`);
      fs.rmSync(dest, { recursive: true });
    }
    t.log(
      `DEST absent ${seen.absent} times, complete ${seen.complete} times; leftovers removed ${seen.leftovers} times`,
    );
    t.true(seen.absent > 0 && seen.leftovers > 0, 'some kills landed inside the run');
  },
);
