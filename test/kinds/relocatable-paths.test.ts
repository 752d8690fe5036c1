import test from 'ava';
import { makePthRelative } from '../../src/kinds/relocatable-pth.js';
import { isMarkedRelocatable, markRelocatable } from '../../src/kinds/relocatable-pyvenv-cfg.js';
import { makeRecordRelative, recordBase } from '../../src/kinds/relocatable-record.js';
import { recordHash, recordUpdateOf } from '../../src/kinds/rewrite-record.js';
import { relativeFrom, underPlace } from '../../src/kinds/venv-relative.js';

const PLACES = ['/build/app/venv', '/srv/old/venv'];
const SITE = 'lib/python3.12/site-packages';

test('a path under one of the places is venv-relative; one elsewhere or leaving the venv is not', (t) => {
  t.is(underPlace('/build/app/venv/src/pkg', PLACES), 'src/pkg');
  t.is(underPlace('/srv/old/venv', PLACES), '');
  t.is(underPlace('/srv/old/venv/./a//b/', PLACES), 'a/b');
  t.is(underPlace('/build/app/venv2/x', PLACES), undefined);
  t.is(underPlace('/build/app/venv/../src', PLACES), undefined);
  t.is(underPlace('/elsewhere/x', PLACES), undefined);
  t.is(relativeFrom(SITE, 'bin/tool'), '../../../bin/tool');
  t.is(relativeFrom(SITE, `${SITE}/pkg`), 'pkg');
  t.is(relativeFrom(SITE, SITE), '.');
});

test('.pth path lines inside the venv become relative to site-packages; others, comments and code stay', (t) => {
  const src = [
    '# a comment naming /build/app/venv/src',
    '/build/app/venv/src/mypkg',
    '/srv/old/venv/lib/python3.12/site-packages/extra  ',
    '/build/app/src',
    'import sys; sys.path.append("/elsewhere")',
    'relative/already',
    '',
  ].join('\r\n');
  const r = makePthRelative(Buffer.from(src), { places: PLACES, dir: SITE });
  t.deepEqual(r.left, []);
  t.is(
    r.bytes?.toString(),
    [
      '# a comment naming /build/app/venv/src',
      '../../../src/mypkg',
      'extra  ',
      '/build/app/src',
      'import sys; sys.path.append("/elsewhere")',
      'relative/already',
      '',
    ].join('\r\n'),
  );
  t.deepEqual(makePthRelative(r.bytes as Buffer, { places: PLACES, dir: SITE }), { left: [] });
  const code = makePthRelative(Buffer.from('import x; x.add("/build/app/venv/y")\n'), {
    places: PLACES,
    dir: SITE,
  });
  t.is(code.bytes, undefined);
  t.deepEqual(code.left, ['line 1 is code that names the venv']);
});

test('an egg-link naming a project inside the venv points there relatively; its "." line stays', (t) => {
  const r = makePthRelative(Buffer.from('/build/app/venv/src/mypkg\n.'), {
    places: PLACES,
    dir: SITE,
  });
  t.is(r.bytes?.toString(), '../../../src/mypkg\n.');
});

test('RECORD: absolute rows inside the venv become relative to the .dist-info folder, rewritten files get new hashes, the rest stays', (t) => {
  const rel = `${SITE}/demo-1.0.dist-info/RECORD`;
  t.is(recordBase(rel), SITE);
  const tool = Buffer.from('#!/bin/sh\nnew\n');
  const src = [
    'demo/__init__.py,sha256=AAA,10',
    '/build/app/venv/bin/demo,sha256=BBB,20',
    '../../../bin/tool,sha256=CCC,30',
    '/etc/demo.conf,sha256=DDD,40',
    '"/build/app/venv/share/a,b.txt",sha256=EEE,50',
    'demo-1.0.dist-info/RECORD,,',
    '',
  ].join('\r\n');
  const out = makeRecordRelative(Buffer.from(src), {
    places: PLACES,
    recordRel: rel,
    updateFor: (p) => (p === 'bin/tool' ? recordUpdateOf(tool) : undefined),
  });
  t.is(
    out?.toString(),
    [
      'demo/__init__.py,sha256=AAA,10',
      '../../../bin/demo,sha256=BBB,20',
      `../../../bin/tool,${recordHash(tool)},${tool.length}`,
      '/etc/demo.conf,sha256=DDD,40',
      '"../../../share/a,b.txt",sha256=EEE,50',
      'demo-1.0.dist-info/RECORD,,',
      '',
    ].join('\r\n'),
  );
  t.is(
    makeRecordRelative(out as Buffer, {
      places: PLACES,
      recordRel: rel,
      updateFor: () => undefined,
    }),
    undefined,
  );
});

test('pyvenv.cfg gains relocatable = true in its own line endings, once', (t) => {
  const lf = Buffer.from('home = /usr/bin\nversion = 3.12.1\n');
  t.false(isMarkedRelocatable(lf));
  const marked = markRelocatable(lf) as Buffer;
  t.is(marked.toString(), 'home = /usr/bin\nversion = 3.12.1\nrelocatable = true\n');
  t.true(isMarkedRelocatable(marked));
  t.is(markRelocatable(marked), undefined);
  t.is(
    markRelocatable(Buffer.from('home = /usr/bin\r\nRelocatable = false\r\nx = 1'))?.toString(),
    'home = /usr/bin\r\nrelocatable = true\r\nx = 1',
  );
  t.is(
    markRelocatable(Buffer.from('home = /usr/bin'))?.toString(),
    'home = /usr/bin\nrelocatable = true\n',
  );
  t.true(isMarkedRelocatable(Buffer.from('relocatable=True\n')));
});
