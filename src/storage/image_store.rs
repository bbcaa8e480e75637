//! Where image data lives. [`ImageStore`] is the seam for other stores (an
//! object store, say); [`FsStore`] keeps each image as one file in a
//! directory. Data arrives as a stream of chunks and is written, measured
//! and hashed (MD5 and SHA-512) in one pass, never held in memory whole.

use std::fs::File;
use std::io::{self, Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};
use std::sync::mpsc;

use bytes::Bytes;
use md5::{Digest, Md5};
use ring::digest::{Context as Sha512, SHA512};

/// Where in a store a blob is kept: the store proper, or the staging area
/// of the interoperable import (`PUT /v2/images/{id}/stage`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Area {
    Store,
    Staging,
}

/// A blob being written; invisible until [`BlobWriter::commit`].
pub trait BlobWriter: Send {
    fn write_chunk(&mut self, chunk: &[u8]) -> io::Result<()>;
    /// Makes the blob visible under its name (replacing nothing: a store
    /// refuses to commit over an existing blob).
    fn commit(self: Box<Self>) -> io::Result<()>;
    /// Discards what was written. Also what dropping an uncommitted writer does.
    fn abort(self: Box<Self>);
}

/// A blob being read: its length, and reads from any offset.
pub trait BlobReader: Read + Seek + Send {
    fn len(&self) -> u64;
    fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// A place that keeps image data by image id.
pub trait ImageStore: Send + Sync {
    /// The store's id, as `stores` and `/v2/info/stores` show it.
    fn id(&self) -> &'static str;
    fn create(&self, image: &str, area: Area) -> io::Result<Box<dyn BlobWriter>>;
    fn open(&self, image: &str, area: Area) -> io::Result<Box<dyn BlobReader>>;
    /// Removes a blob; a missing one is not an error.
    fn delete(&self, image: &str, area: Area) -> io::Result<()>;
    /// Moves a staged blob into the store.
    fn promote(&self, image: &str) -> io::Result<()>;
    /// A local file holding the blob, when the store has one (lets tools
    /// such as `qemu-img` inspect it).
    fn local_path(&self, image: &str, area: Area) -> Option<PathBuf>;
    /// Blobs of the store (not staging), for integrity checks.
    fn list(&self) -> io::Result<Vec<String>>;
    /// Removes what an interrupted write of a blob left; none is not an error.
    fn discard_partial(&self, image: &str, area: Area) -> io::Result<()>;
    /// The blobs whose write has not completed (live or interrupted).
    fn partials(&self) -> io::Result<Vec<(String, Area)>>;
}

/// Images as files: `<root>/<image id>`, staged data in `<root>/staging/`,
/// uploads in progress as `<name>.partial` (renamed when complete, so a
/// crash never leaves a half-written blob under an image's name).
pub struct FsStore {
    root: PathBuf,
}

impl FsStore {
    /// Opens (creating) the store. Partial files are left alone: in a
    /// store shared by several processes they may be live uploads; the
    /// image service discards those of interrupted transfers.
    pub fn open(root: &Path) -> io::Result<FsStore> {
        std::fs::create_dir_all(root.join("staging"))?;
        Ok(FsStore { root: root.to_path_buf() })
    }

    fn path(&self, image: &str, area: Area) -> io::Result<PathBuf> {
        // Image ids are UUIDs; anything else could escape the directory.
        if image.is_empty() || !image.bytes().all(|b| b.is_ascii_hexdigit() || b == b'-') {
            return Err(io::Error::new(io::ErrorKind::InvalidInput, "not an image id"));
        }
        Ok(match area {
            Area::Store => self.root.join(image),
            Area::Staging => self.root.join("staging").join(image),
        })
    }
}

struct FsWriter {
    file: Option<io::BufWriter<File>>,
    partial: PathBuf,
    target: PathBuf,
}

impl BlobWriter for FsWriter {
    fn write_chunk(&mut self, chunk: &[u8]) -> io::Result<()> {
        self.file.as_mut().expect("open until commit").write_all(chunk)
    }

    fn commit(mut self: Box<Self>) -> io::Result<()> {
        let file = self.file.take().expect("committed once");
        let file = file.into_inner().map_err(|e| e.into_error())?;
        file.sync_data()?;
        if self.target.exists() {
            let _ = std::fs::remove_file(&self.partial);
            return Err(io::Error::new(io::ErrorKind::AlreadyExists, "image data already exists"));
        }
        std::fs::rename(&self.partial, &self.target)
    }

    fn abort(self: Box<Self>) {}
}

impl Drop for FsWriter {
    fn drop(&mut self) {
        if self.file.take().is_some() {
            let _ = std::fs::remove_file(&self.partial);
        }
    }
}

struct FsReader {
    file: File,
    len: u64,
}

impl Read for FsReader {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        self.file.read(buf)
    }
}

