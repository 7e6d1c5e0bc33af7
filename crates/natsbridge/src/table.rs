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
use natsbridge_types::profile;

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
        TableLimits { max_batches: profile::TABLE_MAX_BATCHES, max_columns: profile::TABLE_MAX_COLUMNS }
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

/// Chunks of a streamed IPC encoding are about this size.
pub const STREAM_CHUNK: usize = 1 << 20;

/// Batches larger than this are written as slices when streaming, so the encoder holds one
/// slice's encoding at a time rather than a whole batch's.
const STREAM_SLICE_BYTES: usize = 8 << 20; // not a profile value

/// Writes `table` as an Arrow IPC stream, handing it to `emit` in chunks of
/// [`STREAM_CHUNK`] bytes as it is written: memory stays at about one slice of the table
/// instead of the whole encoding. Batches over 8 MiB are written as several smaller
/// batches (zero-copy slices of the same columns). Stops when `emit` returns `false`
/// (the reader went away) and then returns `Ok(false)`.
///
/// A table that needs no slicing comes out byte for byte as [`encode_table`] writes it.
pub fn encode_table_chunks(table: &Table, emit: impl FnMut(bytes::Bytes) -> bool) -> Result<bool> {
    let err = |e| Error::new(ErrorCode::SerializationError, "writing the Arrow IPC stream").with_source(e);
    let mut sink = ChunkSink { buf: Vec::with_capacity(STREAM_CHUNK), emit, open: true };
    let written = (|| {
        let mut writer = StreamWriter::try_new(&mut sink, &table.schema)?;
        for batch in &table.batches {
            let bytes = batch.get_array_memory_size();
            let rows = batch.num_rows();
            if bytes <= STREAM_SLICE_BYTES || rows < 2 {
                writer.write(batch)?;
                continue;
            }
            let per_slice = (rows * STREAM_SLICE_BYTES / bytes).max(1);
            for offset in (0..rows).step_by(per_slice) {
                writer.write(&batch.slice(offset, per_slice.min(rows - offset)))?;
            }
        }
        writer.finish()
    })();
    match written {
        Ok(()) => Ok(sink.flush_chunk()),
        Err(_) if !sink.open => Ok(false),
        Err(e) => Err(err(e)),
    }
}

/// A `Write` that hands its bytes on in chunks of [`STREAM_CHUNK`].
struct ChunkSink<F> {
    buf: Vec<u8>,
    emit: F,
    /// `false` once `emit` refused a chunk.
    open: bool,
}

impl<F: FnMut(bytes::Bytes) -> bool> ChunkSink<F> {
    /// Hands on what is buffered; `false` when the reader is gone.
    fn flush_chunk(&mut self) -> bool {
        if self.open && !self.buf.is_empty() {
            let chunk = std::mem::replace(&mut self.buf, Vec::with_capacity(STREAM_CHUNK));
            self.open = (self.emit)(bytes::Bytes::from(chunk));
        }
        self.open
    }
}

impl<F: FnMut(bytes::Bytes) -> bool> std::io::Write for ChunkSink<F> {
    fn write(&mut self, data: &[u8]) -> std::io::Result<usize> {
        if !self.open {
            return Err(std::io::Error::new(std::io::ErrorKind::BrokenPipe, "the reader went away"));
        }
        let n = data.len().min(STREAM_CHUNK - self.buf.len());
        self.buf.extend_from_slice(&data[..n]);
        if self.buf.len() >= STREAM_CHUNK && !self.flush_chunk() {
            return Err(std::io::Error::new(std::io::ErrorKind::BrokenPipe, "the reader went away"));
        }
        Ok(n)
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// Decodes an Arrow IPC stream without copying column data (when the buffer is 8-byte
/// aligned, which every buffer this crate produces is).
///
/// The bytes come from the network, so the framing is checked first (messages and bodies
/// inside the bytes, 8-byte alignment, buffers inside their bodies):
/// arrow-ipc trusts the buffer ranges a message declares and panics on one that points
/// past its body. A panic that still happens inside arrow becomes an error too.
pub fn decode_table(bytes: Buffer, limits: TableLimits) -> Result<Table> {
    check_framing(bytes.as_slice())?;
    match std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| decode_checked(bytes, limits))) {
        Ok(result) => result,
        Err(_) => Err(Error::new(
            ErrorCode::DeserializationError,
            "not a valid Arrow IPC stream (the Arrow decoder rejected it by panicking)",
        )),
    }
}

fn framing_error(what: String) -> Error {
    Error::new(ErrorCode::DeserializationError, format!("not a valid Arrow IPC stream: {what}"))
}

