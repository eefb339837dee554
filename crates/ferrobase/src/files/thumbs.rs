//! Image thumbnails on demand: `GET /files/<appId>/<name>?thumb=WxH[&fit=contain|crop]`.
//! Made once per (file version, size, fit), stored beside the files (`~thumb~…` names, served like
//! any file, so Range/ETag/304 work), with limits against decompression bombs.

use crate::app::App;
use crate::error::ApiError;
use axum::extract::Query;
use axum::http::request::Parts;
use axum::response::Response;
use bytes::Bytes;
use ferrobase_core::error::code;
use ferrobase_core::Error;
use ferrobase_files::{FileMeta, FilesError};
use futures_util::StreamExt;

/// Largest side of a thumbnail.
const MAX_SIDE: u32 = 2048;
/// Largest original accepted, in bytes and in pixels (a small PNG can decode to gigabytes).
const MAX_SOURCE_BYTES: u64 = 40 * 1024 * 1024;
const MAX_SOURCE_PIXELS: u64 = 50_000_000;

#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Spec {
    width: u32,
    height: u32,
    crop: bool,
}

fn bad(msg: &str) -> ApiError {
    ApiError(Error::new(code::INVALID_JSON, msg.to_string()))
}

pub fn requested(query: Option<&str>) -> Result<Option<Spec>, ApiError> {
    let Some(q) = query else { return Ok(None) };
    let pairs: Vec<(String, String)> = Query::<Vec<(String, String)>>::try_from_uri(
        &format!("/?{q}").parse().map_err(|_| bad("bad query"))?,
    )
    .map(|q| q.0)
    .unwrap_or_default();
    let Some((_, size)) = pairs.iter().find(|(k, _)| k == "thumb") else {
        return Ok(None);
    };
    let usage = "thumb must be WxH with both sides between 1 and 2048, fit contain or crop";
    let (w, h) = size.split_once(['x', 'X']).ok_or_else(|| bad(usage))?;
    let (width, height) = (
        w.parse::<u32>().map_err(|_| bad(usage))?,
        h.parse::<u32>().map_err(|_| bad(usage))?,
    );
    if !(1..=MAX_SIDE).contains(&width) || !(1..=MAX_SIDE).contains(&height) {
        return Err(bad(usage));
    }
    let crop = match pairs
        .iter()
        .find(|(k, _)| k == "fit")
        .map(|(_, v)| v.as_str())
    {
        None | Some("contain") => false,
        Some("crop") | Some("cover") => true,
        Some(_) => return Err(bad(usage)),
    };
    Ok(Some(Spec {
        width,
        height,
        crop,
    }))
}

fn thumb_name(meta: &FileMeta, spec: &Spec) -> String {
    let tag: String = meta
        .etag
        .chars()
        .filter(char::is_ascii_alphanumeric)
        .take(32)
        .collect();
    format!(
        "~thumb~{tag}~{}x{}~{}",
        spec.width,
        spec.height,
        if spec.crop { "crop" } else { "contain" }
    )
}

/// Decodes with size limits and scales; returns the encoded thumbnail and its content type.
fn render(data: &[u8], spec: Spec) -> Result<(Vec<u8>, &'static str), String> {
    let mut reader = image::ImageReader::new(std::io::Cursor::new(data))
        .with_guessed_format()
        .map_err(|e| e.to_string())?;
    let format = reader.format().ok_or("not an image this server can read")?;
    let mut limits = image::Limits::default();
    limits.max_alloc = Some(MAX_SOURCE_PIXELS * 4);
    reader.limits(limits);
    let (w, h) = reader.into_dimensions().map_err(|e| e.to_string())?;
    if u64::from(w) * u64::from(h) > MAX_SOURCE_PIXELS {
        return Err(format!("the image is too large to thumbnail ({w}x{h})"));
    }
    let mut reader = image::ImageReader::with_format(std::io::Cursor::new(data), format);
    let mut limits = image::Limits::default();
    limits.max_alloc = Some(MAX_SOURCE_PIXELS * 4);
    reader.limits(limits);
    let img = reader.decode().map_err(|e| e.to_string())?;
    let out = if spec.crop {
        img.resize_to_fill(
            spec.width,
            spec.height,
            image::imageops::FilterType::Triangle,
        )
    } else {
        img.thumbnail(spec.width, spec.height)
    };
    let mut buf = std::io::Cursor::new(Vec::new());
    let (fmt, ct) = if format == image::ImageFormat::Jpeg {
        (image::ImageFormat::Jpeg, "image/jpeg")
    } else {
        (image::ImageFormat::Png, "image/png")
    };
    let out = if fmt == image::ImageFormat::Jpeg {
        image::DynamicImage::ImageRgb8(out.to_rgb8())
    } else {
        out
    };
    out.write_to(&mut buf, fmt).map_err(|e| e.to_string())?;
    Ok((buf.into_inner(), ct))
}

pub async fn serve(
    app: &App,
    meta: &FileMeta,
    spec: &Spec,
    req: &Parts,
) -> Result<Response, ApiError> {
    if !meta.content_type.starts_with("image/") || meta.content_type.contains("svg") {
        return Err(bad(
            "thumbnails are made from PNG, JPEG, GIF and WebP images only",
        ));
    }
    let name = thumb_name(meta, spec);
    match app.files.adapter.meta(&name).await {
        Ok(cached) => return super::download::serve(app, &cached, &name, req).await,
        Err(FilesError::NotFound) => {}
        Err(e) => return Err(ApiError(Error::internal(e))),
    }
    if meta.size > MAX_SOURCE_BYTES {
        return Err(bad("the image is too large to thumbnail"));
    }
    let read = app
        .files
        .adapter
        .get(&meta.name, None)
        .await
        .map_err(|e| ApiError(Error::internal(e)))?;
    let mut data = Vec::with_capacity(usize::try_from(meta.size).unwrap_or(0));
    let mut body = read.body;
    while let Some(chunk) = body.next().await {
        let chunk = chunk.map_err(|e| ApiError(Error::internal(e)))?;
        if data.len() as u64 + chunk.len() as u64 > MAX_SOURCE_BYTES {
            return Err(bad("the image is too large to thumbnail"));
        }
        data.extend_from_slice(&chunk);
    }
    let spec = *spec;
    let (png, ct) = tokio::task::spawn_blocking(move || render(&data, spec))
        .await
        .map_err(|e| ApiError(Error::internal(e)))?
        .map_err(|e| bad(&format!("cannot make a thumbnail: {e}")))?;
    let stream =
        futures_util::stream::once(async move { Ok::<_, std::io::Error>(Bytes::from(png)) })
            .boxed();
    let stored = app
        .files
        .adapter
        .put(&name, ct, stream)
        .await
        .map_err(|e| ApiError(Error::internal(e)))?;
    super::download::serve(app, &stored, &name, req).await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn specs() {
        assert_eq!(requested(None).ok().flatten(), None);
        assert_eq!(requested(Some("token=x")).ok().flatten(), None);
        assert_eq!(
            requested(Some("thumb=64x32")).ok().flatten(),
            Some(Spec {
                width: 64,
                height: 32,
                crop: false
            })
        );
        assert_eq!(
            requested(Some("thumb=64x32&fit=crop")).ok().flatten(),
            Some(Spec {
                width: 64,
                height: 32,
                crop: true
            })
        );
        assert!(requested(Some("thumb=0x10")).is_err());
        assert!(requested(Some("thumb=5000x10")).is_err());
        assert!(requested(Some("thumb=abc")).is_err());
        assert!(requested(Some("thumb=10x10&fit=stretch")).is_err());
    }
}
