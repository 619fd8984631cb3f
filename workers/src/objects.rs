//! Files the service keeps: uploaded scans, per-page PDFs and generated certificate batches, in an object
//! store through the `object_store` crate — a local folder by default, an S3-compatible bucket when
//! configured (`s3://bucket/prefix`, credentials from the usual `AWS_*` variables; needs the `s3`
//! build feature). Keys are generated here from ids certscan made, never from user input.

use std::path::Path;
use std::sync::Arc;

use bytes::Bytes;
use object_store::path::Path as ObjectPath;
use object_store::{GetOptions, ObjectStore, PutOptions, PutPayload};

#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ObjectsError {
    #[error("object store {location}: {source}")]
    Store { location: String, source: object_store::Error },
    #[error("object store configuration: {0}")]
    Config(String),
}

impl ObjectsError {
    /// A missing object is permanent (the job names a file nobody uploaded); anything else (the bucket or
    /// disk unreachable) is worth retrying.
    pub fn is_not_found(&self) -> bool {
        matches!(self, ObjectsError::Store { source: object_store::Error::NotFound { .. }, .. })
    }
}

/// A handle on the configured store; cheap to clone.
#[derive(Debug, Clone)]
pub struct Objects {
    store: Arc<dyn ObjectStore>,
    location: String,
}

impl Objects {
    /// A local folder (created when missing).
    pub fn local(dir: &Path) -> Result<Objects, ObjectsError> {
        std::fs::create_dir_all(dir).map_err(|e| ObjectsError::Config(format!("cannot create {}: {e}", dir.display())))?;
        let store = object_store::local::LocalFileSystem::new_with_prefix(dir)
            .map_err(|e| ObjectsError::Store { location: dir.display().to_string(), source: e })?;
        Ok(Objects { store: Arc::new(store), location: dir.display().to_string() })
    }

    /// `s3://bucket[/prefix]` (with the `s3` feature), else a local folder path.
    pub fn from_setting(setting: &str) -> Result<Objects, ObjectsError> {
        if let Some(rest) = setting.strip_prefix("s3://") {
            return Self::s3(setting, rest);
        }
        Objects::local(Path::new(setting))
    }

    #[cfg(feature = "s3")]
    fn s3(url: &str, rest: &str) -> Result<Objects, ObjectsError> {
        let (bucket, prefix) = rest.split_once('/').unwrap_or((rest, ""));
        let store = object_store::aws::AmazonS3Builder::from_env()
            .with_bucket_name(bucket)
            .build()
            .map_err(|e| ObjectsError::Config(format!("{url}: {e}")))?;
        let store: Arc<dyn ObjectStore> =
            if prefix.is_empty() { Arc::new(store) } else { Arc::new(object_store::prefix::PrefixStore::new(store, prefix)) };
        Ok(Objects { store, location: url.to_string() })
    }

    #[cfg(not(feature = "s3"))]
    fn s3(url: &str, _rest: &str) -> Result<Objects, ObjectsError> {
        Err(ObjectsError::Config(format!("{url}: this build has no S3 support; build with `--features s3` (the Docker image has it)")))
    }

    /// Where the store is, for logs.
    pub fn location(&self) -> &str {
        &self.location
    }

    pub async fn put(&self, key: &str, bytes: impl Into<Bytes>) -> Result<(), ObjectsError> {
        let path = ObjectPath::from(key);
        self.store
            .put_opts(&path, PutPayload::from_bytes(bytes.into()), PutOptions::default())
            .await
            .map_err(|e| ObjectsError::Store { location: key.to_string(), source: e })?;
        Ok(())
    }

    pub async fn get(&self, key: &str) -> Result<Bytes, ObjectsError> {
        let path = ObjectPath::from(key);
        let err = |e| ObjectsError::Store { location: key.to_string(), source: e };
        self.store.get_opts(&path, GetOptions::default()).await.map_err(err)?.bytes().await.map_err(err)
    }
}

/// The key of an uploaded scan file.
pub fn scan_key(job_id: &str) -> String {
    format!("scans/{job_id}")
}

/// The key of one page of a job, as its own PDF.
pub fn page_key(job_id: &str, page: usize) -> String {
    format!("pages/{job_id}/{page:05}.pdf")
}

/// Where the crop (PNG) of a register row's signature cell, read on a job's page, is kept.
pub fn signature_crop_key(job_id: &str, page: usize, row: u32) -> String {
    format!("pages/{job_id}/{page:05}-row-{row}.png")
}

/// Where a generated certificate batch's PDF is kept.
pub fn certificates_key(exam_id: &str, batch_id: &str) -> String {
    format!("certificates/{exam_id}/{batch_id}.pdf")
}
