use super::*;

fn pattern() -> Regex {
    Regex::new("^[0-9]{2} [0-9]{7}$").unwrap()
}

#[test]
fn a_dropped_space_is_restored_from_the_example_grouping() {
    assert_eq!(normalise("770012345\n", &pattern(), "77 0012345").as_deref(), Some("77 0012345"));
    assert_eq!(normalise(" 77  0012345 ", &pattern(), "77 0012345").as_deref(), Some("77 0012345"));
    assert_eq!(normalise("7 70 012345", &pattern(), "77 0012345").as_deref(), Some("77 0012345"));
}

#[test]
fn a_black_pen_stroke_over_a_red_number_is_split_into_its_own_ink_layer() {
    let mut crop = RgbImage::from_pixel(200, 60, image::Rgb([245, 240, 235]));
    for y in 20..40 {
        for x in 20..180 {
            if x % 12 < 6 {
                crop.put_pixel(x, y, image::Rgb([150, 30, 40]));
            }
        }
    }
    for x in 0..200 {
        for y in 28..32 {
            crop.put_pixel(x, y, image::Rgb([30, 30, 35]));
        }
    }
    let layers: Vec<GrayImage> = ink_layers(&crop).into_iter().map(|l| l.image).collect();
    let red_only = layers.iter().any(|l| l.get_pixel(26, 22).0[0] == 0 && l.get_pixel(10, 30).0[0] == 255);
    let pen_only = layers.iter().any(|l| l.get_pixel(10, 30).0[0] == 0 && l.get_pixel(26, 22).0[0] == 255);
    assert!(red_only && pen_only, "{} layers", layers.len());
}

/// Nine hollow "characters" 2.5 × 4 mm (10 px/mm) in a row from (x, y), drawn in `ink`.
fn characters(image: &mut GrayImage, x: u32, y: u32, ink: u8) {
    for i in 0..9 {
        let x0 = x + i * 32;
        for yy in y..y + 40 {
            for xx in x0..x0 + 25 {
                if xx < x0 + 5 || xx >= x0 + 20 || yy < y + 5 || yy >= y + 35 {
                    image.put_pixel(xx, yy, image::Luma([ink]));
                }
            }
        }
    }
}

#[test]
fn a_frame_side_broken_into_small_pieces_does_not_hide_the_number() {
    // A guilloche side at 200 dpi: small bits zigzagging down the whole height, 0.4 mm apart, so
    // every row is inked and no band of rows is a line, no column is a rule, and no bit is large
    // enough to be dropped.
    let mut gray = GrayImage::from_pixel(780, 220, image::Luma([235]));
    for top in (0..220).step_by(8) {
        let x0 = 740 + (top / 8 % 4) * 6;
        for yy in top..(top + 4).min(220) {
            for xx in x0..x0 + 16 {
                gray.put_pixel(xx, yy, image::Luma([60]));
            }
        }
    }
    characters(&mut gray, 150, 90, 40);
    let lines = find_text_lines(&gray);
    let (x, y, w, h) = lines.first().expect("the number's line").tight_box;
    assert!(text_bands(&gray.as_raw().iter().map(|&v| v < 128).collect::<Vec<_>>(), 780, 220).is_empty());
    assert!(x >= 130 && x + w <= 450 && y >= 75 && y + h <= 145, "{:?}", lines.iter().map(|l| l.tight_box).collect::<Vec<_>>());
}

#[test]
fn a_stroke_through_the_characters_is_a_mark_and_clean_characters_are_not() {
    let mut image = GrayImage::from_pixel(320, 70, image::Luma([255]));
    characters(&mut image, 10, 15, 0);
    assert!(!crossed_by_marks(&image));
    // A pen stroke 0.5 mm wide from above the line to below it.
    for t in 0..=400 {
        let (cx, cy) = (60.0 + 200.0 * t as f32 / 400.0, 69.0 * t as f32 / 400.0);
        for dy in -2..=2 {
            for dx in -2..=2 {
                let (x, y) = ((cx as i32 + dx).clamp(0, 319) as u32, (cy as i32 + dy).clamp(0, 69) as u32);
                image.put_pixel(x, y, image::Luma([0]));
            }
        }
    }
    assert!(crossed_by_marks(&image));
}

