//! A team's payload and header schemas, as the generator's one schema profile wants them:
//! every object, string enum, constrained string and `oneOf`/`anyOf` becomes a named type of
//! the bundle (`#/definitions/Name`), wherever it was written.
//!
//! - A schema referred to (`$ref`, in the document or in a file beside it) keeps its name: the
//!   last token of the pointer (`#/components/schemas/Lumens` → `Lumens`), or a whole file's
//!   `title`, else its file name.
//! - An inline schema is named after where it is: the message's payload `<Message>Payload`, a
//!   property `<Parent><Property>`, an array's items `<Parent>Item`, a `oneOf` variant its
//!   `title` or `<Parent>Variant<N>`. The same place always gives the same name; a name taken
//!   already gets a number.
//! - `allOf` of objects is merged into one object (properties and `required` of all members).
//! - What only constrains values (`not`, `if`/`then`/`else`, `format`, a `oneOf` of `required`
//!   lists...) stays in the bundle for the validators and shapes no type.
//! - Keywords that are not JSON Schema (`x-…`, `discriminator`, `example`, `xml`...) are left out.
//! - A `format` the generator knows ([`FORMATS`]) becomes the equivalent ECMA-262 `pattern`, so
//!   every language checks it with the same expression (JSON Schema libraries disagree on
//!   formats, and some check none); any other `format` is an annotation, checked nowhere.

use std::collections::BTreeMap;

use anyhow::Result;
use serde_json::{Map, Value, json};

use super::docs::{At, Docs, refuse};
use crate::model::typed_union;
use crate::names::{is_plain_ident, pascal};

/// JSON Schema draft-07 keywords copied as they are.
const KEYWORDS: &[&str] = &[
    "$comment",
    "title",
    "description",
    "default",
    "examples",
    "readOnly",
    "writeOnly",
    "type",
    "enum",
    "const",
    "multipleOf",
    "maximum",
    "exclusiveMaximum",
    "minimum",
    "exclusiveMinimum",
    "maxLength",
    "minLength",
    "pattern",
    "maxItems",
    "minItems",
    "uniqueItems",
    "maxProperties",
    "minProperties",
    "required",
    "format",
    "contentMediaType",
    "contentEncoding",
];

/// The formats checked, each as the ECMA-262 pattern every language's validator matches
/// (RFC 3339 for times, with an offset; RFC 4122's text form for UUIDs; a deliberately
/// simple e-mail form). A schema's own `pattern` wins over its format.
pub(super) const FORMATS: &[(&str, &str)] = &[
    (
        "date-time",
        "^[0-9]{4}-(0[1-9]|1[0-2])-(0[1-9]|[12][0-9]|3[01])[Tt]([01][0-9]|2[0-3]):[0-5][0-9]:([0-5][0-9]|60)(\\.[0-9]+)?([Zz]|[+-]([01][0-9]|2[0-3]):[0-5][0-9])$",
    ),
    ("date", "^[0-9]{4}-(0[1-9]|1[0-2])-(0[1-9]|[12][0-9]|3[01])$"),
    (
        "time",
        "^([01][0-9]|2[0-3]):[0-5][0-9]:([0-5][0-9]|60)(\\.[0-9]+)?([Zz]|[+-]([01][0-9]|2[0-3]):[0-5][0-9])$",
    ),
    ("uuid", "^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$"),
    ("email", "^[^\\s@]+@[^\\s@]+\\.[^\\s@]+$"),
    (
        "ipv4",
        "^((25[0-5]|2[0-4][0-9]|1[0-9][0-9]|[1-9]?[0-9])\\.){3}(25[0-5]|2[0-4][0-9]|1[0-9][0-9]|[1-9]?[0-9])$",
    ),
];

/// The pattern of a known `format`.
fn format_pattern(format: &str) -> Option<&'static str> {
    FORMATS.iter().find(|(f, _)| *f == format).map(|(_, p)| *p)
}

/// Keywords whose value is one schema.
const SUBSCHEMA: &[&str] =
    &["additionalProperties", "additionalItems", "not", "if", "then", "else", "contains", "propertyNames"];

/// The named types found so far.
#[derive(Default)]
pub(super) struct Schemas {
    /// The bundle's `definitions`.
    pub(super) defs: Map<String, Value>,
    /// Each named type by the place its schema was found, so a schema used twice is one type.
    by_place: BTreeMap<At, String>,
}