impl Seek for FsReader {
    fn seek(&mut self, pos: SeekFrom) -> io::Result<u64> {
        self.file.seek(pos)
    }
}

impl BlobReader for FsReader {
    fn len(&self) -> u64 {
        self.len
    }
}

impl ImageStore for FsStore {
    fn id(&self) -> &'static str {
        "fs"
    }

    fn create(&self, image: &str, area: Area) -> io::Result<Box<dyn BlobWriter>> {
        let target = self.path(image, area)?;
        let partial = target.with_extension("partial");
        let file = std::fs::OpenOptions::new().write(true).create_new(true).open(&partial)?;
        Ok(Box::new(FsWriter { file: Some(io::BufWriter::with_capacity(1 << 20, file)), partial, target }))
    }

    fn open(&self, image: &str, area: Area) -> io::Result<Box<dyn BlobReader>> {
        let file = File::open(self.path(image, area)?)?;
        let len = file.metadata()?.len();
        Ok(Box::new(FsReader { file, len }))
    }

    fn delete(&self, image: &str, area: Area) -> io::Result<()> {
        match std::fs::remove_file(self.path(image, area)?) {
            Err(e) if e.kind() != io::ErrorKind::NotFound => Err(e),
            _ => Ok(()),
        }
    }

    fn promote(&self, image: &str) -> io::Result<()> {
        std::fs::rename(self.path(image, Area::Staging)?, self.path(image, Area::Store)?)
    }

    fn local_path(&self, image: &str, area: Area) -> Option<PathBuf> {
        self.path(image, area).ok()
    }

    fn discard_partial(&self, image: &str, area: Area) -> io::Result<()> {
        match std::fs::remove_file(self.path(image, area)?.with_extension("partial")) {
            Err(e) if e.kind() != io::ErrorKind::NotFound => Err(e),
            _ => Ok(()),
        }
    }

    fn partials(&self) -> io::Result<Vec<(String, Area)>> {
        let mut out = Vec::new();
        for (dir, area) in [(self.root.clone(), Area::Store), (self.root.join("staging"), Area::Staging)] {
            for entry in std::fs::read_dir(&dir)? {
                let name = entry?.file_name().to_string_lossy().into_owned();
                if let Some(image) = name.strip_suffix(".partial") {
                    out.push((image.to_string(), area));
                }
            }
        }
        Ok(out)
    }

    fn list(&self) -> io::Result<Vec<String>> {
        let mut out = Vec::new();
        for entry in std::fs::read_dir(&self.root)? {
            let entry = entry?;
            if entry.file_type()?.is_file() {
                let name = entry.file_name().to_string_lossy().into_owned();
                if !name.ends_with(".partial") && !name.starts_with('.') {
                    out.push(name);
                }
            }
        }
        Ok(out)
    }
}

/// The name of the file that ties a filesystem store to its database.
const MARKER: &str = ".ironbark-store";

/// Ties a filesystem store to the database: the first process writes one
/// random id into both. A process whose store directory lacks the
/// database's id does not see this database's images (each process
/// sharing a database with a directory of its own, say) and stops with a
/// clear message instead of failing downloads later.
pub fn check_shared(storage: &super::Storage, root: &Path) -> anyhow::Result<()> {
    let marker = root.join(MARKER);
    let on_disk = std::fs::read_to_string(&marker).ok().map(|s| s.trim().to_string()).filter(|s| !s.is_empty());
    let candidate = on_disk.clone().unwrap_or_else(|| uuid::Uuid::new_v4().to_string());
    let in_db = storage.write_blocking(|c| super::settings::get_or_insert(c, "image_store_id", &candidate))?;
    let shared = "give every ironbark sharing the database the same IRONBARK_IMAGE__STORE_DIR (a shared directory)";
    match on_disk {
        Some(d) if d == in_db => Ok(()),
        Some(d) => anyhow::bail!(
            "the image store {} belongs to another database (store {d}; this database's is {in_db}); {shared}",
            root.display()
        ),
        None if in_db == candidate => {
            std::fs::write(&marker, format!("{in_db}\n"))
                .map_err(|e| anyhow::anyhow!("cannot write {}: {e}", marker.display()))?;
            Ok(())
        }
        None => anyhow::bail!(
            "the image store {} does not hold this database's images (store {in_db} is elsewhere); {shared}",
            root.display()
        ),
    }
}

/// What one pass over image data measured.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Digests {
    pub size: u64,
    /// MD5, lower-case hex (Glance's `checksum`).
    pub md5: String,
    /// SHA-512, lower-case hex (`os_hash_value`).
    pub sha512: String,
}

