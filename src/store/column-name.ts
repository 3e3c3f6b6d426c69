// A row field's column: its name in snake case (checkPort → check_port, hashPrefixV4 → hash_prefix_v4), in types and at run time.

export type ColumnName<S extends string> = S extends `${infer H}${infer T}` ? `${H extends Lowercase<H> ? H : `_${Lowercase<H>}`}${ColumnName<T>}` : S;

export function columnName<S extends string>(field: S): ColumnName<S> {
  return field.replace(/[A-Z]/g, (c) => `_${c.toLowerCase()}`) as ColumnName<S>;
}