impl Schemas {
    /// The named type of the schema `value` found at `at`: its own name when it is a
    /// reference, else `suggested`.
    pub(super) fn named(
        &mut self,
        docs: &mut Docs,
        at: &At,
        value: &Value,
        suggested: &str,
    ) -> Result<String> {
        let (place, schema) = docs.deref(at, value)?;
        if let Some(name) = self.by_place.get(&place) {
            return Ok(name.clone());
        }
        let base = if place == *at { suggested.to_owned() } else { natural_name(&place, &schema) };
        let name = self.unique(&base);
        self.by_place.insert(place.clone(), name.clone());
        // Taken before the body is read, so a recursive schema refers to itself.
        self.defs.insert(name.clone(), Value::Null);
        let body = self.body(docs, &place, &schema, &name)?;
        self.defs.insert(name.clone(), body);
        Ok(name)
    }

    /// What to write where the schema at `at` is used (a property, array items, a variant):
    /// a `$ref` to a named type, or the schema itself when it is a plain value.
    fn usage(&mut self, docs: &mut Docs, at: &At, value: &Value, suggested: &str) -> Result<Value> {
        if value.as_bool() == Some(true) {
            return Ok(json!({}));
        }
        let (place, schema) = docs.deref(at, value)?;
        let schema = match (schema.get("allOf"), schema.as_object()) {
            (Some(all), Some(obj)) => merge_all_of(docs, &place, obj, all)?,
            _ => schema,
        };
        if needs_name(&schema) {
            let name = self.named(docs, at, value, suggested)?;
            return Ok(json!({ "$ref": format!("#/definitions/{name}") }));
        }
        self.body(docs, &place, &schema, suggested)
    }

    /// Where each named type was written ([`At::uri`]), by name.
    pub(super) fn places(&self) -> BTreeMap<String, String> {
        self.by_place.iter().map(|(at, name)| (name.clone(), at.uri())).collect()
    }

    fn unique(&self, base: &str) -> String {
        let mut name = base.to_owned();
        let mut n = 2;
        while self.defs.contains_key(&name) {
            name = format!("{base}{n}");
            n += 1;
        }
        name
    }

    /// The schema at `at` with every part that needs a name replaced by a `$ref`.
    fn body(&mut self, docs: &mut Docs, at: &At, schema: &Value, name: &str) -> Result<Value> {
        let obj = match schema {
            Value::Object(o) => o.clone(),
            Value::Bool(true) => return Ok(json!({})),
            other => return Err(refuse(at, format!("a schema must be an object, found `{other}`"))),
        };
        if let Some(all) = obj.get("allOf") {
            let merged = merge_all_of(docs, at, &obj, all)?;
            return self.body(docs, at, &merged, name);
        }
        match obj.get("type") {
            Some(Value::Array(types)) => {
                let list =
                    types.iter().map(|t| format!("`{}`", t.as_str().unwrap_or("?"))).collect::<Vec<_>>();
                return Err(refuse(
                    &at.join("type"),
                    format!(
                        "`type` lists several types ({}): the generator types one (for \"or null\", make the property optional)",
                        list.join(", ")
                    ),
                ));
            }
            Some(Value::String(t)) if t == "null" => {
                return Err(refuse(
                    &at.join("type"),
                    "`type: null` is not generated (leave the property out)",
                ));
            }
            _ => {}
        }
        let mut out = Map::new();
        for (k, v) in &obj {
            let here = at.join(k);
            let value = match k.as_str() {
                "properties" | "patternProperties" | "dependencies" | "definitions" if !v.is_object() => {
                    return Err(refuse(&here, "must be an object"));
                }
                "properties" => {
                    let mut props = Map::new();
                    for (p, s) in v.as_object().into_iter().flatten() {
                        let suggested = format!("{name}{}", pascal(p));
                        props.insert(p.clone(), self.usage(docs, &here.join(p), s, &suggested)?);
                    }
                    Value::Object(props)
                }
                "patternProperties" | "dependencies" => {
                    let mut out = Map::new();
                    for (p, s) in v.as_object().into_iter().flatten() {
                        let item = if s.is_object() {
                            self.usage(docs, &here.join(p), s, &format!("{name}Value"))?
                        } else {
                            s.clone()
                        };
                        out.insert(p.clone(), item);
                    }
                    Value::Object(out)
                }
                "items" => match v {
                    Value::Array(_) => {
                        return Err(refuse(
                            &here,
                            "tuple `items` (a list of schemas) is not generated: use one schema for every item",
                        ));
                    }
                    _ => self.usage(docs, &here, v, &format!("{name}Item"))?,
                },
                "oneOf" | "anyOf" => {
                    let variants = v.as_array().ok_or_else(|| refuse(&here, "must be a list of schemas"))?;
                    let mut out = Vec::new();
                    for (i, s) in variants.iter().enumerate() {
                        let title = s.get("title").and_then(Value::as_str).map(pascal);
                        let suggested = title.unwrap_or_else(|| format!("{name}Variant{}", i + 1));
                        out.push(self.usage(docs, &here.join(&i.to_string()), s, &suggested)?);
                    }
                    Value::Array(out)
                }
                k if SUBSCHEMA.contains(&k) => match v {
                    Value::Object(_) => self.usage(docs, &here, v, &format!("{name}{}", pascal(k)))?,
                    other => other.clone(),
                },
                // Known formats become patterns (below); the rest are annotations.
                "format" => continue,
                k if KEYWORDS.contains(&k) => v.clone(),
                // `definitions` are reached through the `$ref`s that use them; the rest is not
                // JSON Schema (`x-…`, `discriminator`, `example`...).
                _ => continue,
            };
            out.insert(k.clone(), value);
        }
        if let Some(p) = obj.get("format").and_then(Value::as_str).and_then(format_pattern)
            && !out.contains_key("pattern")
        {
            out.insert("pattern".into(), p.into());
            out.entry("type").or_insert_with(|| "string".into());
        }
        if !out.contains_key("type") {
            if out.contains_key("properties") {
                out.insert("type".into(), "object".into());
            } else if out
                .get("enum")
                .and_then(Value::as_array)
                .is_some_and(|e| e.iter().all(Value::is_string))
            {
                out.insert("type".into(), "string".into());
            }
        }
        Ok(Value::Object(out))
    }
}