/// Walks the stream's messages and checks what arrow-ipc would otherwise trust: every
/// message and body lies inside the bytes, bodies and buffers start 8-byte aligned (the
/// IPC format pads to 8, and every writer does), and every buffer and node of a record
/// or dictionary batch lies inside its body and has a non-negative length.
fn check_framing(bytes: &[u8]) -> Result<()> {
    let mut at = 0usize;
    while at < bytes.len() {
        let word = |i: usize| -> Result<u32> {
            bytes
                .get(i..i + 4)
                .map(|b| u32::from_le_bytes([b[0], b[1], b[2], b[3]]))
                .ok_or_else(|| framing_error(format!("cut off at byte {i}")))
        };
        let mut len = word(at)?;
        at += 4;
        if len == u32::MAX {
            len = word(at)?;
            at += 4;
        }
        if len == 0 {
            return Ok(()); // end-of-stream marker
        }
        let meta = bytes
            .get(at..at.saturating_add(len as usize))
            .ok_or_else(|| framing_error(format!("message of {len} bytes at {at} runs past the end")))?;
        at += len as usize;
        if !at.is_multiple_of(8) {
            return Err(framing_error(format!("message body at {at} is not 8-byte aligned")));
        }
        // `InvalidFlatbuffer` is not a `std::error::Error`: its text is all there is.
        let message = arrow_ipc::root_as_message(meta).map_err(|e| framing_error(format!("message: {e}")))?;
        let body =
            u64::try_from(message.bodyLength()).ok().filter(|b| *b <= (bytes.len() - at) as u64).ok_or_else(
                || framing_error(format!("body of {} bytes does not fit the stream", message.bodyLength())),
            )?;
        let batch = message
            .header_as_record_batch()
            .or_else(|| message.header_as_dictionary_batch().and_then(|d| d.data()));
        if let Some(batch) = batch {
            if batch.length() < 0 {
                return Err(framing_error(format!("negative row count {}", batch.length())));
            }
            for b in batch.buffers().into_iter().flatten() {
                let fits = b.offset() >= 0
                    && (b.offset() as u64).is_multiple_of(8)
                    && b.length() >= 0
                    && (b.offset() as u64).checked_add(b.length() as u64).is_some_and(|end| end <= body);
                if !fits {
                    return Err(framing_error(format!(
                        "buffer at {}+{} outside a body of {body} bytes",
                        b.offset(),
                        b.length()
                    )));
                }
            }
            if batch.nodes().into_iter().flatten().any(|n| n.length() < 0 || n.null_count() < 0) {
                return Err(framing_error("a field node with a negative length".into()));
            }
        }
        at += body as usize;
    }
    Ok(())
}

