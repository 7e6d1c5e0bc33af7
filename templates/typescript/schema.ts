{{ preamble }}
/** The bundled JSON Schema (draft-07) these types were generated from. */
export const SCHEMA = {{ schema }} as const;
