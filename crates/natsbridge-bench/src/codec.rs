//! base64 (the runtime's own codec, as `smartsend`/`smartreceive` call it) against a
//! `memcpy` of the same buffer, the physical bound for touching every byte once.

use std::hint::black_box;
use std::time::Instant;

use crate::ctx::{Ctx, Figure, Target, median};

/// GB/s (decimal) of raw bytes.
fn rate(bytes: usize, iterations: usize, secs: f64) -> f64 {
    (bytes * iterations) as f64 / secs / 1e9
}

/// xorshift bytes: incompressible and cheap to make.
pub(crate) fn random_bytes(n: usize) -> Vec<u8> {
    let mut x: u64 = 0x9E37_79B9_7F4A_7C15;
    (0..n)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x as u8
        })
        .collect()
}

pub(crate) fn run(ctx: &Ctx) -> Vec<Figure> {
    let mut figures = Vec::new();
    for size in ctx.sizes.codec_sizes {
        let data = random_bytes(size);
        let text = natsbridge::codec::encode(&data);
        // About 0.2 s of work per sample at 1 GB/s.
        let iterations = (200_000_000 / size).clamp(2, 500);
        let mut copy = vec![0u8; size];
        let (mut memcpy, mut enc, mut dec, mut fresh) = (Vec::new(), Vec::new(), Vec::new(), Vec::new());
        for _ in 0..ctx.sizes.reps.max(3) {
            let t = Instant::now();
            for _ in 0..iterations {
                copy.copy_from_slice(black_box(&data));
                black_box(&copy);
            }
            memcpy.push(rate(size, iterations, t.elapsed().as_secs_f64()));

            // What an allocating codec cannot beat: copying into a new buffer.
            let t = Instant::now();
            for _ in 0..iterations {
                black_box(black_box(&data).to_vec());
            }
            fresh.push(rate(size, iterations, t.elapsed().as_secs_f64()));

            let t = Instant::now();
            for _ in 0..iterations {
                black_box(natsbridge::codec::encode(black_box(&data)));
            }
            enc.push(rate(size, iterations, t.elapsed().as_secs_f64()));

            let t = Instant::now();
            for _ in 0..iterations {
                let buf = natsbridge::codec::decode(black_box(&text)).expect("our own base64 decodes");
                assert_eq!(buf.len(), size);
                black_box(buf);
            }
            dec.push(rate(size, iterations, t.elapsed().as_secs_f64()));
        }
        let label = if size >= 1 << 20 { format!("{} MiB", size >> 20) } else { format!("{size} B") };
        for (what, samples) in [("encode", enc), ("decode", dec)] {
            figures.push(Figure {
                group: "codec",
                name: format!("base64 {what}, {label}"),
                unit: "GB/s",
                baseline_name: "memcpy",
                baseline: median(&memcpy),
                bridge: median(&samples),
                higher_is_better: true,
                target: Some(Target::MinAbsolute(1.5)),
                baseline_samples: memcpy.clone(),
                bridge_samples: samples,
            });
        }
        figures.push(Figure {
            group: "codec",
            name: format!("memcpy into a new allocation, {label} (the bound for an allocating codec)"),
            unit: "GB/s",
            baseline_name: "memcpy",
            baseline: median(&memcpy),
            bridge: median(&fresh),
            higher_is_better: true,
            target: None,
            baseline_samples: memcpy.clone(),
            bridge_samples: fresh,
        });
        eprintln!("  codec {label}: done");
    }
    figures
}
