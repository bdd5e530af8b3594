//! Folders of image files, the way scans and photos are usually kept: one
//! sub-folder per class for training and evaluation, or loose images to
//! predict on. Every image is read as 8-bit grey levels at the image
//! column's shape, so a folder feeds the same rows as an IDX or NPZ file.

use crate::DataError;
use crate::dataset::single_image_column;
use crate::rows::quoted;
use crate::table::{RawTable, primary_head};
use indus_spec::PluginManifest;
use std::path::{Path, PathBuf};

/// File extensions read as images (case-insensitive); other files are
/// skipped and named in a note, hidden files silently.
pub(crate) const IMAGE_EXTENSIONS: &[&str] = &["png", "jpg", "jpeg", "bmp", "tif", "tiff"];

/// Problems listed in one report.
const MAX_LISTED: usize = 50;

/// Rows read from a folder, and what the user should hear about it (images
/// resized, files skipped).
#[derive(Debug)]
pub struct FolderRows {
    /// One row per image: grey levels 0–255, ids = paths under the folder,
    /// labels when every image sat in a class sub-folder.
    pub table: RawTable,
    /// Lines for the log or standard error.
    pub notes: Vec<String>,
}

/// The image column's height and width.
fn image_shape(manifest: &PluginManifest) -> Result<(u32, u32), DataError> {
    let schema_error = |message: &str| DataError::Schema {
        source_name: format!("plugin `{}`", manifest.name),
        message: message.into(),
    };
    match single_image_column(manifest)?.shape.as_deref() {
        Some([h, w]) => {
            let side = |n: usize| {
                u32::try_from(n).map_err(|_| schema_error("the image shape is too large"))
            };
            Ok((side(h.get())?, side(w.get())?))
        }
        _ => Err(schema_error(
            "images are read as grey levels: the image column's shape is [height, width]",
        )),
    }
}

/// Reads a training, validation or test folder: one sub-folder per class
/// of the first head, named as in its `classes`. Anything else in the
/// folder that could hold data (an unknown sub-folder, an image outside a
/// class folder) is refused, so no image is silently left out.
pub fn read_class_folders(
    manifest: &PluginManifest,
    folder: &Path,
) -> Result<FolderRows, DataError> {
    read_folder(manifest, folder, Loose::Refused)
}

/// Reads images to predict on or to evaluate: one image file, or a folder
/// of loose images and/or class sub-folders (labelled when every image is
/// in one, which `eval --input` needs).
pub fn read_images(manifest: &PluginManifest, path: &Path) -> Result<FolderRows, DataError> {
    if path.is_dir() {
        return read_folder(manifest, path, Loose::Allowed);
    }
    let bytes = std::fs::read(path).map_err(|source| DataError::Read {
        file: path.to_path_buf(),
        source,
    })?;
    let mut rows = image_bytes_row(manifest, &bytes, &path.display().to_string())?;
    let name = path.file_name().map_or_else(
        || path.display().to_string(),
        |n| n.to_string_lossy().into_owned(),
    );
    rows.table.ids = Some(vec![name]);
    Ok(rows)
}

fn class_list(manifest: &PluginManifest) -> String {
    primary_head(manifest)
        .classes
        .iter()
        .flatten()
        .map(|c| format!("`{c}`"))
        .collect::<Vec<_>>()
        .join(", ")
}

/// What a folder holds, in name order (hidden entries left out).
struct Entries {
    folders: Vec<PathBuf>,
    images: Vec<PathBuf>,
    /// Files that are not images by their extension.
    others: Vec<PathBuf>,
}

fn entries(folder: &Path) -> Result<Entries, DataError> {
    let read_error = |source| DataError::Read {
        file: folder.to_path_buf(),
        source,
    };
    let mut paths: Vec<PathBuf> = std::fs::read_dir(folder)
        .map_err(read_error)?
        .map(|entry| entry.map(|e| e.path()))
        .collect::<Result<_, _>>()
        .map_err(read_error)?;
    paths.retain(|p| {
        !p.file_name()
            .is_some_and(|n| n.to_string_lossy().starts_with('.'))
    });
    paths.sort();
    let (folders, files): (Vec<PathBuf>, Vec<PathBuf>) =
        paths.into_iter().partition(|p| p.is_dir());
    let (images, others) = files.into_iter().partition(|p| {
        p.extension().is_some_and(|e| {
            IMAGE_EXTENSIONS.contains(&e.to_string_lossy().to_ascii_lowercase().as_str())
        })
    });
    Ok(Entries {
        folders,
        images,
        others,
    })
}

