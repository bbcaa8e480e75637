//! The disk of a fake-hardware node: a file per node. A deploy really
//! writes the instance image there (converted to raw by `qemu-img` when it
//! is not raw, verified against the image's SHA-512 while read) and the
//! config drive beside it; cleaning erases both and says what it erased.

use std::fs::{self, File, OpenOptions};
use std::io::{self, Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};
use std::process::Command;

use serde_json::{Value, json};

use super::StepError;
pub use crate::config::EraseMode;

const MIB: u64 = 1024 * 1024;

/// An image to write: its data (verified while read) and its format.
pub struct ImageToWrite {
    pub id: String,
    pub disk_format: String,
    pub data: Box<dyn Read + Send>,
}

/// The directory of fake disks, and how they are erased.
#[derive(Debug, Clone)]
pub struct Disks {
    dir: PathBuf,
    erase: EraseMode,
}

impl Disks {
    pub fn new(dir: PathBuf, erase: EraseMode) -> Disks {
        Disks { dir, erase }
    }

    pub fn disk(&self, node: &str) -> PathBuf {
        self.dir.join(format!("{node}.img"))
    }

    pub fn config_drive(&self, node: &str) -> PathBuf {
        self.dir.join(format!("{node}.configdrive.img"))
    }

    /// Whether cleaning has anything to erase on this node.
    pub fn has_data(&self, node: &str) -> bool {
        self.disk(node).exists() || self.config_drive(node).exists()
    }

    /// Removes a deleted node's disk files.
    pub fn remove(&self, node: &str) -> io::Result<()> {
        for path in [self.disk(node), self.config_drive(node)] {
            match fs::remove_file(&path) {
                Err(e) if e.kind() != io::ErrorKind::NotFound => return Err(e),
                _ => {}
            }
        }
        Ok(())
    }

    /// Writes the image (when given) and the config drive (when given);
    /// returns what was written, for the node's history.
    pub fn write(
        &self,
        node: &str,
        image: Option<ImageToWrite>,
        config_drive: Option<&[u8]>,
    ) -> Result<Value, StepError> {
        fs::create_dir_all(&self.dir).map_err(|e| io_error("create the disk directory", &e))?;
        let mut record = json!({});
        if let Some(img) = image {
            let disk = self.disk(node);
            let bytes = write_image(&disk, img.data, &img.disk_format)
                .map_err(|e| StepError(format!("Deploy failed writing image {}: {e}", img.id)))?;
            record["image"] = json!({"id": img.id, "disk_format": img.disk_format, "bytes": bytes});
        }
        if let Some(cd) = config_drive {
            let path = self.config_drive(node);
            write_atomic(&path, cd).map_err(|e| io_error("write the config drive", &e))?;
            record["config_drive_bytes"] = json!(cd.len());
        }
        Ok(record)
    }

    /// Erases the node's disk and config drive; `None` when there was
    /// nothing to erase.
    pub fn erase(&self, node: &str) -> Result<Option<Value>, StepError> {
        let mut record =
            json!({"mode": match self.erase { EraseMode::Full => "full", EraseMode::Metadata => "metadata" }});
        let mut any = false;
        let disk = self.disk(node);
        if disk.exists() {
            let (size, zeroed) = zero(&disk, self.erase).map_err(|e| io_error("erase the disk", &e))?;
            record["disk_bytes"] = json!(size);
            record["bytes_zeroed"] = json!(zeroed);
            any = true;
        }
        // The config drive holds the tenant's keys and user data: always
        // zeroed whole, then removed.
        let cd = self.config_drive(node);
        if cd.exists() {
            let (size, _) = zero(&cd, EraseMode::Full).map_err(|e| io_error("erase the config drive", &e))?;
            fs::remove_file(&cd).map_err(|e| io_error("remove the config drive", &e))?;
            record["config_drive_bytes_zeroed"] = json!(size);
            any = true;
        }
        Ok(any.then_some(record))
    }
}

fn io_error(what: &str, e: &io::Error) -> StepError {
    StepError(format!("Could not {what}: {e}"))
}

fn write_atomic(path: &Path, data: &[u8]) -> io::Result<()> {
    let tmp = path.with_extension("part");
    fs::write(&tmp, data)?;
    fs::rename(tmp, path)
}

