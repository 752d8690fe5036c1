/**
 * The locations a relocation refuses as a venv's old or new location, or as either side of
 * `--map`: `/`, and the system folders themselves. A venv is rooted in a folder of its own
 * (`/opt/app/venv`, `/tmp/x`), never at one of these. Rewriting one rewrites every path under it
 * in every text file of the venv: with `/` as the old location, `https://docs.python.org` in
 * flask's cli.py became `https:/srv/x/docs.python.org`; with `/tmp`, django's
 * global_settings.py got the new path in place of `/tmp`.
 */

/**
 * The system folders themselves (not what is below them), in one place. The Filesystem
 * Hierarchy Standard's top folders and their best-known subfolders, merged-/usr's, macOS's and
 * Nix's, which is where a venv's files name base interpreters, data and temporary files: a
 * location that is one of these is a mistake, not a venv.
 */
export const SYSTEM_FOLDERS: ReadonlySet<string> = new Set([
  // FHS top level.
  '/bin',
  '/boot',
  '/dev',
  '/etc',
  '/home',
  '/lib',
  '/lib32',
  '/lib64',
  '/libx32',
  '/media',
  '/mnt',
  '/opt',
  '/proc',
  '/root',
  '/run',
  '/sbin',
  '/srv',
  '/sys',
  '/tmp',
  '/usr',
  '/var',
  // /usr and /usr/local.
  '/usr/bin',
  '/usr/include',
  '/usr/lib',
  '/usr/lib32',
  '/usr/lib64',
  '/usr/libexec',
  '/usr/local',
  '/usr/local/bin',
  '/usr/local/etc',
  '/usr/local/include',
  '/usr/local/lib',
  '/usr/local/sbin',
  '/usr/local/share',
  '/usr/local/src',
  '/usr/sbin',
  '/usr/share',
  '/usr/src',
  // /var.
  '/var/cache',
  '/var/lib',
  '/var/local',
  '/var/log',
  '/var/mail',
  '/var/opt',
  '/var/run',
  '/var/spool',
  '/var/tmp',
  '/var/www',
  // /etc/opt and /run/user hold per-package and per-user folders, never a venv themselves.
  '/etc/opt',
  '/run/user',
  // macOS.
  '/Applications',
  '/Library',
  '/System',
  '/Users',
  '/Volumes',
  '/private',
  '/private/etc',
  '/private/tmp',
  '/private/var',
  '/opt/homebrew',
  // Nix, Guix, snap.
  '/nix',
  '/nix/store',
  '/gnu',
  '/gnu/store',
  '/snap',
]);

/** Why a location can never be a venv's: `root` (it is `/`) or `system-folder`. */
export type Refusal = 'root' | 'system-folder';

/** Why `location` (normalised: see normalizeLocation) is refused, or undefined when it is not. */
export function refusedLocation(location: string): Refusal | undefined {
  if (location === '/') return 'root';
  return SYSTEM_FOLDERS.has(location) ? 'system-folder' : undefined;
}
