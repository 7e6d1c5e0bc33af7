//! Test data every harness shares: the scenario's Arrow table, made with arrow-rs.

use std::sync::Arc;

use arrow_array::{Array, Float64Array, Int64Array, RecordBatch, StringArray, TimestampMicrosecondArray};
use arrow_schema::{DataType, Field, Schema, TimeUnit};
use natsbridge::Table;

/// Rows per record batch of [`table`].
pub const BATCH_ROWS: usize = 1_000_000;

/// The deep-dive table of `rows` rows (about 52 bytes a row as an IPC stream): `id`
/// (0, 1, 2, ...), three measurements, an 8-character `label`, a UTC timestamp `ts`.
/// `on_batch` is called after each batch of [`BATCH_ROWS`] (for progress bars).
pub fn table(rows: usize, mut on_batch: impl FnMut()) -> Table {
    let schema = Arc::new(Schema::new(vec![
        Field::new("id", DataType::Int64, false),
        Field::new("value", DataType::Float64, false),
        Field::new("value2", DataType::Float64, false),
        Field::new("value3", DataType::Float64, false),
        Field::new("label", DataType::Utf8, false),
        Field::new("ts", DataType::Timestamp(TimeUnit::Microsecond, Some("UTC".into())), false),
    ]));
    let mut batches = Vec::new();
    let mut start = 0;
    while start < rows {
        let n = BATCH_ROWS.min(rows - start);
        let ids = Int64Array::from_iter_values(start as i64..(start + n) as i64);
        let v1 = Float64Array::from_iter_values((start..start + n).map(|i| (i as f64 * 0.001).sin()));
        let v2 = Float64Array::from_iter_values((start..start + n).map(|i| i as f64 * 0.5));
        let v3 = Float64Array::from_iter_values((start..start + n).map(|i| (i % 1000) as f64));
        let labels =
            StringArray::from_iter_values((start..start + n).map(|i| format!("L{:07}", i % 10_000_000)));
        let ts = TimestampMicrosecondArray::from_iter_values(
            (start..start + n).map(|i| 1_767_225_600_000_000 + i as i64),
        )
        .with_timezone("UTC");
        let columns: Vec<Arc<dyn Array>> =
            vec![Arc::new(ids), Arc::new(v1), Arc::new(v2), Arc::new(v3), Arc::new(labels), Arc::new(ts)];
        batches.push(RecordBatch::try_new(schema.clone(), columns).expect("columns match the schema"));
        start += n;
        on_batch();
    }
    Table::new(schema, batches)
}

/// [`table`] as an Arrow IPC stream.
pub fn table_ipc(rows: usize) -> Vec<u8> {
    natsbridge::table::encode_table(&table(rows, || {})).expect("an Arrow table encodes")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tables_have_the_rows_asked_for() {
        let mut batches = 0;
        let t = table(BATCH_ROWS + 5, || batches += 1);
        assert_eq!((t.num_rows(), t.batches.len(), batches), (BATCH_ROWS + 5, 2, 2));
        assert_eq!(t.schema.fields().len(), 6);
        assert!(table(0, || {}).batches.is_empty());
    }
}
