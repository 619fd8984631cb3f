//! The quick code pass's first reader: zxing-cpp (the C++ ZXing, through the `zxing-cpp` crate). On the
//! code zone reduced to ~150 dpi it takes a fraction of a millisecond where rqrr takes several (rqrr fits
//! each symbol's perspective by trial twice over); rqrr stays behind it on the same crops and runs the
//! full search. Its symbols come back in rqrr's shape ([`DecodedCode`]), so nothing downstream knows
//! which reader found the code.

use image::GrayImage;
use zxingcpp::{BarcodeFormat, ImageFormat, ImageView};

use super::DecodedCode;

/// Every QR symbol zxing-cpp decodes in the image, with rqrr's corner convention (see
/// [`DecodedCode::corners`]). A symbol whose version zxing-cpp does not report, or whose bytes are not
/// UTF-8 (rqrr refuses those too), is left out.
pub(super) fn decode_fast(image: &GrayImage) -> Vec<DecodedCode> {
    let Ok(view) = ImageView::from_slice(image.as_raw(), image.width(), image.height(), ImageFormat::Lum) else {
        return Vec::new();
    };
    // The crop is small and at the resolution the code wants: no rotated, inverted or reduced retries
    // (a QR finder is rotation-free; rqrr behind it covers the rest).
    let reader = zxingcpp::read().formats([BarcodeFormat::QRCode]).try_rotate(false).try_invert(false).try_downscale(false);
    let Ok(barcodes) = reader.from(view) else {
        return Vec::new();
    };
    barcodes
        .iter()
        .filter(|b| b.is_valid())
        .filter_map(|b| {
            let version: usize = b.extra_with_key("Version").trim().parse().ok().filter(|v| (1..=40).contains(v))?;
            let modules = 17 + 4 * version;
            let text = String::from_utf8(b.bytes()).ok()?;
            let p = b.position();
            let quad = [p.top_left, p.top_right, p.bottom_right, p.bottom_left].map(|c| (c.x as f64, c.y as f64));
            Some(DecodedCode { text, corners: rqrr_corners(quad, modules), modules })
        })
        .collect()
}

/// zxing-cpp's corners are the symbol's outer corners, module grid points (0, 0) to (n, n); rqrr's run
/// to (n + 1, n + 1) (one module beyond the right and bottom edges), and `orient::pose_from_code` is
/// fitted to those. The quad's bilinear map, extended to n + 1.
fn rqrr_corners(quad: [(f64, f64); 4], modules: usize) -> [(i32, i32); 4] {
    let [tl, tr, br, bl] = quad;
    let n = modules as f64;
    let at = |u: f64, v: f64| {
        let (s, t) = (u / n, v / n);
        let x = tl.0 + s * (tr.0 - tl.0) + t * (bl.0 - tl.0) + s * t * (br.0 - tr.0 - bl.0 + tl.0);
        let y = tl.1 + s * (tr.1 - tl.1) + t * (bl.1 - tl.1) + s * t * (br.1 - tr.1 - bl.1 + tl.1);
        (x.round() as i32, y.round() as i32)
    };
    [at(0.0, 0.0), at(n + 1.0, 0.0), at(n + 1.0, n + 1.0), at(0.0, n + 1.0)]
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::qr::decode_all;
    use crate::qr::tests::drawn_code;

    #[test]
    fn the_fast_reader_gives_rqrrs_text_and_modules_and_the_drawn_corners() {
        for (text, module, seed) in [("77 0012345", 4, 1), ("certscan test", 3, 2), ("A-689377 certscan payload of some length", 5, 3)] {
            let image = drawn_code(text, module, seed);
            let fast = decode_fast(&image);
            let rqrr = decode_all(&image);
            assert_eq!((fast.len(), rqrr.len()), (1, 1), "{text}");
            assert_eq!((fast[0].text.as_str(), fast[0].modules), (text, rqrr[0].modules));
            // Drawn 4 modules in; in rqrr's convention the far corners are one module beyond the symbol.
            let (near, far) = (4 * module as i32, (4 + fast[0].modules as i32 + 1) * module as i32);
            let drawn = [(near, near), (far, near), (far, far), (near, far)];
            for (f, d) in fast[0].corners.iter().zip(drawn) {
                assert!((f.0 - d.0).abs() <= 1 && (f.1 - d.1).abs() <= 1, "{text}: {:?}, drawn {drawn:?}", fast[0].corners);
            }
        }
    }

    #[test]
    fn the_fast_reader_finds_nothing_in_noise() {
        let mut next = crate::raster::tests::noise(5);
        let image = GrayImage::from_fn(300, 300, |_, _| image::Luma([next()]));
        assert!(decode_fast(&image).is_empty());
        assert!(decode_fast(&GrayImage::new(0, 0)).is_empty());
    }
}
