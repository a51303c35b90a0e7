//! Atomic outputs: everything is written to a temporary path beside the target and renamed on
//! success, so a failed or interrupted run never leaves a half-written file under the name the
//! user asked for.

use crate::error::{Error, Result};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::Mutex;

static COUNTER: AtomicU32 = AtomicU32::new(0);

/// Temporary outputs alive right now, so an interrupt handler can remove them.
static LIVE: Mutex<Vec<PathBuf>> = Mutex::new(Vec::new());

/// Removes every temporary output still being written. The CLI calls this from its Ctrl-C
/// handler, so an interrupted run leaves neither a partial output nor a stray temporary.
pub fn remove_unfinished() {
    let live = LIVE
        .lock()
        .map(|mut l| std::mem::take(&mut *l))
        .unwrap_or_default();
    for p in live {
        if p.is_dir() {
            // Another thread may still add a file while the folder is emptied: try again.
            for _ in 0..5 {
                if std::fs::remove_dir_all(&p).is_ok() || !p.exists() {
                    break;
                }
            }
        } else {
            let _ = std::fs::remove_file(&p);
        }
    }
}

fn forget(p: &Path) {
    if let Ok(mut l) = LIVE.lock() {
        l.retain(|x| x != p);
    }
}

/// A folder this run creates to write into, removed again (with what was written into it)
/// if the run fails or is interrupted before [`NewFolder::keep`]. A folder that existed
/// before is never removed: it is the user's.
#[derive(Debug)]
pub struct NewFolder {
    path: Option<PathBuf>,
}

impl NewFolder {
    /// Creates `path` (and missing parents) unless it exists.
    pub fn create(path: &Path) -> Result<Self> {
        let fresh = !path.exists();
        std::fs::create_dir_all(path)
            .map_err(|e| Error::io(path, "cannot create the output folder", e))?;
        if fresh {
            if let Ok(mut l) = LIVE.lock() {
                l.push(path.to_path_buf());
            }
        }
        Ok(NewFolder {
            path: fresh.then(|| path.to_path_buf()),
        })
    }

    /// The run succeeded: the folder stays.
    pub fn keep(mut self) {
        if let Some(p) = self.path.take() {
            forget(&p);
        }
    }
}

impl Drop for NewFolder {
    fn drop(&mut self) {
        if let Some(p) = self.path.take() {
            forget(&p);
            let _ = std::fs::remove_dir_all(&p);
        }
    }
}

/// Whether `path` (existing or not) lies inside the existing folder `dir`, links and `..`
/// resolved: an output written there would become part of the input next time.
pub fn is_within(path: &Path, dir: &Path) -> bool {
    let (Ok(dir), Ok(abs)) = (dir.canonicalize(), std::path::absolute(path)) else {
        return false;
    };
    // The deepest existing ancestor, resolved, with the missing rest put back.
    let mut existing = abs.as_path();
    let mut rest = Vec::new();
    while !existing.exists() {
        match (existing.file_name(), existing.parent()) {
            (Some(name), Some(parent)) => {
                rest.push(name.to_os_string());
                existing = parent;
            }
            _ => return false,
        }
    }
    let Ok(mut resolved) = existing.canonicalize() else {
        return false;
    };
    for name in rest.iter().rev() {
        resolved.push(name);
    }
    resolved.starts_with(&dir)
}

/// Whether two paths name one existing file (`./a` and `a`, or a symbolic link and its
/// target).
pub fn same_file(a: &Path, b: &Path) -> bool {
    match (a.canonicalize(), b.canonicalize()) {
        (Ok(x), Ok(y)) => x == y,
        _ => false,
    }
}

/// Refuses an output path that names one of the command's inputs: nothing the user gave us
/// is ever written over.
pub fn refuse_input(out: &Path, inputs: &[&Path]) -> Result<()> {
    match inputs.iter().find(|i| same_file(i, out)) {
        Some(i) => Err(Error::usage(format!(
            "{}: the output would overwrite the input {}; choose another output path",
            out.display(),
            i.display()
        ))),
        None => Ok(()),
    }
}

