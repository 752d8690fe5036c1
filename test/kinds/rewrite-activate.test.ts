/**
 * Hand-written snippets for every activate flavor: exact output, the value our own lexer
 * decodes from it, and where the shell is installed, the value the real shell sets.
 */
import test, { type ExecutionContext } from 'ava';
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';

import { RewriteError } from '../../src/core/errors.js';
import { utf8ToBytes, type ByteString, type Mapping } from '../../src/core/path-boundary.js';
import {
  activateFlavor,
  rewriteActivate,
  type ActivateFlavor,
} from '../../src/kinds/rewrite-activate.js';
import { activateEvidence } from '../../src/kinds/activate-evidence.js';
import { findTool, lacks, missingTool } from '../helpers/require-tool.js';

const OLD = '/opt/app';
/** Every char that is special somewhere: space, both quotes, `$`, backtick, backslash. */
const TRICKY = '/srv/a b/it\'s "q" $x `t` back\\slash';
const UNICODE = utf8ToBytes('/srv/ünïcødé/☃ snow');

function rw(
  src: ByteString,
  flavor: ActivateFlavor,
  to: ByteString = TRICKY,
  from: ByteString = OLD,
): string | undefined {
  const mappings: Mapping[] = [{ from, to }];
  return rewriteActivate(Buffer.from(src, 'latin1'), { mappings, flavor })?.toString('latin1');
}

function evidence(src: ByteString, flavor: ActivateFlavor): ByteString[] {
  return activateEvidence(Buffer.from(src, 'latin1'), flavor);
}

const SHELL_ARGS: Readonly<
  Record<'bash' | 'zsh' | 'dash' | 'fish' | 'tcsh', (file: string) => string[]>
> = {
  bash: (f) => ['--noprofile', '--norc', '-c', '. "$1"; printf %s "$VIRTUAL_ENV"', 'bash', f],
  zsh: (f) => ['-f', '-c', '. "$1"; printf %s "$VIRTUAL_ENV"', 'zsh', f],
  dash: (f) => ['-c', '. "$1"; printf %s "$VIRTUAL_ENV"', 'dash', f],
  fish: (f) => ['--no-config', '-c', 'source $argv[1]; printf %s "$VIRTUAL_ENV"', f],
  tcsh: (f) => ['-f', '-c', 'source $argv[1]; printf %s "$VIRTUAL_ENV:q"', f],
};

/**
 * Sources `script` in each shell of the list and checks VIRTUAL_ENV is exactly `want`. Logs
 * which shells ran; a shell that is not installed is named in the log as skipped, and fails the
 * test under VENV_TOOLS_TEST_STRICT=1.
 */