/// Why an ingest stopped.
#[derive(Debug, thiserror::Error)]
pub enum IngestError {
    #[error("the image data is larger than the allowed {0} bytes")]
    TooLarge(u64),
    #[error("the upload was cut before all data arrived")]
    Cut,
    #[error("the upload stream failed: {0}")]
    Stream(String),
    #[error("cannot store the image data: {0}")]
    Io(#[from] io::Error),
}

/// A chunk of an upload, or the end of it (`Ok(None)` = complete).
pub type Chunk = Result<Bytes, IngestError>;

/// Writes chunks from `rx` into `writer` while measuring and hashing them,
/// and commits when the stream ends cleanly (and, when `expected` is
/// known, has exactly that many bytes). SHA-512 runs on a second thread
/// so that both hashes proceed in parallel with the writes; chunks are
/// shared, not copied. Blocking: run it off the async executor.
pub fn ingest(
    rx: &mut tokio::sync::mpsc::Receiver<Chunk>,
    mut writer: Box<dyn BlobWriter>,
    limit: u64,
    expected: Option<u64>,
) -> Result<Digests, IngestError> {
    let (tx_sha, rx_sha) = mpsc::sync_channel::<Bytes>(64);
    let sha = std::thread::Builder::new().name("image-sha512".into()).spawn(move || {
        let mut h = Sha512::new(&SHA512);
        for chunk in rx_sha {
            h.update(&chunk);
        }
        h.finish()
    })?;
    let mut md5 = Md5::new();
    let mut size = 0u64;
    let outcome = loop {
        match rx.blocking_recv() {
            None => break Ok(()),
            Some(Err(e)) => break Err(e),
            Some(Ok(chunk)) => {
                size += chunk.len() as u64;
                if size > limit {
                    break Err(IngestError::TooLarge(limit));
                }
                if let Err(e) = writer.write_chunk(&chunk) {
                    break Err(e.into());
                }
                md5.update(&chunk);
                if tx_sha.send(chunk).is_err() {
                    break Err(IngestError::Io(io::Error::other("hash thread stopped")));
                }
            }
        }
    };
    drop(tx_sha);
    let sha512 = sha.join().map_err(|_| io::Error::other("hash thread panicked"))?;
    if let Err(e) = outcome {
        writer.abort();
        return Err(e);
    }
    if expected.is_some_and(|n| n != size) {
        writer.abort();
        return Err(IngestError::Cut);
    }
    writer.commit()?;
    Ok(Digests { size, md5: hex(&md5.finalize()), sha512: hex(sha512.as_ref()) })
}

fn hex(bytes: &[u8]) -> String {
    use std::fmt::Write;
    bytes.iter().fold(String::with_capacity(bytes.len() * 2), |mut s, b| {
        let _ = write!(s, "{b:02x}");
        s
    })
}

/// Reads a stored image and checks it against the SHA-512 recorded for it
/// while it is read: the deploy path writes only data that matches.
/// The error comes at the end of the stream, before the last byte would be
/// handed on, so a consumer that stops on error never finishes writing a
/// tampered image.
pub struct VerifiedReader {
    inner: Box<dyn BlobReader>,
    /// `None` once the whole blob has been read and checked.
    hasher: Option<Sha512>,
    expected: String,
    remaining: u64,
    hold: Vec<u8>,
}

impl VerifiedReader {
    pub fn new(inner: Box<dyn BlobReader>, expected_sha512: &str) -> VerifiedReader {
        let remaining = inner.len();
        VerifiedReader {
            inner,
            hasher: Some(Sha512::new(&SHA512)),
            expected: expected_sha512.to_lowercase(),
            remaining,
            hold: Vec::new(),
        }
    }
}

impl Read for VerifiedReader {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        if buf.is_empty() {
            return Ok(0);
        }
        if self.remaining == 0 && self.hold.is_empty() {
            // Only an empty blob gets here with its hash still unchecked.
            if let Some(h) = self.hasher.take()
                && hex(h.finish().as_ref()) != self.expected
            {
                return Err(io::Error::new(io::ErrorKind::InvalidData, "image data does not match its os_hash_value"));
            }
            return Ok(0);
        }
        // Keep the final byte back until the hash over everything is known.
        if self.remaining > 0 {
            let mut tmp = vec![0u8; buf.len().min(self.remaining as usize).max(1)];
            let n = self.inner.read(&mut tmp)?;
            if n == 0 {
                return Err(io::Error::new(io::ErrorKind::UnexpectedEof, "image data is shorter than recorded"));
            }
            self.remaining -= n as u64;
            if let Some(h) = self.hasher.as_mut() {
                h.update(&tmp[..n]);
            }
            self.hold.extend_from_slice(&tmp[..n]);
            if self.remaining == 0
                && let Some(h) = self.hasher.take()
            {
                let actual = hex(h.finish().as_ref());
                if actual != self.expected {
                    self.hold.clear();
                    return Err(io::Error::new(
                        io::ErrorKind::InvalidData,
                        format!("image data does not match its os_hash_value (got {actual})"),
                    ));
                }
            }
        }
        let give = if self.remaining > 0 { self.hold.len() - 1 } else { self.hold.len() }.min(buf.len());
        buf[..give].copy_from_slice(&self.hold[..give]);
        self.hold.drain(..give);
        Ok(give)
    }
}