/// A file or folder being written; removed on drop unless committed.
#[derive(Debug)]
pub struct AtomicOutput {
    target: PathBuf,
    temp: PathBuf,
    dir: bool,
    committed: bool,
}

impl AtomicOutput {
    /// Prepares to write `target` (a file), checking now that its folder is writable.
    pub fn file(target: &Path) -> Result<Self> {
        Self::new(target, false)
    }

    /// Prepares to write `target` as a folder of files (an image sequence).
    pub fn dir(target: &Path) -> Result<Self> {
        if target.is_dir()
            && std::fs::read_dir(target)
                .map(|mut d| d.next().is_some())
                .unwrap_or(false)
        {
            return Err(Error::output(
                target,
                "folder exists and is not empty; choose a new folder or empty it (we never delete your files)",
            ));
        }
        if target.exists() && !target.is_dir() {
            return Err(Error::output(
                target,
                "exists and is not a folder; choose another output path",
            ));
        }
        Self::new(target, true)
    }

    fn new(target: &Path, dir: bool) -> Result<Self> {
        let name = target
            .file_name()
            .ok_or_else(|| Error::output(target, "not a file name; give a path like out/clip.mp4"))?
            .to_string_lossy()
            .to_string();
        let parent = match target.parent() {
            Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
            _ => PathBuf::from("."),
        };
        if !parent.is_dir() {
            return Err(Error::output(
                target,
                format!(
                    "folder {} does not exist; create it first",
                    parent.display()
                ),
            ));
        }
        if target.is_dir() && !dir {
            return Err(Error::output(
                target,
                "is a folder; give a file name such as clip.mp4",
            ));
        }
        let n = COUNTER.fetch_add(1, Ordering::Relaxed);
        // Keep the extension last so tools that look at it still recognise the format.
        let temp = parent.join(format!(".{name}.partial-{}-{n}", std::process::id()));
        let temp = match target.extension() {
            Some(ext) if !dir => temp.with_extension(format!("{}.{}", n, ext.to_string_lossy())),
            _ => temp,
        };
        let out = AtomicOutput {
            target: target.to_path_buf(),
            temp,
            dir,
            committed: false,
        };
        // Fail now, before any work, if the folder is not writable.
        let probe = if dir {
            std::fs::create_dir(&out.temp)
        } else {
            std::fs::File::create(&out.temp).map(|_| ())
        };
        probe.map_err(|e| {
            Error::output(
                target,
                format!("cannot write here ({e}); choose a writable folder"),
            )
        })?;
        if let Ok(mut l) = LIVE.lock() {
            l.push(out.temp.clone());
        }
        Ok(out)
    }

    /// Where to write now.
    pub fn path(&self) -> &Path {
        &self.temp
    }

    pub fn target(&self) -> &Path {
        &self.target
    }

    /// Moves the finished output into place.
    pub fn commit(mut self) -> Result<()> {
        if self.dir && self.target.is_dir() {
            // Only an empty folder can be here (checked in `dir`); replace it.
            let _ = std::fs::remove_dir(&self.target);
        }
        std::fs::rename(&self.temp, &self.target).map_err(|e| {
            Error::output(
                &self.target,
                format!("cannot move the finished output into place ({e})"),
            )
        })?;
        self.committed = true;
        forget(&self.temp);
        Ok(())
    }
}

impl Drop for AtomicOutput {
    fn drop(&mut self) {
        if !self.committed {
            forget(&self.temp);
            if self.dir {
                let _ = std::fs::remove_dir_all(&self.temp);
            } else {
                let _ = std::fs::remove_file(&self.temp);
            }
        }
    }
}

