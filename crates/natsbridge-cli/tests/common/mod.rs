//! Helpers shared by the CLI's integration tests.

use std::sync::Arc;

use arrow_array::{Float64Array, Int64Array, RecordBatch, StringArray};
use arrow_schema::{DataType, Field, Schema};

/// Writes an Arrow IPC stream of `rows` rows (id, value, label) made with arrow-rs.
pub(crate) fn write_table(path: &std::path::Path, rows: usize) {
    let schema = Arc::new(Schema::new(vec![
        Field::new("id", DataType::Int64, false),
        Field::new("value", DataType::Float64, false),
        Field::new("label", DataType::Utf8, false),
    ]));
    let batch = RecordBatch::try_new(
        schema.clone(),
        vec![
            Arc::new(Int64Array::from_iter_values(0..rows as i64)),
            Arc::new(Float64Array::from_iter_values((0..rows).map(|i| i as f64 / 3.0))),
            Arc::new(StringArray::from_iter_values((0..rows).map(|i| format!("r{}", i % 1000)))),
        ],
    )
    .unwrap();
    let table = natsbridge::Table::from_batch(batch);
    std::fs::write(path, natsbridge::encode_table(&table).unwrap()).unwrap();
}
