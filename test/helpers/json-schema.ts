/**
 * A validator for the subset of JSON Schema (draft 2020-12) that docs/schema/*.schema.json
 * use: type, properties, required, items, enum, additionalProperties, and $ref to the
 * document's own $defs. Annotations ($schema, $id, title, description) are ignored; any other
 * keyword is refused, so a schema can never quietly use a rule this validator does not check.
 */

/** A schema, as parsed from JSON. */
export type Schema = { readonly [keyword: string]: unknown };

const ANNOTATIONS = new Set(['$schema', '$id', 'title', 'description', '$defs']);
const CHECKED = new Set([
  'type',
  'properties',
  'required',
  'items',
  'enum',
  'additionalProperties',
  '$ref',
]);

function typeOf(v: unknown): string {
  if (v === null) return 'null';
  if (Array.isArray(v)) return 'array';
  return typeof v;
}

function hasType(v: unknown, t: string): boolean {
  switch (t) {
    case 'integer':
      return typeof v === 'number' && Number.isInteger(v);
    case 'number':
      return typeof v === 'number' && Number.isFinite(v);
    case 'object':
      return typeOf(v) === 'object';
    default:
      return typeOf(v) === t;
  }
}

/** JSON equality, as `enum` compares (key order ignored). */
function jsonEqual(a: unknown, b: unknown): boolean {
  if (typeOf(a) !== typeOf(b)) return false;
  if (Array.isArray(a) && Array.isArray(b))
    return a.length === b.length && a.every((x, i) => jsonEqual(x, b[i]));
  if (typeOf(a) === 'object') {
    const ka = Object.keys(a as object).sort();
    const kb = Object.keys(b as object).sort();
    return (
      jsonEqual(ka, kb) &&
      ka.every((k) =>
        jsonEqual((a as Record<string, unknown>)[k], (b as Record<string, unknown>)[k]),
      )
    );
  }
  return a === b;
}

/** `/a/0/b`-style pointer segment (RFC 6901). */
function seg(k: string | number): string {
  return `/${String(k).replace(/~/g, '~0').replace(/\//g, '~1')}`;
}

function resolveRef(root: Schema, ref: string): Schema {
  const m = /^#\/(\$defs|definitions)\/([^/]+)$/.exec(ref);
  const defs =
    m === null ? undefined : (root[m[1] as string] as Record<string, Schema> | undefined);
  const target = m === null || defs === undefined ? undefined : defs[m[2] as string];
  if (target === undefined) throw new Error(`json-schema: cannot resolve $ref ${ref}`);
  return target;
}

function check(root: Schema, schema: Schema, v: unknown, at: string, errors: string[]): void {
  for (const k of Object.keys(schema)) {
    if (!ANNOTATIONS.has(k) && !CHECKED.has(k))
      throw new Error(
        `json-schema: keyword ${k} at ${at || '/'} is not supported by this validator`,
      );
  }
  if (typeof schema.$ref === 'string') {
    check(root, resolveRef(root, schema.$ref), v, at, errors);
  }
  if (schema.type !== undefined) {
    const types = Array.isArray(schema.type) ? (schema.type as string[]) : [schema.type as string];
    if (!types.some((t) => hasType(v, t))) {
      errors.push(`${at || '/'}: is ${typeOf(v)}, expected ${types.join(' or ')}`);
      return;
    }
  }
  if (Array.isArray(schema.enum) && !schema.enum.some((e) => jsonEqual(e, v))) {
    errors.push(`${at || '/'}: ${JSON.stringify(v)} is not one of ${JSON.stringify(schema.enum)}`);
  }
  if (typeOf(v) === 'object') {
    const o = v as Record<string, unknown>;
    const props = (schema.properties ?? {}) as Record<string, Schema>;
    for (const r of (schema.required ?? []) as string[]) {
      if (!(r in o)) errors.push(`${at || '/'}: lacks required property ${JSON.stringify(r)}`);
    }
    for (const [k, val] of Object.entries(o)) {
      const p = props[k];
      if (p !== undefined) check(root, p, val, at + seg(k), errors);
      else if (schema.additionalProperties === false)
        errors.push(
          `${at || '/'}: has property ${JSON.stringify(k)}, which the schema does not allow`,
        );
      else if (typeOf(schema.additionalProperties) === 'object')
        check(root, schema.additionalProperties as Schema, val, at + seg(k), errors);
    }
  }
  if (Array.isArray(v) && schema.items !== undefined) {
    v.forEach((item, i) => check(root, schema.items as Schema, item, at + seg(i), errors));
  }
}

/** Every way `value` breaks `schema`, as `pointer: what is wrong` lines; empty when it is valid. */
export function validate(schema: Schema, value: unknown): string[] {
  const errors: string[] = [];
  check(schema, schema, value, '', errors);
  return errors;
}

/**
 * Throw when any node of `schema` (its properties, items, additionalProperties and $defs, all
 * the way down) uses a keyword this validator does not check.
 */
export function assertSupported(schema: Schema, at = ''): void {
  for (const k of Object.keys(schema)) {
    if (!ANNOTATIONS.has(k) && !CHECKED.has(k))
      throw new Error(
        `json-schema: keyword ${k} at ${at || '/'} is not supported by this validator`,
      );
  }
  const sub = (s: unknown, where: string) => {
    if (typeOf(s) === 'object') assertSupported(s as Schema, where);
  };
  for (const [k, s] of Object.entries((schema.properties ?? {}) as Record<string, unknown>))
    sub(s, `${at}/properties${seg(k)}`);
  for (const [k, s] of Object.entries((schema.$defs ?? {}) as Record<string, unknown>))
    sub(s, `${at}/$defs${seg(k)}`);
  sub(schema.items, `${at}/items`);
  sub(schema.additionalProperties, `${at}/additionalProperties`);
}