/// Writes several files (and folders) into the folder `out` as one step: `write` fills a
/// staging folder, and only when it succeeds are its entries moved into `out` (created with
/// its parents if missing), each replacing an entry of the same name. A failed or
/// interrupted run leaves `out` as it was: no mix of a new calibration.json and an old sheet.
/// Other files in `out` are left alone.
pub fn write_into_folder(out: &Path, write: impl FnOnce(&Path) -> Result<()>) -> Result<()> {
    if out.exists() && !out.is_dir() {
        return Err(Error::output(
            out,
            "exists and is not a folder; choose another output folder",
        ));
    }
    let empty = !out.exists()
        || std::fs::read_dir(out)
            .map(|mut d| d.next().is_none())
            .unwrap_or(false);
    if empty {
        // The whole folder appears at once; missing parents are removed again on failure.
        let parent = match out.parent() {
            Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
            _ => PathBuf::from("."),
        };
        let parents = NewFolder::create(&parent)?;
        let stage = AtomicOutput::dir(out)?;
        write(stage.path())?;
        stage.commit()?;
        parents.keep();
        return Ok(());
    }
    let stage = AtomicOutput::dir(&out.join(".timeslice-staging"))?;
    write(stage.path())?;
    let entries: Vec<_> = std::fs::read_dir(stage.path())
        .map_err(|e| Error::io(stage.path(), "cannot read", e))?
        .filter_map(|e| e.ok())
        .map(|e| e.file_name())
        .collect();
    for name in entries {
        let (from, to) = (stage.path().join(&name), out.join(&name));
        if to.is_dir() {
            // A folder cannot be renamed over: move the old one into the staging folder,
            // which is removed below with it.
            let old = stage
                .path()
                .join(format!(".old-{}", name.to_string_lossy()));
            std::fs::rename(&to, &old)
                .map_err(|e| Error::output(&to, format!("cannot replace ({e})")))?;
        }
        std::fs::rename(&from, &to)
            .map_err(|e| Error::output(&to, format!("cannot move into place ({e})")))?;
    }
    Ok(())
}

