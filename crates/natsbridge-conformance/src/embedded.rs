//! The v1 vectors and their blobs, compiled into the library so the runner works without a
//! checkout (`natsbridge conformance`). The lists are kept in sync with `conformance/v1/` by
//! the test below, which fails when a file on disk is not embedded (or one embedded is gone).

/// `conformance/v1/*.json`: (file name, text).
pub(crate) const VECTOR_FILES: &[(&str, &str)] = &[
    ("arguments-allow-host.json", include_str!("../../../conformance/v1/arguments-allow-host.json")),
    ("arguments-start.json", include_str!("../../../conformance/v1/arguments-start.json")),
    ("bad-data.json", include_str!("../../../conformance/v1/bad-data.json")),
    ("budget.json", include_str!("../../../conformance/v1/budget.json")),
    ("enums.json", include_str!("../../../conformance/v1/enums.json")),
    ("fetch.json", include_str!("../../../conformance/v1/fetch.json")),
    ("hostile.json", include_str!("../../../conformance/v1/hostile.json")),
    ("payload-types.json", include_str!("../../../conformance/v1/payload-types.json")),
    ("reference-examples.json", include_str!("../../../conformance/v1/reference-examples.json")),
    ("replies-build.json", include_str!("../../../conformance/v1/replies-build.json")),
    ("replies-read.json", include_str!("../../../conformance/v1/replies-read.json")),
    ("required.json", include_str!("../../../conformance/v1/required.json")),
    ("strings.json", include_str!("../../../conformance/v1/strings.json")),
    ("transports.json", include_str!("../../../conformance/v1/transports.json")),
    ("typed.json", include_str!("../../../conformance/v1/typed.json")),
    ("types.json", include_str!("../../../conformance/v1/types.json")),
    ("unknown-fields.json", include_str!("../../../conformance/v1/unknown-fields.json")),
    ("writer-api.json", include_str!("../../../conformance/v1/writer-api.json")),
];

/// `conformance/v1/blobs/*`, what the link vectors point at: (file name, bytes).
pub(crate) const BLOB_FILES: &[(&str, &[u8])] = &[
    ("big.bin", include_bytes!("../../../conformance/v1/blobs/big.bin")),
    ("note.txt", include_bytes!("../../../conformance/v1/blobs/note.txt")),
    ("table-pyarrow.arrows", include_bytes!("../../../conformance/v1/blobs/table-pyarrow.arrows")),
];

/// `schema/common_v1.schema.json`: the payload types the schema knows (a lane's `hello`
/// may leave out only these; an unknown type is never "not applicable").
pub(crate) const COMMON_SCHEMA: &str = include_str!("../../../schema/common_v1.schema.json");

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;
    use std::path::Path;

    use super::*;

    /// Every file of a directory, by name (sorted), with its bytes.
    fn files(dir: &Path) -> BTreeMap<String, Vec<u8>> {
        std::fs::read_dir(dir)
            .unwrap()
            .map(|e| e.unwrap().path())
            .filter(|p| p.is_file())
            .map(|p| (p.file_name().unwrap().to_string_lossy().into_owned(), std::fs::read(&p).unwrap()))
            .collect()
    }

    /// The embedded lists are exactly the files of `conformance/v1/` and `conformance/v1/blobs/`:
    /// a vector file or blob added on disk and not listed here fails this test.
    #[test]
    fn the_embedded_vectors_are_the_files_on_disk() {
        let v1 = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../conformance/v1");
        let on_disk = files(&v1);
        let embedded: BTreeMap<String, Vec<u8>> =
            VECTOR_FILES.iter().map(|(n, t)| ((*n).to_owned(), t.as_bytes().to_vec())).collect();
        assert_eq!(
            on_disk.keys().collect::<Vec<_>>(),
            embedded.keys().collect::<Vec<_>>(),
            "conformance/v1/ and VECTOR_FILES in {} differ: list every vector file there",
            file!()
        );
        assert!(on_disk == embedded, "an embedded vector file differs from the one on disk");
        let others: Vec<String> = std::fs::read_dir(&v1)
            .unwrap()
            .map(|e| e.unwrap().path())
            .filter(|p| !p.is_file())
            .map(|p| p.file_name().unwrap().to_string_lossy().into_owned())
            .collect();
        assert_eq!(others, ["blobs"], "conformance/v1/ holds only vector files and blobs/");
        let blobs = files(&v1.join("blobs"));
        let embedded: BTreeMap<String, Vec<u8>> =
            BLOB_FILES.iter().map(|(n, b)| ((*n).to_owned(), b.to_vec())).collect();
        assert_eq!(
            blobs.keys().collect::<Vec<_>>(),
            embedded.keys().collect::<Vec<_>>(),
            "conformance/v1/blobs/ and BLOB_FILES in {} differ: list every blob there",
            file!()
        );
        assert!(blobs == embedded, "an embedded blob differs from the one on disk");
    }
}