/// One schema of the members of `allOf` (each may be a `$ref`) and the schema's own
/// keywords: `properties` and `required` of all, any other keyword from the first that has
/// it. Members of different `type`s are refused.
pub(super) fn merge_all_of(docs: &mut Docs, at: &At, obj: &Map<String, Value>, all: &Value) -> Result<Value> {
    let here = at.join("allOf");
    let members = all.as_array().ok_or_else(|| refuse(&here, "must be a list of schemas"))?;
    let mut merged = obj.clone();
    merged.remove("allOf");
    let mut ty = obj.get("type").and_then(Value::as_str).map(str::to_owned);
    for (i, m) in members.iter().enumerate() {
        let (_, m) = docs.deref(&here.join(&i.to_string()), m)?;
        let m = match m.get("allOf") {
            Some(inner) => {
                let mo = m.as_object().cloned().unwrap_or_default();
                merge_all_of(docs, &here.join(&i.to_string()), &mo, inner)?
            }
            None => m,
        };
        let Some(m) = m.as_object() else { continue };
        for k in m.keys() {
            if matches!(k.as_str(), "oneOf" | "anyOf") {
                return Err(refuse(
                    &here.join(&i.to_string()),
                    format!(
                        "`allOf` with a `{k}` member is not generated: name each combination as its own object"
                    ),
                ));
            }
        }
        let member_ty = m
            .get("type")
            .and_then(Value::as_str)
            .or_else(|| m.get("properties").map(|_| "object"))
            .map(str::to_owned);
        match (&ty, member_ty) {
            (Some(a), Some(b)) if *a != b => {
                return Err(refuse(
                    &here.join(&i.to_string()),
                    format!("`allOf` of a `{a}` and a `{b}`: no value is both"),
                ));
            }
            (None, Some(b)) => ty = Some(b),
            _ => {}
        }
        for (k, v) in m {
            match k.as_str() {
                "properties" => {
                    let props = merged.entry("properties").or_insert_with(|| json!({}));
                    for (p, s) in v.as_object().into_iter().flatten() {
                        props[p] = s.clone();
                    }
                }
                "required" => {
                    let req = merged.entry("required").or_insert_with(|| json!([]));
                    for r in v.as_array().into_iter().flatten() {
                        if let Some(list) = req.as_array_mut()
                            && !list.contains(r)
                        {
                            list.push(r.clone());
                        }
                    }
                }
                _ => {
                    merged.entry(k.clone()).or_insert_with(|| v.clone());
                }
            }
        }
    }
    if let Some(t) = ty {
        merged.insert("type".into(), t.into());
    }
    Ok(Value::Object(merged))
}

