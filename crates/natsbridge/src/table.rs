//! Arrow tables: the only module that touches Arrow IPC.
//!
//! Writers produce the IPC **stream** format (never file, CSV or row JSON), with plain
//! `Utf8`/`Binary` columns as every reference reader expects. Readers decode with
//! [`StreamDecoder`] over an [`arrow_buffer::Buffer`], so column data aliases the received
//! bytes instead of being copied.

use arrow_array::RecordBatch;
use arrow_buffer::Buffer;
use arrow_ipc::reader::StreamDecoder;
use arrow_ipc::writer::StreamWriter;
use arrow_schema::SchemaRef;

use crate::error::{Error, ErrorCode, Result};

/// A decoded table: its schema and record batches.
#[derive(Debug, Clone)]
pub struct Table {
    /// The table's schema.
    pub schema: SchemaRef,
    /// The batches, in stream order.
    pub batches: Vec<RecordBatch>,
}

impl Table {
    /// A table of one or more batches that share `schema`.
    pub fn new(schema: SchemaRef, batches: Vec<RecordBatch>) -> Self {
        Table { schema, batches }
    }

    /// A table of one batch.
    pub fn from_batch(batch: RecordBatch) -> Self {
        Table { schema: batch.schema(), batches: vec![batch] }
    }

    /// Total rows over all batches.
    pub fn num_rows(&self) -> usize {
        self.batches.iter().map(RecordBatch::num_rows).sum()
    }
}

/// Limits applied while decoding untrusted IPC bytes.
#[derive(Debug, Clone, Copy)]
pub struct TableLimits {
    /// Most record batches accepted in one stream.
    pub max_batches: usize,
    /// Most columns accepted in the schema.
    pub max_columns: usize,
}

impl Default for TableLimits {
    fn default() -> Self {
        TableLimits { max_batches: 1_000_000, max_columns: 10_000 }
    }
}

/// Writes `table` as an Arrow IPC stream.
pub fn encode_table(table: &Table) -> Result<Vec<u8>> {
    let bytes: usize = table.batches.iter().map(RecordBatch::get_array_memory_size).sum();
    let mut out = Vec::with_capacity(bytes + 4096);
    let err = |e| Error::new(ErrorCode::SerializationError, "writing the Arrow IPC stream").with_source(e);
    let mut writer = StreamWriter::try_new(&mut out, &table.schema).map_err(err)?;
    for batch in &table.batches {
        writer.write(batch).map_err(err)?;
    }
    writer.finish().map_err(err)?;
    drop(writer);
    Ok(out)
}

/// Decodes an Arrow IPC stream without copying column data (when the buffer is 8-byte
/// aligned, which every buffer this crate produces is).
pub fn decode_table(bytes: Buffer, limits: TableLimits) -> Result<Table> {
    let err = |e| Error::new(ErrorCode::DeserializationError, "not a valid Arrow IPC stream").with_source(e);
    let mut decoder = StreamDecoder::new();
    let mut buffer = bytes;
    let mut batches = Vec::new();
    while !buffer.is_empty() {
        match decoder.decode(&mut buffer).map_err(err)? {
            Some(batch) => {
                if batches.len() >= limits.max_batches {
                    return Err(Error::new(
                        ErrorCode::PayloadTooLarge,
                        format!("more than {} record batches", limits.max_batches),
                    ));
                }
                batches.push(batch);
            }
            None => {
                if let Some(schema) = decoder.schema().filter(|s| s.fields().len() > limits.max_columns) {
                    return Err(Error::new(
                        ErrorCode::PayloadTooLarge,
                        format!("{} columns (limit {})", schema.fields().len(), limits.max_columns),
                    ));
                }
            }
        }
    }
    decoder.finish().map_err(err)?;
    let schema = decoder
        .schema()
        .ok_or_else(|| Error::new(ErrorCode::DeserializationError, "Arrow IPC stream without a schema"))?;
    Ok(Table { schema, batches })
}