#[test]
fn the_number_under_a_darker_pen_is_put_back_from_the_colour() {
    let paper = [245u8, 240, 235];
    let (red, black) = ([125u8, 28, 34], [30u8, 30, 38]);
    let mut crop = RgbImage::from_pixel(300, 120, image::Rgb(paper));
    let is_red = |x: u32, y: u32| (40..80).contains(&y) && (50..250).contains(&x) && (x - 50) % 30 < 7;
    let is_pen = |_x: u32, y: u32| (55..62).contains(&y) || (100..105).contains(&y);
    let (mut layer, mut pen) = (GrayImage::from_pixel(300, 120, image::Luma([255])), GrayImage::from_pixel(300, 120, image::Luma([255])));
    for (x, y, p) in crop.enumerate_pixels_mut() {
        let mut c = [paper[0] as f32, paper[1] as f32, paper[2] as f32];
        if is_red(x, y) {
            c = [0, 1, 2].map(|i| c[i] * red[i] as f32 / paper[i] as f32);
        }
        if is_pen(x, y) {
            c = [0, 1, 2].map(|i| c[i] * black[i] as f32 / paper[i] as f32);
            pen.put_pixel(x, y, image::Luma([0]));
        } else if is_red(x, y) {
            layer.put_pixel(x, y, image::Luma([0]));
        }
        *p = image::Rgb(c.map(|v| v.round() as u8));
    }
    let uncovered = uncover(&crop, &layer, &[&pen], (35, 85)).expect("red and black tell apart");
    assert_eq!(uncovered.get_pixel(53, 58).0[0], 0, "the red stroke under the pen");
    assert_eq!(uncovered.get_pixel(65, 58).0[0], 255, "the pen alone");
    assert_eq!(uncovered.get_pixel(53, 102).0[0], 255, "outside the line's rows");
    // A black pen over a black number: nothing to tell apart.
    let mut grey = crop.clone();
    for p in grey.pixels_mut() {
        let v = p.0.iter().map(|&c| c as u32).min().unwrap() as u8;
        *p = image::Rgb([v, v, v]);
    }
    assert!(uncover(&grey, &layer, &[&pen], (35, 85)).is_none());
}

#[test]
fn a_text_of_the_wrong_length_is_not_a_blank_number() {
    assert_eq!(normalise("77 001234", &pattern(), "77 0012345"), None);
    assert_eq!(normalise("", &pattern(), "77 0012345"), None);
}

/// A hollow box 25 x `height` px of `ink` at (x, y): a character-sized piece of one stroke's width.
fn character(image: &mut GrayImage, x: u32, y: u32, height: u32, ink: u8) {
    for yy in y..y + height {
        for xx in x..x + 25 {
            if xx < x + 5 || xx >= x + 20 || yy < y + 5 || yy + 5 >= y + height {
                image.put_pixel(xx, yy, image::Luma([ink]));
            }
        }
    }
}

#[test]
fn a_line_left_slanting_by_the_pages_straightening_is_no_mark() {
    // Nine characters 40 px tall, each 2 px lower than the one before: 16 px from end to end (3.6
    // degrees), over twice what a character may stick out of the line before it counts as a mark.
    let mut image = GrayImage::from_pixel(320, 80, image::Luma([255]));
    for i in 0..9u32 {
        character(&mut image, 10 + i * 32, 15 + i * 2, 40, 0);
    }
    assert!(!crossed_by_marks(&image));
    // A character that stands out of the slanting line is still one.
    character(&mut image, 10 + 4 * 32, 2, 40, 0);
    assert!(crossed_by_marks(&image));
}

#[test]
fn the_groups_of_a_large_monospaced_number_are_one_line() {
    // `05 1543383` in a large monospaced face: characters 50 px (5 mm) tall, the groups 6 mm apart.
    let mut gray = GrayImage::from_pixel(780, 220, image::Luma([235]));
    let mut x = 120;
    for i in 0..9 {
        character(&mut gray, x, 90, 50, 40);
        x += if i == 1 { 25 + 60 } else { 32 };
    }
    let lines = find_text_lines(&gray);
    let (lx, _, w, _) = lines.first().expect("the number's line").tight_box;
    assert!(lx <= 120 && lx + w >= x as i64 - 7, "{:?}", lines.iter().map(|l| l.tight_box).collect::<Vec<_>>());
}

#[test]
fn the_engine_is_started_on_every_thread_of_the_pool_and_a_missing_language_is_an_error() {
    let pool = rayon::ThreadPoolBuilder::new().num_threads(3).build().unwrap();
    pool.install(|| {
        TesseractOcr::new(None, "eng").expect("tesseract-ocr-eng is installed");
        let started = rayon::broadcast(|_| ENGINES.with(|engines| engines.borrow().contains_key(&(None, "eng".to_string()))));
        assert_eq!(started, vec![true; 3]);
        TesseractOcr::release_engines();
        match TesseractOcr::new(None, "no-such-language") {
            Err(OcrError::Init { language, .. }) => assert_eq!(language, "no-such-language"),
            other => panic!("expected a start error, got {other:?}"),
        }
    });
}