/// Writes an image atomically, in the format its extension names (PNG or JPEG).
pub fn save_image(path: &Path, img: impl Into<image::DynamicImage>) -> Result<()> {
    let format = image::ImageFormat::from_path(path)
        .map_err(|_| Error::usage(format!("{}: name the image .png or .jpg", path.display())))?;
    let out = AtomicOutput::file(path)?;
    img.into()
        .save_with_format(out.path(), format)
        .map_err(|e| Error::output(path, format!("cannot write image ({e})")))?;
    out.commit()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nothing_under_the_target_until_commit() {
        let d = tempfile::tempdir().unwrap();
        let target = d.path().join("clip.mp4");
        let out = AtomicOutput::file(&target).unwrap();
        std::fs::write(out.path(), b"data").unwrap();
        assert!(!target.exists());
        assert!(out.path().to_string_lossy().ends_with(".mp4"));
        out.commit().unwrap();
        assert_eq!(std::fs::read(&target).unwrap(), b"data");
        assert_eq!(std::fs::read_dir(d.path()).unwrap().count(), 1);
    }

    #[test]
    fn a_folder_of_files_appears_whole_or_not_at_all() {
        let d = tempfile::tempdir().unwrap();
        let out = d.path().join("new/calib");
        let files = |p: &Path| -> Result<()> {
            std::fs::write(p.join("calibration.json"), b"new").unwrap();
            std::fs::create_dir(p.join("colmap")).unwrap();
            std::fs::write(p.join("colmap/cameras.txt"), b"new").unwrap();
            Ok(())
        };
        // A failure half-way leaves nothing, not even the missing parent.
        let e = write_into_folder(&out, |p| {
            std::fs::write(p.join("calibration.json"), b"half").unwrap();
            Err(Error::usage("stopped"))
        })
        .unwrap_err();
        assert!(e.to_string().contains("stopped"));
        assert_eq!(std::fs::read_dir(d.path()).unwrap().count(), 0);
        write_into_folder(&out, files).unwrap();
        assert_eq!(
            std::fs::read(out.join("colmap/cameras.txt")).unwrap(),
            b"new"
        );
        // Into a folder holding an earlier result and a file of the user's: a failure
        // changes nothing; a success replaces our entries, keeps the user's file and leaves
        // no staging folder.
        std::fs::write(out.join("notes.txt"), b"mine").unwrap();
        std::fs::write(out.join("colmap/old.txt"), b"old").unwrap();
        write_into_folder(&out, |p| {
            std::fs::write(p.join("calibration.json"), b"half").unwrap();
            Err(Error::usage("stopped"))
        })
        .unwrap_err();
        assert_eq!(std::fs::read(out.join("calibration.json")).unwrap(), b"new");
        write_into_folder(&out, |p| {
            std::fs::write(p.join("calibration.json"), b"second").unwrap();
            std::fs::create_dir(p.join("colmap")).unwrap();
            std::fs::write(p.join("colmap/cameras.txt"), b"second").unwrap();
            Ok(())
        })
        .unwrap();
        assert_eq!(
            std::fs::read(out.join("calibration.json")).unwrap(),
            b"second"
        );
        assert_eq!(
            std::fs::read(out.join("colmap/cameras.txt")).unwrap(),
            b"second"
        );
        assert!(!out.join("colmap/old.txt").exists());
        assert_eq!(std::fs::read(out.join("notes.txt")).unwrap(), b"mine");
        let mut names: Vec<String> = std::fs::read_dir(&out)
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        names.sort();
        assert_eq!(names, ["calibration.json", "colmap", "notes.txt"]);
        // A file where the folder should be is refused.
        let e = write_into_folder(&out.join("notes.txt"), files).unwrap_err();
        assert!(e.to_string().contains("not a folder"), "{e}");
    }

    #[test]
    fn within_resolves_links_and_missing_folders() {
        let d = tempfile::tempdir().unwrap();
        let shots = d.path().join("shots");
        std::fs::create_dir(&shots).unwrap();
        assert!(is_within(&shots.join("pkg"), &shots));
        assert!(is_within(&shots.join("a/b/pkg"), &shots));
        assert!(is_within(&shots.join("../shots/pkg"), &shots));
        assert!(!is_within(&d.path().join("pkg"), &shots));
        assert!(!is_within(&d.path().join("shots-pkg"), &shots));
        std::os::unix::fs::symlink(&shots, d.path().join("link")).unwrap();
        assert!(is_within(&d.path().join("link/pkg"), &shots));
        // Not a folder: nothing is within it.
        assert!(!is_within(&shots.join("pkg"), &d.path().join("missing")));
    }

    #[test]
    fn dropped_output_leaves_nothing() {
        let d = tempfile::tempdir().unwrap();
        {
            let out = AtomicOutput::dir(&d.path().join("frames")).unwrap();
            std::fs::write(out.path().join("a.png"), b"x").unwrap();
        }
        assert_eq!(std::fs::read_dir(d.path()).unwrap().count(), 0);
    }

    #[test]
    fn missing_folder_and_non_empty_dir_are_refused() {
        let d = tempfile::tempdir().unwrap();
        let e = AtomicOutput::file(&d.path().join("no/such/clip.mp4")).unwrap_err();
        assert!(e.to_string().contains("does not exist"), "{e}");
        std::fs::create_dir(d.path().join("full")).unwrap();
        std::fs::write(d.path().join("full/keep.txt"), b"mine").unwrap();
        let e = AtomicOutput::dir(&d.path().join("full")).unwrap_err();
        assert!(e.to_string().contains("not empty"), "{e}");
        assert_eq!(
            std::fs::read(d.path().join("full/keep.txt")).unwrap(),
            b"mine"
        );
    }
}