/// Whether images may lie outside a class sub-folder (unlabelled).
#[derive(Clone, Copy, PartialEq)]
enum Loose {
    Allowed,
    Refused,
}

fn read_folder(
    manifest: &PluginManifest,
    folder: &Path,
    loose_images: Loose,
) -> Result<FolderRows, DataError> {
    let (height, width) = image_shape(manifest)?;
    let classes = primary_head(manifest).classes.clone().unwrap_or_default();
    let source_name = folder.display().to_string();
    let Entries {
        folders: sub_folders,
        images: loose,
        others: mut skipped,
    } = entries(folder)?;
    if loose_images == Loose::Refused && !loose.is_empty() {
        let names: Vec<String> = loose
            .iter()
            .filter_map(|p| p.file_name())
            .map(|n| n.to_string_lossy().into_owned())
            .collect();
        return Err(DataError::Schema {
            source_name,
            message: format!(
                "{} image{} outside a class folder ({}): training and test images sit in one sub-folder per class ({})",
                names.len(),
                if names.len() == 1 { " lies" } else { "s lie" },
                quoted(&names),
                class_list(manifest)
            ),
        });
    }

    // Every image to read, with its class (None for a loose image).
    let mut wanted: Vec<(PathBuf, Option<u32>)> = loose.into_iter().map(|p| (p, None)).collect();
    let mut unknown = Vec::new();
    for sub in &sub_folders {
        let name = sub
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        let Some(class) = classes.iter().position(|c| *c == name) else {
            unknown.push(name);
            continue;
        };
        // Folders inside a class folder (one per patient, per line, per
        // day) are read too: every image under it belongs to the class.
        let mut pending = vec![sub.clone()];
        while let Some(dir) = pending.pop() {
            let inside = entries(&dir)?;
            skipped.extend(inside.others);
            pending.extend(inside.folders.into_iter().rev());
            wanted.extend(inside.images.into_iter().map(|p| (p, Some(class as u32))));
        }
    }
    if !unknown.is_empty() {
        return Err(DataError::Schema {
            source_name,
            message: format!(
                "sub-folder{} {} {} not a class of the first head (classes: {}); rename or move {}",
                if unknown.len() > 1 { "s" } else { "" },
                quoted(&unknown),
                if unknown.len() > 1 { "are" } else { "is" },
                class_list(manifest),
                if unknown.len() > 1 { "them" } else { "it" },
            ),
        });
    }
    if wanted.is_empty() {
        return Err(DataError::Schema {
            source_name,
            message: format!(
                "no image files ({}) in the folder or in its class sub-folders ({})",
                IMAGE_EXTENSIONS.join(", "),
                class_list(manifest)
            ),
        });
    }

    let mut features = Vec::with_capacity(wanted.len() * (height * width) as usize);
    let mut problems = Vec::new();
    let mut resized: Vec<(u32, u32)> = Vec::new();
    let paths: Vec<&Path> = wanted.iter().map(|(p, _)| p.as_path()).collect();
    for (path, decoded) in paths.iter().zip(decode_all(&paths, height, width)) {
        match decoded {
            Ok((pixels, size)) => {
                if size != (width, height) {
                    resized.push(size);
                }
                features.extend(pixels);
            }
            Err(message) => problems.push(DataError::Corrupt {
                file: path.to_path_buf(),
                message,
            }),
        }
    }
    if !problems.is_empty() {
        return Err(DataError::rows(&source_name, problems, MAX_LISTED));
    }

    let relative = |p: &Path| {
        p.strip_prefix(folder)
            .unwrap_or(p)
            .to_string_lossy()
            .replace('\\', "/")
    };
    let labels: Option<Vec<u32>> = wanted.iter().map(|(_, class)| *class).collect();
    let mut notes = Vec::new();
    if !resized.is_empty() {
        let mut sizes: Vec<String> = Vec::new();
        for (w, h) in &resized {
            let size = format!("{w}×{h}");
            if !sizes.contains(&size) {
                sizes.push(size);
            }
        }
        notes.push(format!(
            "{source_name}: resized {} of {} images to {width}×{height} pixels (sizes found: {})",
            resized.len(),
            wanted.len(),
            quoted(&sizes).replace('`', "")
        ));
    }
    if !skipped.is_empty() {
        let names: Vec<String> = skipped.iter().map(|p| relative(p)).collect();
        notes.push(format!(
            "{source_name}: skipped {} entr{} that {} not image files ({}): {}",
            names.len(),
            if names.len() == 1 { "y" } else { "ies" },
            if names.len() == 1 { "is" } else { "are" },
            IMAGE_EXTENSIONS.join(", "),
            quoted(&names)
        ));
    }
    Ok(FolderRows {
        table: RawTable {
            features,
            width: (height * width) as usize,
            labels,
            ids: Some(wanted.iter().map(|(p, _)| relative(p)).collect()),
            ..Default::default()
        },
        notes,
    })
}

