{{ preamble }}
/** The bundled JSON Schema (draft-07) these types were generated from. */
export const SCHEMA = {{ schema }} as const;

/** Enum types whose value lists readers do not enforce. */
export const OPEN_ENUMS: readonly string[] = [{{ open_enums }}];
