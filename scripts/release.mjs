// `npm run release` (after `npm run build:binary`): write dist/release/ with what a release
// ships, for each single executable in dist/bin (venv-tools-linux-x64, and -linux-arm64 when
// one was built with --node):
//
//   venv-tools-linux-x64            the binary, and its .sha256 (`sha256sum -c` reads it)
//   venv-tools-linux-x64.xz         the same, compressed, and its .sha256
//   venv-tools_VERSION_amd64.deb    installs it as /usr/bin/venv-tools (dpkg-deb)
//   venv-tools-VERSION.tgz          the npm package (npm pack)
//   INSTALL.txt                     how to put each in place
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import {
  chmodSync,
  copyFileSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  statSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = dirname(dirname(fileURLToPath(import.meta.url)));
const bin = join(root, 'dist', 'bin');
const out = join(root, 'dist', 'release');
const pkg = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8'));
/** Debian's names for the platforms build-binary.mjs makes. */
const DEB_ARCH = { 'linux-x64': 'amd64', 'linux-arm64': 'arm64' };

const fail = (message) => {
  console.error(`release: ${message}`);
  process.exit(1);
};

function must(cmd, args, opts = {}) {
  const r = spawnSync(cmd, args, { encoding: 'utf8', ...opts });
  if (r.error !== undefined || r.status !== 0) {
    fail(`${cmd} ${args.join(' ')} failed: ${r.error?.message ?? ''}${r.stderr ?? ''}`);
  }
  return r.stdout;
}

const targets = readdirSync(bin)
  .map((f) => /^venv-tools-(linux-(?:x64|arm64))$/.exec(f)?.[1])
  .filter((t) => t !== undefined);
if (targets.length === 0) fail('no single executable in dist/bin: run `npm run build:binary`');

rmSync(out, { recursive: true, force: true });
mkdirSync(out, { recursive: true });

function ship(file) {
  const name = basename(file);
  copyFileSync(file, join(out, name));
  const hash = createHash('sha256').update(readFileSync(file)).digest('hex');
  writeFileSync(join(out, `${name}.sha256`), `${hash}  ${name}\n`);
}

const debs = [];
for (const target of targets) {
  const exe = join(bin, `venv-tools-${target}`);
  ship(exe);
  if (existsSync(`${exe}.xz`)) {
    if (statSync(`${exe}.xz`).mtimeMs < statSync(exe).mtimeMs) {
      fail(`${exe}.xz is older than the binary: build again without --no-xz`);
    }
    ship(`${exe}.xz`);
  }
  debs.push(deb(target, exe));
}

// The npm package, from the build the binaries were made of (no `prepare`: it would build again).
const packed = JSON.parse(
  must('npm', ['pack', '--json', '--ignore-scripts', '--pack-destination', out], { cwd: root }),
);
const tgz = packed[0].filename;

writeFileSync(join(out, 'INSTALL.txt'), install(targets, debs, tgz));
for (const f of readdirSync(out).sort()) {
  console.log(`dist/release/${f}: ${(statSync(join(out, f)).size / 1e6).toFixed(1)} MB`);
}

/**
 * A Debian package that installs the binary as /usr/bin/venv-tools; its file name. It depends on
 * the C and C++ runtimes node links to, libc at the newest symbol version the binary asks for.
 */
function deb(target, exe) {
  const arch = DEB_ARCH[target];
  const stage = mkdtempSync(join(tmpdir(), 'venv-tools-deb-'));
  try {
    mkdirSync(join(stage, 'DEBIAN'));
    mkdirSync(join(stage, 'usr', 'bin'), { recursive: true });
    mkdirSync(join(stage, 'usr', 'share', 'doc', 'venv-tools'), { recursive: true });
    copyFileSync(exe, join(stage, 'usr', 'bin', 'venv-tools'));
    chmodSync(join(stage, 'usr', 'bin', 'venv-tools'), 0o755);
    copyFileSync(
      join(root, 'LICENSE'),
      join(stage, 'usr', 'share', 'doc', 'venv-tools', 'copyright'),
    );
    const glibc = newestGlibc(exe);
    const control = [
      'Package: venv-tools',
      `Version: ${pkg.version}`,
      `Architecture: ${arch}`,
      // package.json's author when it names one; dpkg needs the field, not an address.
      `Maintainer: ${typeof pkg.author === 'string' ? pkg.author : 'venv-tools developers'}`,
      `Installed-Size: ${Math.ceil(statSync(exe).size / 1024)}`,
      `Depends: libc6${glibc === undefined ? '' : ` (>= ${glibc})`}, libgcc-s1 | libgcc1, libstdc++6`,
      'Section: utils',
      'Priority: optional',
      `Description: ${pkg.description}`,
      ' A drop-in for virtualenv-tools (--update-path, --reinitialize): one executable that',
      ' rewrites every absolute path inside a venv, and needs no Node to run.',
      '',
    ].join('\n');
    writeFileSync(join(stage, 'DEBIAN', 'control'), control);
    const name = `venv-tools_${pkg.version}_${arch}.deb`;
    must('dpkg-deb', ['--root-owner-group', '--build', stage, join(out, name)]);
    return { target, name };
  } finally {
    rmSync(stage, { recursive: true, force: true });
  }
}

/** The newest GLIBC_x.y the binary needs (objdump -p), or undefined without objdump. */
function newestGlibc(exe) {
  const r = spawnSync('objdump', ['-p', exe], { encoding: 'utf8', maxBuffer: 64 << 20 });
  if (r.error !== undefined || r.status !== 0) return undefined;
  const versions = [...r.stdout.matchAll(/\bGLIBC_(\d+)\.(\d+)\b/g)].map((m) => [
    Number(m[1]),
    Number(m[2]),
  ]);
  versions.sort((a, b) => a[0] - b[0] || a[1] - b[1]);
  const v = versions.at(-1);
  return v === undefined ? undefined : `${v[0]}.${v[1]}`;
}

function install(targets, debs, tgz) {
  const lines = [`venv-tools ${pkg.version}`, ''];
  for (const t of targets) {
    const exe = `venv-tools-${t}`;
    lines.push(
      `The single file (${t}; needs no Node):`,
      '',
      `  sha256sum -c ${exe}.sha256`,
      `  install -m 755 ${exe} /usr/local/bin/venv-tools`,
      '  venv-tools --version',
      '',
    );
    if (existsSync(join(out, `${exe}.xz`))) {
      lines.push(
        `  Or the compressed copy: xz -d ${exe}.xz (it checks itself), then the same.`,
        '',
      );
    }
  }
  for (const d of debs) {
    lines.push(
      `Debian or Ubuntu, ${d.target} (installs /usr/bin/venv-tools):`,
      '',
      `  sudo dpkg -i ${d.name}`,
      '  venv-tools --version',
      '  sudo dpkg -r venv-tools        # to remove it',
      '',
    );
  }
  lines.push(
    `With Node ${pkg.engines.node.replace('>=', '')} or later (npm):`,
    '',
    `  npm install -g ./${tgz}`,
    '  venv-tools --help',
    '',
  );
  return lines.join('\n');
}
