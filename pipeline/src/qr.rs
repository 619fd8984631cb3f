//! Reading QR codes from a raster page with rqrr: every grid found, decoded, with where it lies.

use image::GrayImage;

/// One decoded QR symbol.
#[derive(Debug, Clone, PartialEq)]
pub struct DecodedCode {
    pub text: String,
    /// Corners in pixel coordinates, in the symbol's own order (top-left, top-right, bottom-right,
    /// bottom-left as printed), so the page's rotation can be read from them.
    pub corners: [(i32, i32); 4],
}

/// Every QR symbol rqrr can decode in the image.
pub fn decode_all(image: &GrayImage) -> Vec<DecodedCode> {
    let mut prepared = rqrr::PreparedImage::prepare(image.clone());
    prepared
        .detect_grids()
        .into_iter()
        .filter_map(|grid| {
            let corners = grid.bounds.map(|p| (p.x, p.y));
            grid.decode().ok().map(|(_, text)| DecodedCode { text, corners })
        })
        .collect()
}