/// Opens an active image's data for the deploy path, checked against its
/// recorded SHA-512 (`os_hash_value`) while it is read.
pub fn open_verified(store: &dyn ImageStore, image: &str, sha512: &str) -> io::Result<VerifiedReader> {
    Ok(VerifiedReader::new(store.open(image, Area::Store)?, sha512))
}

/// The virtual (guest-visible) size of a disk image, from `qemu-img info`;
/// `None` when the tool is missing or cannot read the file.
pub fn virtual_size(path: &Path, disk_format: &str) -> Option<u64> {
    let format = match disk_format {
        "qcow2" | "vmdk" | "vdi" | "vhdx" | "raw" | "ploop" => disk_format,
        "vhd" => "vpc",
        _ => return None,
    };
    let out = std::process::Command::new("qemu-img")
        .args(["info", "--output=json", "-f", format])
        .arg(path)
        .stdin(std::process::Stdio::null())
        .output()
        .ok()?;
    if !out.status.success() {
        return None;
    }
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).ok()?;
    v.get("virtual-size").and_then(|s| s.as_u64())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn feed(chunks: Vec<Chunk>) -> tokio::sync::mpsc::Receiver<Chunk> {
        let (tx, rx) = tokio::sync::mpsc::channel(chunks.len().max(1));
        for c in chunks {
            tx.try_send(c).unwrap();
        }
        rx
    }

    #[test]
    fn ingest_hashes_and_commits() {
        let dir = tempfile::tempdir().unwrap();
        let store = FsStore::open(dir.path()).unwrap();
        let id = "0b8a1b3e-53f4-4a8e-9a3c-0d9d8f2f6f01";
        let mut rx = feed(vec![Ok(Bytes::from_static(b"hello ")), Ok(Bytes::from_static(b"world"))]);
        let d = ingest(&mut rx, store.create(id, Area::Store).unwrap(), 100, Some(11)).unwrap();
        assert_eq!(d.size, 11);
        assert_eq!(d.md5, "5eb63bbbe01eeed093cb22bb8f5acdc3");
        assert!(d.sha512.starts_with("309ecc489c12d6eb4cc40f50c902f2b4d0ed77ee511a7c7a9bcd3ca86d4cd86f"));
        let mut back = String::new();
        store.open(id, Area::Store).unwrap().read_to_string(&mut back).unwrap();
        assert_eq!(back, "hello world");
        // verified read: the right hash passes, a wrong one fails at the end
        let mut ok = Vec::new();
        open_verified(&store, id, &d.sha512).unwrap().read_to_end(&mut ok).unwrap();
        assert_eq!(ok, b"hello world");
        let mut bad = Vec::new();
        let err = VerifiedReader::new(store.open(id, Area::Store).unwrap(), &"0".repeat(128)).read_to_end(&mut bad);
        assert!(err.is_err());
        assert!(bad.len() < 11, "the last byte is held back from tampered data");
    }

    #[test]
    fn cut_or_oversize_uploads_leave_nothing() {
        let dir = tempfile::tempdir().unwrap();
        let store = FsStore::open(dir.path()).unwrap();
        let id = "0b8a1b3e-53f4-4a8e-9a3c-0d9d8f2f6f02";
        let mut rx = feed(vec![Ok(Bytes::from_static(b"abc")), Err(IngestError::Cut)]);
        assert!(matches!(ingest(&mut rx, store.create(id, Area::Store).unwrap(), 100, None), Err(IngestError::Cut)));
        let mut rx = feed(vec![Ok(Bytes::from_static(b"abcdef"))]);
        assert!(matches!(
            ingest(&mut rx, store.create(id, Area::Store).unwrap(), 4, None),
            Err(IngestError::TooLarge(4))
        ));
        let mut rx = feed(vec![Ok(Bytes::from_static(b"abc"))]);
        assert!(matches!(ingest(&mut rx, store.create(id, Area::Store).unwrap(), 100, Some(5)), Err(IngestError::Cut)));
        assert!(store.list().unwrap().is_empty());
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 1, "only the staging dir: no partial file");
        assert!(store.path("../etc/passwd", Area::Store).is_err());
    }
}
