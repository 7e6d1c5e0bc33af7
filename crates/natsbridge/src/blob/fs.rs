//! A local-directory blob store: links are `file://` URLs.

use std::path::PathBuf;

use futures::future::BoxFuture;

use super::{BlobStore, PutRequest};
use crate::error::{Error, ErrorCode, Result};
use crate::wire::file_name;

/// Writes blobs into a directory and links them as `file://` URLs. Receivers must allow
/// the directory (`ReceiveOptions::allowed_dirs`).
#[derive(Debug, Clone)]
pub struct FsStore {
    dir: PathBuf,
}

impl FsStore {
    /// A store writing into `dir` (created if missing).
    pub fn new(dir: impl Into<PathBuf>) -> Result<Self> {
        let dir = dir.into();
        std::fs::create_dir_all(&dir).map_err(|e| {
            Error::new(ErrorCode::UploadFailed, format!("creating {}", dir.display())).with_source(e)
        })?;
        let dir =
            dir.canonicalize().map_err(|e| Error::new(ErrorCode::UploadFailed, "blob dir").with_source(e))?;
        Ok(FsStore { dir })
    }

    /// The directory blobs are written to.
    pub fn dir(&self) -> &std::path::Path {
        &self.dir
    }
}

impl BlobStore for FsStore {
    fn put(&self, request: PutRequest) -> BoxFuture<'_, Result<String>> {
        Box::pin(async move {
            let id = uuid::Uuid::new_v4().simple().to_string();
            let path = self.dir.join(format!("{id}-{}", file_name(&request.name)));
            tokio::fs::write(&path, &request.bytes).await.map_err(|e| {
                Error::new(ErrorCode::UploadFailed, format!("writing {}", path.display()))
                    .with_source(e)
                    .with_correlation_id(&request.correlation_id)
            })?;
            url::Url::from_file_path(&path)
                .map(|u| u.to_string())
                .map_err(|()| Error::new(ErrorCode::UploadFailed, "blob path is not absolute"))
        })
    }
}