/// Grey levels at the column's shape, and the (width, height) the image
/// had before resizing.
type Grey = (Vec<f32>, (u32, u32));

/// Every file through [`grey_pixels`], in order, spread over the machine's
/// cores: decoding and resizing large scans is most of the time it takes
/// to read a folder.
fn decode_all(paths: &[&Path], height: u32, width: u32) -> Vec<Result<Grey, String>> {
    let threads = std::thread::available_parallelism().map_or(1, |n| n.get());
    let per_thread = paths.len().div_ceil(threads).max(1);
    std::thread::scope(|scope| {
        let workers: Vec<_> = paths
            .chunks(per_thread)
            .map(|chunk| {
                let worker = scope.spawn(move || {
                    chunk
                        .iter()
                        .map(|p| grey_pixels(p, height, width))
                        .collect::<Vec<_>>()
                });
                (chunk.len(), worker)
            })
            .collect();
        workers
            .into_iter()
            .flat_map(|(files, worker)| {
                worker.join().unwrap_or_else(|_| {
                    vec![
                        Err("the image decoder failed on this part of the folder".to_string());
                        files
                    ]
                })
            })
            .collect()
    })
}

/// An image file as grey levels 0–255, row-major at `height` × `width`,
/// and the size it had on disk (width, height).
fn grey_pixels(path: &Path, height: u32, width: u32) -> Result<Grey, String> {
    let bytes = std::fs::read(path).map_err(|e| format!("cannot read: {e}"))?;
    Ok(grey_at(&decode_bounded(&bytes)?, height, width))
}

/// Most pixels of one image: a 7,000 × 7,000 scan passes; a small file
/// claiming 20,000 × 20,000 (a decompression bomb) is refused from its
/// header, before anything is decoded.
pub const MAX_IMAGE_PIXELS: u64 = 50_000_000;

/// The width and height an image file's header declares, read without
/// decoding it (a server weighs an upload by it before decoding).
pub fn image_dimensions(bytes: &[u8]) -> Result<(u32, u32), String> {
    image::ImageReader::new(std::io::Cursor::new(bytes))
        .with_guessed_format()
        .map_err(|e| format!("cannot read: {e}"))?
        .into_dimensions()
        .map_err(|e| format!("not a readable image (PNG, JPEG, BMP or TIFF): {e}"))
}

/// Decodes an image whose header declares at most [`MAX_IMAGE_PIXELS`],
/// with the decoder's own allocation limit set to match.
fn decode_bounded(bytes: &[u8]) -> Result<image::DynamicImage, String> {
    let (w, h) = image_dimensions(bytes)?;
    if u64::from(w) * u64::from(h) > MAX_IMAGE_PIXELS {
        return Err(format!(
            "the image is {w} × {h} pixels, over the limit of {MAX_IMAGE_PIXELS} pixels; scale it down first"
        ));
    }
    let mut reader = image::ImageReader::new(std::io::Cursor::new(bytes))
        .with_guessed_format()
        .map_err(|e| format!("cannot read: {e}"))?;
    let mut limits = image::Limits::default();
    limits.max_image_width = Some(w);
    limits.max_image_height = Some(h);
    // Eight bytes per pixel: RGBA at 16 bits, the widest format read here.
    limits.max_alloc = Some(MAX_IMAGE_PIXELS * 8);
    reader.limits(limits);
    reader
        .decode()
        .map_err(|e| format!("not a readable image (PNG, JPEG, BMP or TIFF): {e}"))
}

fn grey_at(image: &image::DynamicImage, height: u32, width: u32) -> Grey {
    let grey = image::DynamicImage::ImageLuma8(image.to_luma8());
    let size = (grey.width(), grey.height());
    // `DynamicImage::resize_exact` rather than the generic
    // `imageops::resize`: the image crate compiles it with its own
    // optimisations, where a generic call would be built with ours.
    let grey = if size == (width, height) {
        grey
    } else {
        grey.resize_exact(width, height, image::imageops::FilterType::Triangle)
    };
    (
        grey.into_luma8()
            .into_raw()
            .into_iter()
            .map(f32::from)
            .collect(),
        size,
    )
}