/// Streams the image into `disk` (through a raw conversion when needed);
/// returns the disk's size. On any failure nothing is left behind but the
/// previous disk content.
fn write_image(disk: &Path, mut data: Box<dyn Read + Send>, disk_format: &str) -> io::Result<u64> {
    let part = disk.with_extension("part");
    let copied = (|| {
        let mut out = File::create(&part)?;
        let mut buf = vec![0u8; MIB as usize];
        loop {
            let n = data.read(&mut buf)?;
            if n == 0 {
                break;
            }
            out.write_all(&buf[..n])?;
        }
        out.sync_all()
    })();
    if let Err(e) = copied {
        let _ = fs::remove_file(&part);
        return Err(e);
    }
    let result = match disk_format {
        "raw" | "iso" => fs::rename(&part, disk),
        fmt => {
            let tmp = disk.with_extension("raw");
            let out = Command::new("qemu-img")
                .args(["convert", "-q", "-f", fmt, "-O", "raw"])
                .arg(&part)
                .arg(&tmp)
                .output()
                .map_err(|e| io::Error::other(format!("cannot run qemu-img: {e}")));
            let _ = fs::remove_file(&part);
            match out {
                Ok(o) if o.status.success() => fs::rename(&tmp, disk),
                Ok(o) => {
                    let _ = fs::remove_file(&tmp);
                    Err(io::Error::other(format!(
                        "qemu-img convert from {fmt} failed: {}",
                        String::from_utf8_lossy(&o.stderr).trim()
                    )))
                }
                Err(e) => Err(e),
            }
        }
    };
    result?;
    Ok(fs::metadata(disk)?.len())
}

/// Overwrites the file with zeros (all of it, or its first and last MiB);
/// returns its size and the bytes zeroed.
fn zero(path: &Path, mode: EraseMode) -> io::Result<(u64, u64)> {
    let mut f = OpenOptions::new().write(true).open(path)?;
    let size = f.metadata()?.len();
    let ranges: Vec<(u64, u64)> = match mode {
        EraseMode::Full => vec![(0, size)],
        EraseMode::Metadata if size <= 2 * MIB => vec![(0, size)],
        EraseMode::Metadata => vec![(0, MIB), (size - MIB, size)],
    };
    let zeros = vec![0u8; MIB as usize];
    let mut zeroed = 0;
    for (start, end) in ranges {
        f.seek(SeekFrom::Start(start))?;
        let mut at = start;
        while at < end {
            let n = (end - at).min(MIB) as usize;
            f.write_all(&zeros[..n])?;
            at += n as u64;
        }
        zeroed += end - start;
    }
    f.sync_all()?;
    Ok((size, zeroed))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn image(bytes: Vec<u8>) -> ImageToWrite {
        ImageToWrite { id: "img".into(), disk_format: "raw".into(), data: Box::new(io::Cursor::new(bytes)) }
    }

    #[test]
    fn writes_then_erases() {
        let dir = tempfile::tempdir().unwrap();
        let disks = Disks::new(dir.path().join("d"), EraseMode::Full);
        let data: Vec<u8> = (0..3 * MIB).map(|i| (i % 251) as u8 + 1).collect();
        let rec = disks.write("n1", Some(image(data.clone())), Some(b"drive")).unwrap();
        assert_eq!(rec["image"]["bytes"], 3 * MIB);
        assert_eq!(fs::read(disks.disk("n1")).unwrap(), data);
        let erased = disks.erase("n1").unwrap().unwrap();
        assert_eq!(erased["bytes_zeroed"], 3 * MIB);
        assert!(fs::read(disks.disk("n1")).unwrap().iter().all(|b| *b == 0));
        assert!(!disks.config_drive("n1").exists());
        assert!(disks.erase("n2").unwrap().is_none());
        disks.remove("n1").unwrap();
        assert!(!disks.has_data("n1"));
        disks.remove("n1").unwrap();
    }

    #[test]
    fn metadata_mode_zeroes_the_ends() {
        let dir = tempfile::tempdir().unwrap();
        let disks = Disks::new(dir.path().to_path_buf(), EraseMode::Metadata);
        disks.write("n", Some(image(vec![7u8; 4 * MIB as usize])), None).unwrap();
        let rec = disks.erase("n").unwrap().unwrap();
        assert_eq!(rec["bytes_zeroed"], 2 * MIB);
        let d = fs::read(disks.disk("n")).unwrap();
        assert!(d[..MIB as usize].iter().all(|b| *b == 0) && d[d.len() - 1] == 0 && d[2 * MIB as usize] == 7);
    }

    #[test]
    fn a_failed_read_leaves_no_partial_disk() {
        struct Broken;
        impl Read for Broken {
            fn read(&mut self, _: &mut [u8]) -> io::Result<usize> {
                Err(io::Error::new(io::ErrorKind::InvalidData, "checksum mismatch"))
            }
        }
        let dir = tempfile::tempdir().unwrap();
        let disks = Disks::new(dir.path().to_path_buf(), EraseMode::Full);
        let img = ImageToWrite { id: "i".into(), disk_format: "raw".into(), data: Box::new(Broken) };
        let e = disks.write("n", Some(img), None).unwrap_err();
        assert!(e.0.contains("checksum mismatch"), "{e:?}");
        assert!(!disks.disk("n").exists() && !disks.disk("n").with_extension("part").exists());
    }
}
