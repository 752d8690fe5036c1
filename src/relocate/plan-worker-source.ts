/**
 * Where the planning thread's code comes from: plan-worker.js beside the code that starts it, or,
 * inside the single executable (Node SEA, scripts/build-binary.mjs), the worker's bundle that the
 * executable carries as an asset.
 *
 * A SEA has no file to start a worker from. On Node 20 its main script is CommonJS without
 * import.meta.url, and `new Worker` refuses the executable's own path and blob: URLs. It does run
 * source given with `eval: true`; such a worker can require Node's built-in modules only, so the
 * asset is a bundle of everything the worker imports.
 */
import type { WorkerOptions } from 'node:worker_threads';

/** The asset's key in the executable (scripts/build-binary.mjs adds it under this name). */
export const PLAN_WORKER_ASSET = 'plan-worker.js';

/** The arguments to start the planning thread with: `new Worker(source, options)`. */
export interface PlanWorkerSource {
  readonly source: URL | string;
  readonly options: Pick<WorkerOptions, 'eval'>;
}

/**
 * The planning thread's code. Inside a SEA, a missing asset throws: the executable was built
 * wrong, and planning on one thread instead would hide it.
 */
export function planWorkerSource(): PlanWorkerSource {
  const sea = runningSea();
  if (sea === undefined) {
    return { source: new URL('./plan-worker.js', import.meta.url), options: {} };
  }
  return { source: sea.getAsset(PLAN_WORKER_ASSET, 'utf8'), options: { eval: true } };
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
