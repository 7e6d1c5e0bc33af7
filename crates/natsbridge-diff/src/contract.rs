//! The envelope contract itself (this repository's `schema/`): the JSON Schema files that
//! define `msg_envelope_v1` and its parts, and `asyncapi.yaml`. `cargo xtask spec-diff`
//! judges it; a team's document is judged by [`crate::document`].

mod asyncapi;

use std::collections::BTreeMap;
use std::path::Path;

use anyhow::{Context, Result, bail};
use serde_json::Value;

use natsbridge_codegen::model::{Model, read_schema_dir};

use crate::Comparable;
use crate::change::{Change, Diff};
use crate::schema::{Defs, Schemas};

/// One version of the contract: its bundled definitions and its AsyncAPI document.
#[derive(Debug)]
pub struct Schema {
    definitions: Defs,
    roots: Vec<String>,
    asyncapi: Value,
}

impl Schema {
    /// From `(file name, text)` pairs: `*.schema.json` and `asyncapi.yaml`.
    pub fn from_files(label: &str, files: &BTreeMap<String, String>) -> Result<Schema> {
        let schemas: BTreeMap<String, String> = files
            .iter()
            .filter(|(k, _)| k.ends_with(".schema.json"))
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect();
        if schemas.is_empty() {
            bail!("{label}: no *.schema.json files");
        }
        let model = Model::from_files(&schemas).with_context(|| format!("{label}: loading the schema"))?;
        let definitions = model.bundled["definitions"]
            .as_object()
            .map(|o| o.iter().map(|(k, v)| (k.clone(), v.clone())).collect())
            .unwrap_or_default();
        let asyncapi = match files.get("asyncapi.yaml") {
            Some(text) => {
                serde_norway::from_str(text).with_context(|| format!("{label}: parsing asyncapi.yaml"))?
            }
            None => Value::Null,
        };
        Ok(Schema { definitions, roots: model.roots, asyncapi })
    }
}

impl Comparable for Schema {
    /// The schema files of a directory.
    fn load(path: &Path) -> Result<Schema> {
        Schema::from_files(&path.display().to_string(), &read_schema_dir(path)?)
    }

    fn version(&self) -> Option<String> {
        self.asyncapi.pointer("/info/version").and_then(Value::as_str).map(str::to_owned)
    }

    fn changes(old: &Schema, new: &Schema) -> Vec<Change> {
        let mut diff = Diff::default();
        Schemas::new(&old.definitions, &new.definitions, false).diff_definitions(&old.roots, &mut diff);
        asyncapi::diff_asyncapi(&old.asyncapi, &new.asyncapi, &mut diff);
        diff.changes
    }
}
