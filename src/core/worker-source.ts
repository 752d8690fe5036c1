/**
 * Where a worker thread's code comes from: its bundle beside the code that starts it (the caller
 * names it with `new URL('./x.js', import.meta.url)`), or, inside the single executable (Node
 * SEA, scripts/build-binary.mjs), the worker's bundle that the executable carries as an asset.
 *
 * A SEA has no file to start a worker from. On Node 20 its main script is CommonJS without
 * import.meta.url, and `new Worker` refuses the executable's own path and blob: URLs. It does run
 * source given with `eval: true`; such a worker can require Node's built-in modules only, so each
 * asset is a bundle of everything its worker imports.
 */
import type { WorkerOptions } from 'node:worker_threads';

/** The arguments to start a worker with: `new Worker(source, options)`. */
export interface WorkerSource {
  readonly source: URL | string;
  readonly options: Pick<WorkerOptions, 'eval' | 'execArgv'>;
}

/**
 * The process's Node options for a worker: all but those that say what the main script is. A
 * worker inherits them all by default, so a library used from `node --input-type=module -e …`
 * started workers that refused to load their file (ERR_INPUT_TYPE_NOT_ALLOWED) or ran the `-e`
 * script again.
 */
function workerExecArgv(): string[] {
  const out: string[] = [];
  const args = process.execArgv;
  for (let i = 0; i < args.length; i++) {
    const a = args[i] as string;
    if (['-e', '--eval', '-p', '--print', '--input-type'].includes(a)) {
      i++; // and its value
      continue;
    }
    if (/^--(eval|print|input-type)=/.test(a)) continue;
    out.push(a);
  }
  return out;
}

/**
 * A worker's code: the file `beside()` names, or, in a SEA, the asset called `asset` (the file's
 * name; scripts/build-binary.mjs adds it). `beside` is asked only outside a SEA, whose bundle has
 * no import.meta.url to make it from. Inside a SEA, a missing asset throws: the executable was
 * built wrong, and doing the work on one thread instead would hide it.
 */
export function workerSource(asset: string, beside: () => URL): WorkerSource {
  const sea = runningSea();
  const execArgv = workerExecArgv();
  if (sea === undefined) return { source: beside(), options: { execArgv } };
  return { source: sea.getAsset(asset, 'utf8'), options: { eval: true, execArgv } };
}

/**
 * node:sea when this process is a single executable. Found by feature, not by Node's version:
 * process.getBuiltinModule (which a CommonJS bundle and ES modules both have) and sea.isSea.
 */
function runningSea(): typeof import('node:sea') | undefined {
  const get = (process as { getBuiltinModule?: (id: string) => unknown }).getBuiltinModule;
  if (typeof get !== 'function') return undefined;
  const sea = get.call(process, 'node:sea') as Partial<typeof import('node:sea')> | undefined;
  if (typeof sea?.isSea !== 'function' || !sea.isSea()) return undefined;
  return sea as typeof import('node:sea');
}