fn decode_checked(bytes: Buffer, limits: TableLimits) -> Result<Table> {
    let err = |e| Error::new(ErrorCode::DeserializationError, "not a valid Arrow IPC stream").with_source(e);
    let mut decoder = StreamDecoder::new();
    let mut buffer = bytes;
    let mut batches = Vec::new();
    while !buffer.is_empty() {
        match decoder.decode(&mut buffer).map_err(err)? {
            Some(batch) => {
                if batches.len() >= limits.max_batches {
                    return Err(Error::new(
                        profile::ERROR_TABLE_LIMITS,
                        format!("more than {} record batches", limits.max_batches),
                    ));
                }
                batches.push(batch);
            }
            None => {
                if let Some(schema) = decoder.schema().filter(|s| s.fields().len() > limits.max_columns) {
                    return Err(Error::new(
                        profile::ERROR_TABLE_LIMITS,
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

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use arrow_array::{Int64Array, StringArray};
    use arrow_schema::{DataType, Field, Schema};

    use super::*;

    fn table(rows: i64, batches: usize) -> Table {
        let schema = Arc::new(Schema::new(vec![
            Field::new("n", DataType::Int64, false),
            Field::new("s", DataType::Utf8, true),
        ]));
        let batch = |b: i64| {
            RecordBatch::try_new(
                schema.clone(),
                vec![
                    Arc::new(Int64Array::from_iter_values((0..rows).map(|i| i + b * rows))),
                    Arc::new(StringArray::from_iter(
                        (0..rows).map(|i| (i % 3 != 0).then(|| format!("r{i}"))),
                    )),
                ],
            )
            .unwrap()
        };
        Table::new(schema.clone(), (0..batches as i64).map(batch).collect())
    }

    fn stream(rows: i64, batches: usize) -> Vec<u8> {
        encode_table(&table(rows, batches)).unwrap()
    }

    fn chunks_of(t: &Table) -> Vec<bytes::Bytes> {
        let mut chunks = Vec::new();
        assert!(
            encode_table_chunks(t, |c| {
                chunks.push(c);
                true
            })
            .unwrap()
        );
        chunks
    }

    #[test]
    fn a_streamed_small_table_is_the_same_stream() {
        let t = table(1000, 3);
        assert_eq!(chunks_of(&t).concat(), encode_table(&t).unwrap());
    }

    /// A 1.2 M-row batch (~20 MB) comes out in 1 MiB chunks, as several batches, holding
    /// the same rows.
    #[test]
    fn a_streamed_large_batch_is_sliced_and_chunked() {
        let t = table(1_200_000, 1);
        let chunks = chunks_of(&t);
        assert!(chunks.len() > 10, "{} chunks", chunks.len());
        assert!(chunks.iter().all(|c| c.len() <= STREAM_CHUNK));
        let decoded = decode_table(Buffer::from_vec(chunks.concat()), TableLimits::default()).unwrap();
        assert!(decoded.batches.len() > 1, "written as slices");
        assert_eq!(decoded.num_rows(), 1_200_000);
        let mut offset = 0;
        for batch in &decoded.batches {
            assert_eq!(batch, &t.batches[0].slice(offset, batch.num_rows()));
            offset += batch.num_rows();
        }
    }

    #[test]
    fn streaming_stops_when_the_reader_goes_away() {
        let t = table(1_200_000, 1);
        let mut seen = 0;
        let complete = encode_table_chunks(&t, |_| {
            seen += 1;
            seen < 3
        })
        .unwrap();
        assert!(!complete);
        assert_eq!(seen, 3, "no chunk after the refusal");
    }

    #[test]
    fn tables_round_trip_without_copying_columns() {
        let bytes = Buffer::from(stream(1000, 3));
        let decoded = decode_table(bytes.clone(), TableLimits::default()).unwrap();
        assert_eq!(decoded.num_rows(), 3000);
        assert_eq!(decoded.batches, table(1000, 3).batches);
        let column = decoded.batches[0].column(0).to_data().buffers()[0].as_ptr() as usize;
        let range = bytes.as_ptr() as usize..bytes.as_ptr() as usize + bytes.len();
        assert!(range.contains(&column), "column data aliases the received bytes");
    }

    /// Every framing defect is a typed error before arrow-ipc sees the bytes.
    #[test]
    fn framing_defects_are_errors() {
        let good = stream(10, 2);
        assert!(check_framing(&good).is_ok());
        assert!(check_framing(&[]).is_ok(), "no messages at all is framed correctly");
        let cases: Vec<(&str, Vec<u8>)> = vec![
            ("cut in the length word", good[..2].to_vec()),
            ("cut after the continuation marker", good[..4].to_vec()),
            ("cut inside the metadata", good[..12].to_vec()),
            ("cut inside a body", good[..good.len() - 20].to_vec()),
            ("a message longer than the stream", {
                let mut b = good.clone();
                b[4..8].copy_from_slice(&u32::MAX.wrapping_sub(1).to_le_bytes());
                b
            }),
            ("a misaligned body", {
                let mut b = good.clone();
                let len = u32::from_le_bytes([b[4], b[5], b[6], b[7]]);
                b[4..8].copy_from_slice(&(len + 1).to_le_bytes());
                b
            }),
            ("metadata that is not a flatbuffer", {
                let mut b = vec![0xff, 0xff, 0xff, 0xff, 8, 0, 0, 0];
                b.extend_from_slice(&[0xAB; 8]);
                b
            }),
        ];
        for (what, bytes) in cases {
            let err = check_framing(&bytes).err().unwrap_or_else(|| panic!("{what}: accepted"));
            assert_eq!(err.code(), &ErrorCode::DeserializationError, "{what}");
            let err = decode_table(Buffer::from(bytes), TableLimits::default()).unwrap_err();
            assert_eq!(err.code(), &ErrorCode::DeserializationError, "{what}");
        }
    }

    #[test]
    fn limits_are_enforced() {
        let limits = TableLimits { max_batches: 2, max_columns: 10 };
        assert!(decode_table(Buffer::from(stream(5, 2)), limits).is_ok());
        let err = decode_table(Buffer::from(stream(5, 3)), limits).unwrap_err();
        assert_eq!(err.code(), &ErrorCode::PayloadTooLarge);
        let err = decode_table(Buffer::from(stream(5, 1)), TableLimits { max_batches: 10, max_columns: 1 })
            .unwrap_err();
        assert_eq!(err.code(), &ErrorCode::PayloadTooLarge);
    }
}