function checkInShells(
  t: ExecutionContext,
  names: readonly (keyof typeof SHELL_ARGS)[],
  script: ByteString,
  want: ByteString,
): void {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'venv-tools-rw-activate-'));
  try {
    const file = path.join(dir, 'activate');
    fs.writeFileSync(file, Buffer.from(script, 'latin1'));
    for (const name of names) {
      const exe = findTool(name);
      if (lacks(t, missingTool(name), `sourcing it in ${name}`) || exe === undefined) continue;
      const r = spawnSync(exe, SHELL_ARGS[name](file), {
        env: { PATH: '/usr/bin:/bin', HOME: dir, LC_ALL: 'C.UTF-8' },
        encoding: 'buffer',
      });
      t.is(r.stdout.toString('latin1'), want, `${name}: ${r.stderr.toString()}`);
      t.log(`checked in ${name}`);
    }
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

const SH_SHELLS = ['bash', 'zsh', 'dash'] as const;

// ---------------------------------------------------------------- file names

test('names the flavor of every activate script and of no other file', (t) => {
  const table: [string, ActivateFlavor | undefined][] = [
    ['activate', 'sh'],
    ['bin/activate', 'sh'],
    ['activate.csh', 'csh'],
    ['activate.fish', 'fish'],
    ['activate.nu', 'nu'],
    ['Activate.ps1', 'ps1'],
    ['activate.ps1', 'ps1'],
    ['activate.bat', 'bat'],
    ['ACTIVATE.BAT', 'bat'],
    ['activate_this.py', undefined],
    ['activate.xsh', undefined],
    ['deactivate.bat', undefined],
    ['activate.sh', undefined],
    ['Activate', undefined],
  ];
  for (const [name, flavor] of table) t.is(activateFlavor(name), flavor, name);
});

// ---------------------------------------------------------------- sh

test('sh: escapes every special char of the new path inside "…"', (t) => {
  const out = rw('VIRTUAL_ENV="/opt/app"\nexport VIRTUAL_ENV\n', 'sh');
  t.is(
    out,
    'VIRTUAL_ENV="/srv/a b/it\'s \\"q\\" \\$x \\`t\\` back\\\\slash"\nexport VIRTUAL_ENV\n',
  );
  t.deepEqual(evidence(out ?? '', 'sh'), [TRICKY]);
  checkInShells(t, SH_SHELLS, out ?? '', TRICKY);
});

test("sh: closes and reopens '…' around a quote in the new path", (t) => {
  const out = rw("VIRTUAL_ENV='/opt/app'\n", 'sh');
  t.is(out, "VIRTUAL_ENV='/srv/a b/it'\\''s \"q\" $x `t` back\\slash'\n");
  checkInShells(t, SH_SHELLS, out ?? '', TRICKY);
});

test('sh: backslash-escapes an unquoted path', (t) => {
  const out = rw('VIRTUAL_ENV=/opt/app\n', 'sh');
  t.is(out, 'VIRTUAL_ENV=/srv/a\\ b/it\\\'s\\ \\"q\\"\\ \\$x\\ \\`t\\`\\ back\\\\slash\n');
  checkInShells(t, SH_SHELLS, out ?? '', TRICKY);
});

test('sh: finds an old path spread over several quoted parts and ends in the last quoting', (t) => {
  const src = 'VIRTUAL_ENV=\'/opt/a\'"pp"\n';
  t.deepEqual(evidence(src, 'sh'), [OLD]);
  const out = rw(src, 'sh');
  t.is(out, "VIRTUAL_ENV='/srv/a b/it'\\''s \"q\" $x `t` back\\slash'\"\"\n");
  checkInShells(t, SH_SHELLS, out ?? '', TRICKY);
});

test('sh: rewrites OLD/sub but not OLD-2, OLD2, /x/OLD or a look-alike', (t) => {
  const src = [
    'A="/opt/app-2"',
    'B="/opt/app/sub"',
    'C=/opt/app2',
    'D="/x/opt/app"',
    'E="file:///opt/app"',
    "F='/opt/app'/lib",
    '',
  ].join('\n');
  const out = rw(src, 'sh', '/new');
  t.is(
    out,
    [
      'A="/opt/app-2"',
      'B="/new/sub"',
      'C=/opt/app2',
      'D="/x/opt/app"',
      'E="file:///new"',
      "F='/new'/lib",
      '',
    ].join('\n'),
  );
  t.is(rw('X="/opt/app2" Y=/opt/apps\n', 'sh', '/new'), undefined);
});

test('sh: keeps unicode and non-UTF-8 bytes intact', (t) => {
  const src = '# caf\xe9 \xff\nVIRTUAL_ENV="/opt/app"\n';
  const out = rw(src, 'sh', UNICODE);
  t.is(out, `# caf\xe9 \xff\nVIRTUAL_ENV="${UNICODE}"\n`);
  checkInShells(t, ['bash'], out ?? '', UNICODE);
});

test("sh: rewrites both assignments of CPython 3.13's cygpath template", (t) => {
  const src = [
    'case "$(uname)" in',
    '    CYGWIN*|MSYS*)',
    '        VIRTUAL_ENV=$(cygpath "/opt/app")',
    '        export VIRTUAL_ENV',
    '        ;;',
    '    *)',
    '        export VIRTUAL_ENV="/opt/app"',
    '        ;;',
    'esac',
    '',
  ].join('\n');
  t.deepEqual(evidence(src, 'sh'), [OLD]);
  const out = rw(src, 'sh') ?? '';
  t.true(
    out.includes('VIRTUAL_ENV=$(cygpath "/srv/a b/it\'s \\"q\\" \\$x \\`t\\` back\\\\slash")'),
  );
  t.true(out.includes('export VIRTUAL_ENV="/srv/a b/it\'s \\"q\\" \\$x \\`t\\` back\\\\slash"'));
  t.deepEqual(evidence(out, 'sh'), [TRICKY]);
  checkInShells(t, SH_SHELLS, out, TRICKY);
});

test('sh: replaces paths in comments verbatim', (t) => {
  t.is(
    rw('# built in /opt/app, see /opt/app/bin\n', 'sh'),
    `# built in ${TRICKY}, see ${TRICKY}/bin\n`,
  );
});

test('sh: writes into the word of ${X:-…}, unquoted and inside "…"', (t) => {
  const src = 'unset Q\nVIRTUAL_ENV=${Q:-/opt/app}\nW="${Q:-/opt/app}"\n';
  const out = rw(src, 'sh', '/a b}c$d"e\'f');
  t.is(out, 'unset Q\nVIRTUAL_ENV=${Q:-/a\\ b\\}c\\$d\\"e\\\'f}\nW="${Q:-/a b\\}c\\$d\\"e\'f}"\n');
  checkInShells(t, SH_SHELLS, out ?? '', '/a b}c$d"e\'f');
  checkInShells(t, SH_SHELLS, (out ?? '') + 'VIRTUAL_ENV="$W"\n', '/a b}c$d"e\'f');
});

test('sh: adds a level of backslashes inside backticks, plain and inside "…"', (t) => {
  const plain = rw('VIRTUAL_ENV=`echo "/opt/app"`\n', 'sh');
  t.is(
    plain,
    'VIRTUAL_ENV=`echo "/srv/a b/it\'s \\\\"q\\\\" \\\\\\$x \\\\\\`t\\\\\\` back\\\\\\\\slash"`\n',
  );
  checkInShells(t, SH_SHELLS, plain ?? '', TRICKY);
  const inDouble = rw('VIRTUAL_ENV="`echo \\"/opt/app\\"`"\n', 'sh');
  checkInShells(t, SH_SHELLS, inDouble ?? '', TRICKY);
  t.deepEqual(evidence(plain ?? '', 'sh'), [TRICKY]);
});

test("sh: rewrites inside $(…), here-documents and $'…'", (t) => {
  const sub = rw('VIRTUAL_ENV="$(printf %s \'/opt/app\')"\n', 'sh');
  checkInShells(t, SH_SHELLS, sub ?? '', TRICKY);
  const here = rw('VIRTUAL_ENV=$(cat <<EOF\n/opt/app\nEOF\n)\n', 'sh');
  t.is(here, 'VIRTUAL_ENV=$(cat <<EOF\n/srv/a b/it\'s "q" \\$x \\`t\\` back\\\\slash\nEOF\n)\n');
  checkInShells(t, SH_SHELLS, here ?? '', TRICKY);
  const quotedHere = rw("VIRTUAL_ENV=$(cat <<'EOF'\n/opt/app\nEOF\n)\n", 'sh');
  checkInShells(t, SH_SHELLS, quotedHere ?? '', TRICKY);
  // a here-document has no quoting: a path line equal to the delimiter cannot be written
  const err = t.throws(() => rw("cat <<-'EOF'\n/opt/app\nEOF\n", 'sh', '/a\n\tEOF\nb'), {
    instanceOf: RewriteError,
  });
  t.is(err?.reason, 'unquotable');
  t.is(rw("cat <<'EOF'\n/opt/app\nEOF\n", 'sh', '/a\nEOF2'), "cat <<'EOF'\n/a\nEOF2\nEOF\n");
  const ansi = rw("VIRTUAL_ENV=$'/opt/app'\n", 'sh');
  t.is(ansi, "VIRTUAL_ENV=$'/srv/a b/it\\'s \"q\" $x `t` back\\\\slash'\n");
  checkInShells(t, ['bash', 'zsh'], ansi ?? '', TRICKY);
});

test("sh: reads virtualenv 20.26+'s shlex-quoted template, test and message included", (t) => {
  const src = [
    "if [ ! -d '/opt/app' ]; then",
    '    echo "Virtual environment directory \'/opt/app\' does not exist!" >&2',
    '    CURRENT_PATH=$(realpath "${BASH_SOURCE[0]}")',
    '    VIRTUAL_ENV="$(realpath "${CURRENT_PATH}/../")"',
    'else',
    "    VIRTUAL_ENV='/opt/app'",
    'fi',
    '(( x = 1 << 2 ))',
    'export VIRTUAL_ENV',
    '',
  ].join('\n');
  t.deepEqual(evidence(src, 'sh'), [OLD]);
  const out = rw(src, 'sh') ?? '';
  t.is((out.match(/srv\/a b/g) ?? []).length, 3);
  t.true(
    out.includes(
      "Virtual environment directory '/srv/a b/it's \\\"q\\\" \\$x \\`t\\` back\\\\slash' does",
    ),
  );
  t.deepEqual(evidence(out, 'sh'), [TRICKY]);
  t.false(out.includes('/opt/app'));
});

test('sh: a case pattern inside $(…) does not end the substitution early', (t) => {
  const src = 'X=$(case a in a) echo b;; esac)\nVIRTUAL_ENV="/opt/app"\n';
  t.deepEqual(evidence(src, 'sh'), [OLD]);
  t.is(rw(src, 'sh', '/n'), 'X=$(case a in a) echo b;; esac)\nVIRTUAL_ENV="/n"\n');
});

test('sh: expresses a newline in the new path in every quoting', (t) => {
  const to = '/srv/line\nbreak';
  const out = rw('A="/opt/app"\nB=\'/opt/app\'\nVIRTUAL_ENV=/opt/app\n', 'sh', to);
  t.is(out, `A="${to}"\nB='${to}'\nVIRTUAL_ENV=/srv/line'\n'break\n`);
  checkInShells(t, SH_SHELLS, out ?? '', to);
});

test('sh: our output is valid input for the next move', (t) => {
  for (const src of [
    'VIRTUAL_ENV="/opt/app"\n',
    "VIRTUAL_ENV='/opt/app'\n",
    'VIRTUAL_ENV=/opt/app\n',
  ]) {
    const once = rw(src, 'sh') ?? '';
    t.deepEqual(evidence(once, 'sh'), [TRICKY]);
    const twice = rw(once, 'sh', "/third/it's", TRICKY) ?? '';
    t.deepEqual(evidence(twice, 'sh'), ["/third/it's"]);
    checkInShells(t, ['bash'], twice, "/third/it's");
    // the same mapping again finds nothing: the output holds no whole-path OLD
    t.is(rw(once, 'sh'), undefined);
  }
});

test('sh: returns undefined when the script holds no old path', (t) => {
  t.is(rw('PATH="$VIRTUAL_ENV/bin:$PATH"\n', 'sh'), undefined);
});

// ---------------------------------------------------------------- csh

test('csh: steps out of "…" for $, " and backticks, and escapes !', (t) => {
  const to = TRICKY + ' !bang';
  const out = rw('setenv VIRTUAL_ENV "/opt/app"\n', 'csh', to);
  t.is(
    out,
    'setenv VIRTUAL_ENV "/srv/a b/it\'s "\\""q"\\"" "\\$"x "\\`"t"\\`" back\\slash \\!bang"\n',
  );
  t.deepEqual(evidence(out ?? '', 'csh'), [to]);
  checkInShells(t, ['tcsh'], out ?? '', to);
});

test("csh: writes '…' with '\\'' and \\!", (t) => {
  const to = TRICKY + ' !bang';
  const out = rw("setenv VIRTUAL_ENV '/opt/app'\n", 'csh', to);
  t.is(out, "setenv VIRTUAL_ENV '/srv/a b/it'\\''s \"q\" $x `t` back\\slash \\!bang'\n");
  checkInShells(t, ['tcsh'], out ?? '', to);
});

test('csh: backslash-escapes an unquoted path, and # even inside a word', (t) => {
  const to = TRICKY + ' #hash';
  const out = rw('setenv VIRTUAL_ENV /opt/app\n', 'csh', to);
  t.is(
    out,
    'setenv VIRTUAL_ENV /srv/a\\ b/it\\\'s\\ \\"q\\"\\ \\$x\\ \\`t\\`\\ back\\\\slash\\ \\#hash\n',
  );
  checkInShells(t, ['tcsh'], out ?? '', to);
});

test('csh: finds an old path spread over quotes, and writes newlines', (t) => {
  const src = 'setenv VIRTUAL_ENV \'/opt/a\'"pp"\n';
  t.deepEqual(evidence(src, 'csh'), [OLD]);
  const out = rw(src, 'csh');
  checkInShells(t, ['tcsh'], out ?? '', TRICKY);
  const nl = rw("setenv VIRTUAL_ENV '/opt/app'\n", 'csh', '/a\nb');
  t.is(nl, "setenv VIRTUAL_ENV '/a\\\nb'\n");
  checkInShells(t, ['tcsh'], nl ?? '', '/a\nb');
});

test('csh: rewrites inside backticks and refuses a backtick there', (t) => {
  const out = rw('setenv VIRTUAL_ENV `echo "/opt/app"`\n', 'csh', '/srv/x y');
  t.is(out, 'setenv VIRTUAL_ENV `echo "/srv/x y"`\n');
  const err = t.throws(() => rw('set x = `echo /opt/app`\n', 'csh', '/a`b'), {
    instanceOf: RewriteError,
  });
  t.is(err?.reason, 'unquotable');
});

// ---------------------------------------------------------------- fish

test('fish: escapes for "…", \'…\' and bare words', (t) => {
  const dq = rw('set -gx VIRTUAL_ENV "/opt/app"\n', 'fish');
  t.is(dq, 'set -gx VIRTUAL_ENV "/srv/a b/it\'s \\"q\\" \\$x `t` back\\\\slash"\n');
  checkInShells(t, ['fish'], dq ?? '', TRICKY);
  const sq = rw("set -gx VIRTUAL_ENV '/opt/app'\n", 'fish');
  t.is(sq, "set -gx VIRTUAL_ENV '/srv/a b/it\\'s \"q\" $x `t` back\\\\slash'\n");
  checkInShells(t, ['fish'], sq ?? '', TRICKY);
  const to = TRICKY + ' %self ~x *?{a,b}();|&#';
  const bare = rw('set -gx VIRTUAL_ENV /opt/app\n', 'fish', to);
  checkInShells(t, ['fish'], bare ?? '', to);
  t.deepEqual(evidence(bare ?? '', 'fish'), [to]);
});

test('fish: finds a spread old path and paths inside (…) substitutions', (t) => {
  const spread = 'set -gx VIRTUAL_ENV \'/opt/a\'"pp"\n';
  t.deepEqual(evidence(spread, 'fish'), [OLD]);
  checkInShells(t, ['fish'], rw(spread, 'fish') ?? '', TRICKY);
  const sub = rw("set -gx VIRTUAL_ENV (string join '' '/opt/app')\n", 'fish');
  checkInShells(t, ['fish'], sub ?? '', TRICKY);
  t.is(rw('set -gx PATH "$VIRTUAL_ENV/bin" $PATH\n', 'fish'), undefined);
});

// ---------------------------------------------------------------- nu

test('nu: keeps \'…\' when it can hold the new path, else writes "…"', (t) => {
  t.is(
    rw("    let virtual_env = '/opt/app'\n", 'nu', '/srv/a b'),
    "    let virtual_env = '/srv/a b'\n",
  );
  t.is(
    rw("    let virtual_env = '/opt/app'\n", 'nu'),
    '    let virtual_env = "/srv/a b/it\'s \\"q\\" $x `t` back\\\\slash"\n',
  );
  t.deepEqual(evidence(rw("let virtual_env = '/opt/app'\n", 'nu') ?? '', 'nu'), [TRICKY]);
});

test('nu: re-quotes raw strings with enough #s', (t) => {
  const out = rw("let virtual_env = r#'/opt/app'#\n", 'nu', "/a'#b'##c");
  t.is(out, "let virtual_env = r###'/a'#b'##c'###\n");
  t.deepEqual(evidence(out ?? '', 'nu'), ["/a'#b'##c"]);
});

test('nu: escapes "…" and rewrites $env.VIRTUAL_ENV, let-env and record fields', (t) => {
  const src =
    '$env.VIRTUAL_ENV = "/opt/app"\nlet-env VIRTUAL_ENV = "/opt/app"\nload-env { VIRTUAL_ENV: \'/opt/app\' }\n';
  t.deepEqual(evidence(src, 'nu'), [OLD]);
  const to = '/a\\b"c\td';
  const out = rw(src, 'nu', to);
  t.is(
    out,
    '$env.VIRTUAL_ENV = "/a\\\\b\\"c\\td"\nlet-env VIRTUAL_ENV = "/a\\\\b\\"c\\td"\nload-env { VIRTUAL_ENV: \'/a\\b"c\td\' }\n',
  );
  t.deepEqual(evidence(out ?? '', 'nu'), [to]);
});

test('nu: rewrites literal parts of interpolations, keeping expressions', (t) => {
  const src = "let p = $'/opt/app/lib/($x)/pkgconfig'\n";
  t.is(rw(src, 'nu', '/srv/b'), "let p = $'/srv/b/lib/($x)/pkgconfig'\n");
  t.is(rw(src, 'nu', "/srv/it's (x)"), 'let p = $"/srv/it\'s \\(x\\)/lib/($x)/pkgconfig"\n');
  const nested = rw('let p = $"(\'/opt/app\' | path join bin)"\n', 'nu', '/srv/b');
  t.is(nested, 'let p = $"(\'/srv/b\' | path join bin)"\n');
});

test('nu: bare words stay bare when they can, comments are verbatim', (t) => {
  t.is(
    rw('overlay use /opt/app/bin/activate.nu\n', 'nu', '/srv/b'),
    'overlay use /srv/b/bin/activate.nu\n',
  );
  t.is(
    rw('overlay use /opt/app/bin/activate.nu\n', 'nu', '/srv/a b'),
    'overlay use "/srv/a b/bin/activate.nu"\n',
  );
  t.is(rw('^/opt/app/bin/python -V\n', 'nu', '/srv/a b'), '^"/srv/a b/bin/python" -V\n');
  t.is(rw("# made in /opt/app\nlet x = 'y'\n", 'nu'), `# made in ${TRICKY}\nlet x = 'y'\n`);
  t.is(rw("let virtual_env = '/opt/app2'\n", 'nu'), undefined);
});

// ---------------------------------------------------------------- PowerShell

test("ps1: doubles quotes in '…', typographic ones included", (t) => {
  const to = utf8ToBytes("/srv/it's o’clock");
  const out = rw("$env:VIRTUAL_ENV = '/opt/app'\n", 'ps1', to);
  t.is(out, utf8ToBytes("$env:VIRTUAL_ENV = '/srv/it''s o’’clock'\n"));
  t.deepEqual(evidence(out ?? '', 'ps1'), [to]);
});

test('ps1: backtick-escapes "…", bare arguments and leaves comments verbatim', (t) => {
  const out = rw('$VIRTUAL_ENV = "/opt/app"\n', 'ps1');
  t.is(out, '$VIRTUAL_ENV = "/srv/a b/it\'s `"q`" `$x ``t`` back\\slash"\n');
  t.deepEqual(evidence(out ?? '', 'ps1'), [TRICKY]);
  t.is(rw('& /opt/app/bin/python -V\n', 'ps1', '/srv/a b(1)'), '& /srv/a` b`(1`)/bin/python -V\n');
  t.is(
    rw('<# built in /opt/app #>\n# and /opt/app\n', 'ps1', '/n'),
    '<# built in /n #>\n# and /n\n',
  );
  t.is(rw('$env:PATH = "$env:VIRTUAL_ENV/bin:" + $env:PATH\n', 'ps1'), undefined);
});

test("ps1: here-strings hold the path, except a line starting '@", (t) => {
  t.is(rw("$x = @'\n/opt/app\n'@\n", 'ps1', "/it's"), "$x = @'\n/it's\n'@\n");
  t.is(rw('$x = @"\n/opt/app\n"@\n', 'ps1', '/a$b'), '$x = @"\n/a`$b\n"@\n');
  const err = t.throws(() => rw("$x = @'\n/opt/app\n'@\n", 'ps1', "/a\n'@b"), {
    instanceOf: RewriteError,
  });
  t.is(err?.reason, 'unquotable');
});

// ---------------------------------------------------------------- batch

test('bat: doubles % and ^-escapes outside quotes', (t) => {
  const quoted = rw('@set "VIRTUAL_ENV=/opt/app"\n', 'bat', '/srv/100% & more');
  t.is(quoted, '@set "VIRTUAL_ENV=/srv/100%% & more"\n');
  t.deepEqual(evidence(quoted ?? '', 'bat'), ['/srv/100% & more']);
  const bare = rw('set VIRTUAL_ENV=/opt/app\r\n', 'bat', '/srv/a&b|c %x% (y)');
  t.is(bare, 'set VIRTUAL_ENV=/srv/a^&b^|c %%x%% ^(y^)\r\n');
  t.deepEqual(evidence(bare ?? '', 'bat'), ['/srv/a&b|c %x% (y)']);
});

test('bat: leaves expansions alone, comments verbatim, and refuses what cmd cannot hold', (t) => {
  t.is(rw('@set "PATH=%VIRTUAL_ENV%\\Scripts;%PATH%"\n', 'bat'), undefined);
  t.is(rw('@REM built in /opt/app\n', 'bat', '/n%'), '@REM built in /n%\n');
  const quote = t.throws(() => rw('@set "VIRTUAL_ENV=/opt/app"\n', 'bat', '/a"b'), {
    instanceOf: RewriteError,
  });
  t.is(quote?.reason, 'unquotable');
  const newline = t.throws(() => rw('set VIRTUAL_ENV=/opt/app\n', 'bat', '/a\nb'), {
    instanceOf: RewriteError,
  });
  t.is(newline?.reason, 'unquotable');
  t.deepEqual(evidence('@set "VIRTUAL_ENV=C:\\build\\venv"\n', 'bat'), ['C:\\build\\venv']);
  t.deepEqual(
    evidence('@for %%d in ("%VIRTUAL_ENV%") do @set "PROMPT=(%%~nxd) %PROMPT%"\n', 'bat'),
    [],
  );
});

// ---------------------------------------------------------------- evidence

test('evidence: only real assignments of absolute literal values count', (t) => {
  t.deepEqual(
    evidence('echo "VIRTUAL_ENV=/x"\necho VIRTUAL_ENV=/y\n"VIRTUAL_ENV=/z" true\n', 'sh'),
    [],
  );
  t.deepEqual(evidence('VIRTUAL_ENV=relative/venv\nVIRTUAL_ENV="$HOME/venv"\n', 'sh'), []);
  t.deepEqual(evidence('if true; then VIRTUAL_ENV="/a"; else export VIRTUAL_ENV=/b; fi\n', 'sh'), [
    '/a',
    '/b',
  ]);
  t.deepEqual(evidence('X=1 VIRTUAL_ENV=/a\nVIRTUAL_ENV=$(cygpath -u "/b")\n', 'sh'), ['/a', '/b']);
  t.deepEqual(evidence('setenv PATH "$VIRTUAL_ENV/bin:$PATH"\nsetenv VIRTUAL_ENV "/c"\n', 'csh'), [
    '/c',
  ]);
  t.deepEqual(
    evidence('set -e VIRTUAL_ENV\nset -gx VIRTUAL_ENV /d\nset VIRTUAL_ENV /e /f\n', 'fish'),
    ['/d'],
  );
  t.deepEqual(evidence("let virtual-env = '/g'\nlet virtual_env = $env.X\n", 'nu'), ['/g']);
  t.deepEqual(evidence("$Env:VIRTUAL_ENV = 'C:\\venv'\n$env:VIRTUAL_ENV = $VenvDir\n", 'ps1'), [
    'C:\\venv',
  ]);
});

// ---------------------------------------------------------------- robustness

test('every lexer ends and throws nothing but RewriteError on scrambled input', (t) => {
  // Pieces of every syntax, glued at random (a fixed seed, so a failure reproduces). This
  // found a lone trailing backslash that stalled the csh lexer.
  const pieces = [
    "'",
    '"',
    '$',
    '(',
    ')',
    '`',
    '\\',
    '\n',
    '#',
    '{',
    '}',
    '<<',
    'EOF',
    OLD,
    ' ',
    'a',
    "r#'",
    "'#",
    "@'",
    '"@',
    '%',
    '^',
    '$(',
    '${',
    ':-',
    'case ',
    ' in ',
    ';;',
    'esac',
    "$'",
    '\t',
    '!',
    '=',
    'VIRTUAL_ENV=',
    'setenv VIRTUAL_ENV ',
    'set -gx VIRTUAL_ENV ',
    '<#',
    '#>',
    '\xe2\x80\x98',
    '\r\n',
    '((',
    '))',
    'rem ',
    '%%d',
    'for %%d in',
    '\xff',
  ];
  let seed = 20240607;
  const next = (n: number): number => {
    seed = (Math.imul(seed, 1103515245) + 12345) & 0x7fffffff;
    return seed % n;
  };
  const flavors: ActivateFlavor[] = ['sh', 'csh', 'fish', 'nu', 'ps1', 'bat'];
  let refused = 0;
  let rewritten = 0;
  for (let k = 0; k < 3000; k++) {
    let src = '';
    for (let i = 1 + next(30); i > 0; i--) src += pieces[next(pieces.length)] ?? '';
    for (const flavor of flavors) {
      evidence(src, flavor);
      try {
        if (rw(src, flavor, '/n ew/it\'s "$`\\ !\nx') !== undefined) rewritten++;
      } catch (err) {
        if (!(err instanceof RewriteError)) throw err;
        refused++;
      }
    }
  }
  t.log(`${rewritten} rewritten, ${refused} refused as unquotable`);
  t.true(rewritten > 0);
});