/// One image sent as bytes (an HTTP upload) as a row, read and resized
/// exactly as a file in a folder would be; `source_name` names it in
/// messages.
pub fn image_bytes_row(
    manifest: &PluginManifest,
    bytes: &[u8],
    source_name: &str,
) -> Result<FolderRows, DataError> {
    let (height, width) = image_shape(manifest)?;
    let image = decode_bounded(bytes).map_err(|message| DataError::Schema {
        source_name: source_name.to_string(),
        message,
    })?;
    let (pixels, size) = grey_at(&image, height, width);
    let mut notes = Vec::new();
    if size != (width, height) {
        notes.push(format!(
            "{source_name}: resized from {}×{} to {width}×{height} pixels",
            size.0, size.1
        ));
    }
    Ok(FolderRows {
        table: RawTable {
            features: pixels,
            width: (height * width) as usize,
            ..Default::default()
        },
        notes,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use indus_spec::parse_plugin;

    fn plugin() -> PluginManifest {
        parse_plugin(
            Path::new("p.yaml"),
            "name: scans\nindustry: t\ndescription: t\ndata:\n  source: {format: image_folder, dataset: scans, files: {train: {name: train}}}\n  columns:\n    - {name: scan, type: image, role: feature, shape: [2, 3], max_value: 255}\n    - {name: finding, type: category, role: target}\nheads:\n  - {name: finding, task: binary, target: finding, classes: [normal, lesion]}\n",
        )
        .unwrap()
    }

    fn save(path: &Path, width: u32, height: u32, level: u8) {
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        image::GrayImage::from_pixel(width, height, image::Luma([level]))
            .save(path)
            .unwrap();
    }

    #[test]
    fn class_folders_become_labelled_rows_in_a_fixed_order() {
        let dir = tempfile::tempdir().unwrap();
        save(&dir.path().join("lesion/b.png"), 3, 2, 200);
        save(&dir.path().join("normal/z.png"), 3, 2, 10);
        save(&dir.path().join("normal/a.bmp"), 3, 2, 20);
        // A colour JPEG of another size: grey, resized, noted.
        let photo = dir.path().join("lesion/photo.jpg");
        image::RgbImage::from_pixel(30, 20, image::Rgb([90, 90, 90]))
            .save(&photo)
            .unwrap();
        std::fs::write(dir.path().join("normal/notes.txt"), "not an image").unwrap();
        std::fs::write(dir.path().join(".DS_Store"), "hidden").unwrap();

        let rows = read_class_folders(&plugin(), dir.path()).unwrap();
        let t = &rows.table;
        assert_eq!(t.width, 6);
        assert_eq!(
            t.ids.as_deref().unwrap(),
            [
                "lesion/b.png",
                "lesion/photo.jpg",
                "normal/a.bmp",
                "normal/z.png"
            ]
        );
        assert_eq!(t.labels.as_deref(), Some(&[1, 1, 0, 0][..]));
        assert_eq!(t.features[..6], [200.0; 6]);
        assert!(
            t.features[6..12].iter().all(|&p| (p - 90.0).abs() <= 2.0),
            "{:?}",
            &t.features[6..12]
        );
        assert_eq!(
            t.features[12..],
            [
                20.0, 20.0, 20.0, 20.0, 20.0, 20.0, 10.0, 10.0, 10.0, 10.0, 10.0, 10.0
            ]
        );
        let notes = rows.notes.join("\n");
        assert!(
            notes.contains("resized 1 of 4 images to 3×2 pixels (sizes found: 30×20)"),
            "{notes}"
        );
        assert!(
            notes.contains("skipped 1 entry") && notes.contains("`normal/notes.txt`"),
            "{notes}"
        );
        assert!(!notes.contains("DS_Store"), "{notes}");
    }

    #[test]
    fn images_in_folders_inside_a_class_folder_belong_to_the_class() {
        let dir = tempfile::tempdir().unwrap();
        save(&dir.path().join("lesion/patient-2/day-1/x.png"), 3, 2, 1);
        save(&dir.path().join("lesion/patient-1/y.png"), 3, 2, 2);
        save(&dir.path().join("lesion/z.png"), 3, 2, 3);
        save(&dir.path().join("normal/patient-3/w.png"), 3, 2, 4);
        let t = read_class_folders(&plugin(), dir.path()).unwrap().table;
        assert_eq!(
            t.ids.as_deref().unwrap(),
            [
                "lesion/z.png",
                "lesion/patient-1/y.png",
                "lesion/patient-2/day-1/x.png",
                "normal/patient-3/w.png"
            ]
        );
        assert_eq!(t.labels.as_deref(), Some(&[1, 1, 1, 0][..]));
    }

    #[test]
    fn folder_mistakes_name_the_folder_or_file_at_fault() {
        let dir = tempfile::tempdir().unwrap();
        save(&dir.path().join("normal/a.png"), 3, 2, 1);
        save(&dir.path().join("Lesion/b.png"), 3, 2, 1);
        let e = read_class_folders(&plugin(), dir.path())
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("sub-folder `Lesion` is not a class") && e.contains("`normal`, `lesion`"),
            "{e}"
        );

        std::fs::rename(dir.path().join("Lesion"), dir.path().join("lesion")).unwrap();
        std::fs::write(dir.path().join("lesion/broken.png"), b"\x89PNG truncated").unwrap();
        std::fs::write(dir.path().join("normal/empty.jpg"), b"").unwrap();
        let e = read_class_folders(&plugin(), dir.path())
            .unwrap_err()
            .to_string();
        assert!(e.contains("2 problems"), "{e}");
        assert!(e.contains("broken.png: not a readable image"), "{e}");
        assert!(e.contains("empty.jpg"), "{e}");

        std::fs::remove_file(dir.path().join("lesion/broken.png")).unwrap();
        std::fs::remove_file(dir.path().join("normal/empty.jpg")).unwrap();
        save(&dir.path().join("loose.png"), 3, 2, 1);
        let e = read_class_folders(&plugin(), dir.path())
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("1 image lies outside a class folder (`loose.png`)"),
            "{e}"
        );

        let empty = tempfile::tempdir().unwrap();
        let e = read_class_folders(&plugin(), empty.path())
            .unwrap_err()
            .to_string();
        assert!(e.contains("no image files"), "{e}");
    }

    #[test]
    fn images_to_predict_may_be_one_file_or_loose_in_a_folder() {
        let dir = tempfile::tempdir().unwrap();
        save(&dir.path().join("today/x.png"), 6, 4, 50);
        save(&dir.path().join("today/y.png"), 3, 2, 60);
        let one = read_images(&plugin(), &dir.path().join("today/x.png")).unwrap();
        assert_eq!(one.table.features, [50.0; 6]);
        assert_eq!(one.table.ids.as_deref().unwrap(), ["x.png"]);
        assert!(
            one.notes[0].contains("resized from 6×4 to 3×2"),
            "{:?}",
            one.notes
        );
        let batch = read_images(&plugin(), &dir.path().join("today")).unwrap();
        assert_eq!(batch.table.len(), 2);
        assert!(batch.table.labels.is_none());
        assert_eq!(batch.table.ids.as_deref().unwrap(), ["x.png", "y.png"]);
    }

    #[test]
    fn an_image_claiming_too_many_pixels_is_refused_from_its_header() {
        // A valid PNG header of 20000 × 20000 grey pixels followed by a
        // few bytes: decoding would reserve 400 MB.
        let mut png = Vec::new();
        let header = image::codecs::png::PngEncoder::new(&mut png);
        use image::ImageEncoder;
        let small = vec![0u8; 4];
        header
            .write_image(&small, 2, 2, image::ExtendedColorType::L8)
            .unwrap();
        // Patch the IHDR width and height (bytes 16..24) to 20000.
        png[16..20].copy_from_slice(&20_000u32.to_be_bytes());
        png[20..24].copy_from_slice(&20_000u32.to_be_bytes());
        // ... and its checksum (CRC-32 of the chunk type and data).
        let crc = png[12..29].iter().fold(!0u32, |mut c, &b| {
            c ^= u32::from(b);
            for _ in 0..8 {
                c = if c & 1 != 0 {
                    (c >> 1) ^ 0xEDB8_8320
                } else {
                    c >> 1
                };
            }
            c
        });
        png[29..33].copy_from_slice(&(!crc).to_be_bytes());
        let started = std::time::Instant::now();
        let e = image_bytes_row(&plugin(), &png, "upload.png").unwrap_err();
        assert!(e.to_string().contains("20000 × 20000"), "{e}");
        assert!(e.to_string().contains("upload.png"), "{e}");
        assert!(started.elapsed() < std::time::Duration::from_millis(500));
        assert_eq!(image_dimensions(&png).unwrap(), (20_000, 20_000));
    }
}