/// Whether a schema becomes a named type: objects, string enums, constrained strings, typed
/// unions and `allOf`s.
fn needs_name(schema: &Value) -> bool {
    let ty = schema.get("type").and_then(Value::as_str);
    let string_enum =
        schema.get("enum").and_then(Value::as_array).is_some_and(|e| e.iter().all(Value::is_string));
    schema.get("properties").is_some()
        || ty == Some("object")
        || (string_enum && matches!(ty, None | Some("string")))
        || (matches!(ty, None | Some("string"))
            && (schema.get("pattern").is_some()
                || schema.get("format").and_then(Value::as_str).and_then(format_pattern).is_some()))
        || typed_union(schema).is_some()
}

/// The name a referred-to schema keeps: its pointer's last token, else a whole file's
/// `title`, else the file's name.
fn natural_name(place: &At, schema: &Value) -> String {
    let last = place.last();
    let base = if !last.is_empty() {
        last.to_owned()
    } else if let Some(t) = schema.get("title").and_then(Value::as_str) {
        t.to_owned()
    } else {
        let file = place.file.rsplit('/').next().unwrap_or_default();
        file.split('.').next().unwrap_or_default().to_owned()
    };
    if is_plain_ident(&base) && base.starts_with(|c: char| c.is_ascii_alphabetic()) {
        base
    } else {
        pascal(&base)
    }
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use super::*;

    fn named(doc: Value, ptr: &str, suggested: &str) -> (String, Map<String, Value>) {
        let mut docs = Docs::new(doc, Path::new("."));
        let at = At::root(ptr);
        let value = docs.get(&at).cloned().unwrap();
        let mut s = Schemas::default();
        let name = s.named(&mut docs, &at, &value, suggested).unwrap();
        (name, s.defs)
    }

    #[test]
    fn inline_objects_enums_and_patterns_get_names_from_their_place() {
        let doc = json!({"p": {"type": "object", "x-extra": 1, "example": {},
            "properties": {
                "kind": {"type": "string", "enum": ["a", "b"]},
                "id": {"type": "string", "pattern": "^[a-z]+$"},
                "at": {"type": "string", "format": "date-time"},
                "tags": {"type": "array", "items": {"type": "object", "properties": {"k": {"type": "string"}}}},
                "unit": {"$ref": "#/components/schemas/Unit"}}},
            "components": {"schemas": {"Unit": {"enum": ["C", "F"]}}}});
        let (name, defs) = named(doc, "/p", "ReadingPayload");
        assert_eq!(name, "ReadingPayload");
        let keys: Vec<&str> = defs.keys().map(String::as_str).collect();
        assert_eq!(
            keys,
            [
                "ReadingPayload",
                "ReadingPayloadKind",
                "ReadingPayloadId",
                "ReadingPayloadAt",
                "ReadingPayloadTagsItem",
                "Unit"
            ]
        );
        let p = &defs["ReadingPayload"];
        assert_eq!(p["properties"]["kind"], json!({"$ref": "#/definitions/ReadingPayloadKind"}));
        assert_eq!(p["properties"]["at"], json!({"$ref": "#/definitions/ReadingPayloadAt"}));
        assert_eq!(defs["ReadingPayloadAt"]["pattern"], format_pattern("date-time").unwrap());
        assert!(defs["ReadingPayloadAt"].get("format").is_none(), "a format is its pattern");
        assert_eq!(p["properties"]["tags"]["items"], json!({"$ref": "#/definitions/ReadingPayloadTagsItem"}));
        assert!(p.get("x-extra").is_none() && p.get("example").is_none(), "{p}");
        assert_eq!(defs["Unit"]["type"], "string", "an enum of strings is a string type");
    }

    #[test]
    fn all_of_merges_and_one_of_names_its_variants() {
        let doc = json!({
            "m": {"allOf": [{"$ref": "#/components/schemas/Base"}, {"properties": {"b": {"type": "integer"}}, "required": ["b"]}]},
            "u": {"oneOf": [{"$ref": "#/components/schemas/Base"}, {"title": "other thing", "type": "object", "properties": {}}]},
            "components": {"schemas": {"Base": {"type": "object", "required": ["a"], "properties": {"a": {"type": "string"}}}}}});
        let (_, defs) = named(doc.clone(), "/m", "Merged");
        assert_eq!(defs["Merged"]["required"], json!(["a", "b"]));
        assert_eq!(defs["Merged"]["properties"]["b"], json!({"type": "integer"}));
        let (_, defs) = named(doc, "/u", "Union");
        assert_eq!(
            defs["Union"]["oneOf"],
            json!([{"$ref": "#/definitions/Base"}, {"$ref": "#/definitions/OtherThing"}])
        );
    }
}
