//! The v1 vectors and their blobs, compiled into the library so the runner works without a
//! checkout (`natsbridge conformance`). The lists are kept in sync with `conformance/v1/` by
//! the test below, which fails when a file on disk is not embedded (or one embedded is gone).
//! They are read through two symlinks in the crate, `vectors` (→ `conformance/v1`) and
//! `common_v1.schema.json` (→ `schema/`), so that `cargo package` puts them in the published
//! crate (it follows symlinks; it never takes a file from outside the package).

/// `conformance/v1/*.json`: (file name, text).
pub(crate) const VECTOR_FILES: &[(&str, &str)] = &[
    ("arguments-allow-host.json", include_str!("../vectors/arguments-allow-host.json")),
    ("arguments-connect.json", include_str!("../vectors/arguments-connect.json")),
    ("arguments-start.json", include_str!("../vectors/arguments-start.json")),
    ("bad-data.json", include_str!("../vectors/bad-data.json")),
    ("budget.json", include_str!("../vectors/budget.json")),
    ("enums.json", include_str!("../vectors/enums.json")),
    ("fetch.json", include_str!("../vectors/fetch.json")),
    ("hostile.json", include_str!("../vectors/hostile.json")),
    ("payload-types.json", include_str!("../vectors/payload-types.json")),
    ("reference-examples.json", include_str!("../vectors/reference-examples.json")),
    ("replies-build.json", include_str!("../vectors/replies-build.json")),
    ("replies-read.json", include_str!("../vectors/replies-read.json")),
    ("required.json", include_str!("../vectors/required.json")),
    ("strings.json", include_str!("../vectors/strings.json")),
    ("transports.json", include_str!("../vectors/transports.json")),
    ("typed.json", include_str!("../vectors/typed.json")),
    ("types.json", include_str!("../vectors/types.json")),
    ("unknown-fields.json", include_str!("../vectors/unknown-fields.json")),
    ("writer-api.json", include_str!("../vectors/writer-api.json")),
];

/// `conformance/v1/blobs/*`, what the link vectors point at: (file name, bytes).
pub(crate) const BLOB_FILES: &[(&str, &[u8])] = &[
    ("big.bin", include_bytes!("../vectors/blobs/big.bin")),
    ("note.txt", include_bytes!("../vectors/blobs/note.txt")),
    ("table-pyarrow.arrows", include_bytes!("../vectors/blobs/table-pyarrow.arrows")),
];

/// `schema/common_v1.schema.json`: the payload types the schema knows (a lane's `hello`
/// may leave out only these; an unknown type is never "not applicable").
pub(crate) const COMMON_SCHEMA: &str = include_str!("../common_v1.schema.json");

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
