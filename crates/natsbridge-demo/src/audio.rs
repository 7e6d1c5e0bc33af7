//! Scenario 3, audio: a live 2-second 16-bit PCM chunk (direct) and a ~60-second 5 MB WAV
//! file (link) go as `audio` with sample rate and channels in NATS headers. The service
//! runs a real FFT and answers with a JSON result and an Arrow table of the spectrum.
//!
//! One rule for the format: it travels in the NATS headers (`Sample-Rate`, `Channels`, and
//! `Bits-Per-Sample`, which must say 16 when given), for raw PCM and WAV files alike. A WAV
//! file's own `fmt ` chunk is not a second source: it is checked against the headers, and a
//! file that disagrees with them (or is not 16-bit PCM) is refused, never silently
//! preferred.

use std::sync::Arc;
use std::time::Duration;

use arrow_array::{Float64Array, RecordBatch};
use arrow_schema::{DataType, Field, Schema};
use bytes::Bytes;
use futures::StreamExt as _;
use natsbridge::types::{MsgPurpose, Transport};
use natsbridge::{Payload, Received, SendOptions, Table, smartreceive, smartreply, smartrequest};
use rustfft::FftPlanner;
use rustfft::num_complex::Complex;
use serde_json::json;

use tracing::{info, warn};

use crate::ctx::{Ctx, Outcome};

const SUBJECT: &str = "demo.audio.analyze";
const SAMPLE_RATE: u32 = 44_100;

/// 16-bit little-endian mono PCM of a sine tone with a little deterministic noise.
pub(crate) fn tone(freq: f64, seconds: f64) -> Vec<u8> {
    let n = (SAMPLE_RATE as f64 * seconds) as usize;
    let mut noise: u32 = 0x1234_5678;
    let mut out = Vec::with_capacity(n * 2);
    for i in 0..n {
        noise = noise.wrapping_mul(1_664_525).wrapping_add(1_013_904_223);
        let jitter = ((noise >> 16) as f64 / 65_536.0 - 0.5) * 0.05;
        let s = (2.0 * std::f64::consts::PI * freq * i as f64 / SAMPLE_RATE as f64).sin() * 0.6 + jitter;
        out.extend_from_slice(&((s * i16::MAX as f64) as i16).to_le_bytes());
    }
    out
}

/// A canonical 44-byte-header WAV file around PCM bytes.
pub(crate) fn wav(pcm: &[u8]) -> Vec<u8> {
    let mut w = Vec::with_capacity(pcm.len() + 44);
    w.extend_from_slice(b"RIFF");
    w.extend_from_slice(&(36 + pcm.len() as u32).to_le_bytes());
    w.extend_from_slice(b"WAVEfmt ");
    w.extend_from_slice(&16u32.to_le_bytes());
    w.extend_from_slice(&1u16.to_le_bytes()); // PCM
    w.extend_from_slice(&1u16.to_le_bytes()); // mono
    w.extend_from_slice(&SAMPLE_RATE.to_le_bytes());
    w.extend_from_slice(&(SAMPLE_RATE * 2).to_le_bytes());
    w.extend_from_slice(&2u16.to_le_bytes());
    w.extend_from_slice(&16u16.to_le_bytes());
    w.extend_from_slice(b"data");
    w.extend_from_slice(&(pcm.len() as u32).to_le_bytes());
    w.extend_from_slice(pcm);
    w
}

/// Sample rate and channel count from the `Sample-Rate` and `Channels` headers; both are
/// required (no defaults: a receiver that guessed 44.1 kHz mono would hide lost headers).
fn audio_format(sample_rate: Option<&str>, channels: Option<&str>) -> Result<(f64, u16), String> {
    let rate = sample_rate.ok_or("no Sample-Rate header")?;
    let rate: f64 = rate.trim().parse().map_err(|_| format!("Sample-Rate `{rate}` is not a number"))?;
    if !(rate.is_finite() && rate > 0.0) {
        return Err(format!("Sample-Rate {rate} is not a positive rate"));
    }
    let channels = channels.ok_or("no Channels header")?;
    let channels: u16 =
        channels.trim().parse().map_err(|_| format!("Channels `{channels}` is not a count"))?;
    if channels == 0 {
        return Err("Channels is 0".into());
    }
    Ok((rate, channels))
}

/// A WAV file's `fmt ` chunk: format tag (1: PCM), channels, sample rate, bits per sample.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct WavFormat {
    tag: u16,
    channels: u16,
    rate: u32,
    bits: u16,
}

/// The `fmt ` chunk of `bytes` when they are a RIFF/WAVE file (`None` for anything else);
/// an error when they claim to be one and have no readable `fmt ` chunk.
fn wav_format(bytes: &[u8]) -> Option<Result<WavFormat, String>> {
    if !(bytes.len() >= 12 && &bytes[..4] == b"RIFF" && &bytes[8..12] == b"WAVE") {
        return None;
    }
    let mut at = 12usize;
    while let Some(head) = bytes.get(at..at.checked_add(8)?) {
        let len = u32::from_le_bytes([head[4], head[5], head[6], head[7]]) as usize;
        if &head[..4] == b"fmt " {
            let Some(f) = bytes.get(at + 8..at + 8 + 16) else {
                return Some(Err("the WAV file's `fmt ` chunk is cut short".into()));
            };
            let u16_at = |i: usize| u16::from_le_bytes([f[i], f[i + 1]]);
            return Some(Ok(WavFormat {
                tag: u16_at(0),
                channels: u16_at(2),
                rate: u32::from_le_bytes([f[4], f[5], f[6], f[7]]),
                bits: u16_at(14),
            }));
        }
        // Chunks are padded to an even length.
        at = at.checked_add(8 + len + (len & 1))?;
    }
    Some(Err("the WAV file has no `fmt ` chunk".into()))
}

/// The format of `bytes` under the module's rule: the headers say it; `Bits-Per-Sample`,
/// when given, must be 16; a WAV file must agree with the headers and be 16-bit PCM.
fn request_format(
    sample_rate: Option<&str>,
    channels: Option<&str>,
    bits: Option<&str>,
    bytes: &[u8],
) -> Result<(f64, u16), String> {
    let (rate, channels) = audio_format(sample_rate, channels)?;
    if let Some(bits) = bits
        && bits.trim() != "16"
    {
        return Err(format!("Bits-Per-Sample `{bits}`: only 16-bit samples are analysed"));
    }
    if let Some(wav) = wav_format(bytes) {
        let wav = wav?;
        if wav.tag != 1 || wav.bits != 16 {
            return Err(format!(
                "the WAV file is not 16-bit PCM (format tag {}, {} bits per sample)",
                wav.tag, wav.bits
            ));
        }
        if f64::from(wav.rate) != rate || wav.channels != channels {
            return Err(format!(
                "the WAV file says {} Hz, {} channel(s); the Sample-Rate and Channels headers say {rate} Hz, \
                 {channels}: the headers carry the format, and they must match the file",
                wav.rate, wav.channels
            ));
        }
    }
    Ok((rate, channels))
}

/// The PCM samples (the first channel of interleaved 16-bit frames) of a WAV file or of
/// raw PCM.
fn samples(bytes: &[u8], channels: u16) -> Vec<f32> {
    let pcm = if bytes.starts_with(b"RIFF") && bytes.len() >= 44 {
        // Walk the chunks to `data`.
        let mut at = 12;
        let mut data = &bytes[44.min(bytes.len())..];
        while at + 8 <= bytes.len() {
            let len =
                u32::from_le_bytes([bytes[at + 4], bytes[at + 5], bytes[at + 6], bytes[at + 7]]) as usize;
            if &bytes[at..at + 4] == b"data" {
                data = &bytes[at + 8..(at + 8 + len).min(bytes.len())];
                break;
            }
            at += 8 + len;
        }
        data
    } else {
        bytes
    };
    pcm.chunks_exact(2 * usize::from(channels.max(1)))
        .map(|c| i16::from_le_bytes([c[0], c[1]]) as f32 / i16::MAX as f32)
        .collect()
}

/// FFT over the largest power-of-two prefix; returns (peak Hz, spectrum table).
fn analyze(samples: &[f32], sample_rate: f64) -> (f64, Table) {
    let n = 1usize << (usize::BITS - 1 - samples.len().max(2).leading_zeros()).min(21);
    let mut buf: Vec<Complex<f32>> = samples[..n].iter().map(|s| Complex::new(*s, 0.0)).collect();
    FftPlanner::new().plan_fft_forward(n).process(&mut buf);
    let half = n / 2;
    let freqs = Float64Array::from_iter_values((0..half).map(|k| k as f64 * sample_rate / n as f64));
    let mags: Vec<f64> = buf[..half].iter().map(|c| c.norm() as f64).collect();
    let peak = mags
        .iter()
        .enumerate()
        .skip(1)
        .fold((0, 0.0), |best, (k, m)| if *m > best.1 { (k, *m) } else { best })
        .0;
    let schema = Arc::new(Schema::new(vec![
        Field::new("frequency_hz", DataType::Float64, false),
        Field::new("magnitude", DataType::Float64, false),
    ]));
    let batch = RecordBatch::try_new(schema, vec![Arc::new(freqs), Arc::new(Float64Array::from(mags))])
        .expect("columns match the schema");
    (peak as f64 * sample_rate / n as f64, Table::from_batch(batch))
}

/// The DSP service on `sub`: FFT of each `audio` request, the format read from the
/// `Sample-Rate` and `Channels` headers (an error reply when they are missing or wrong).
pub(crate) async fn serve(
    ctx: Ctx,
    client: async_nats::Client,
    mut sub: async_nats::Subscriber,
) -> Result<(), Box<dyn std::error::Error + Send + Sync>> {
    while let Some(msg) = sub.next().await {
        let req = match smartreceive(&msg, &ctx.receive).await {
            Ok(req) => req,
            Err(e) => {
                warn!(correlation_id = e.correlation_id().unwrap_or_default(), error = %e.report(), "bad audio request");
                continue;
            }
        };
        info!(correlation_id = req.correlation_id(), subject = %msg.subject, "audio received");
        let opts =
            SendOptions::default().fileserver(&ctx.files_url).sender_name("dsp").purpose(MsgPurpose::Event);
        // The format travels only in the headers: without them there is nothing to analyze.
        let audio = req.payloads.first().ok_or_else(|| "no audio payload".to_owned());
        let (rate, channels, p, s) = match audio.and_then(|p| {
            let (rate, channels) = request_format(
                req.header("Sample-Rate"),
                req.header("Channels"),
                req.header("Bits-Per-Sample"),
                p.bytes(),
            )?;
            let s = samples(p.bytes(), channels);
            if s.len() < 2 {
                Err(format!("{} samples: too short", s.len()))
            } else {
                Ok((rate, channels, p, s))
            }
        }) {
            Ok(ok) => ok,
            Err(why) => {
                warn!(correlation_id = req.correlation_id(), error = %why, "audio refused");
                let error = json!({"error": why});
                smartreply(&client, &req.envelope, [("error", Payload::Dictionary(error))], opts).await?;
                continue;
            }
        };
        let (peak, spectrum) = analyze(&s, rate);
        info!(
            correlation_id = req.correlation_id(),
            peak_hz = peak,
            samples = s.len(),
            bytes = p.bytes().len(),
            transport = %p.transport,
            "spectrum sent"
        );
        let result = json!({
            "peak_hz": peak, "samples": s.len(), "seconds": s.len() as f64 / rate,
            "sample_rate": rate, "channels": channels, "received_by": p.transport.to_string(),
            "bytes": p.bytes().len(), "wav": wav_format(p.bytes()).is_some(),
        });
        smartreply(
            &client,
            &req.envelope,
            [("result", Payload::Dictionary(result)), ("spectrum", Payload::ArrowTable(spectrum))],
            opts,
        )
        .await?;
    }
    Ok(())
}

async fn ask(
    ctx: &Ctx,
    client: &async_nats::Client,
    name: &str,
    audio: Vec<u8>,
) -> Result<Received, Box<dyn std::error::Error>> {
    let opts = SendOptions::default()
        .fileserver(&ctx.files_url)
        .sender_name("microphone")
        .header("Sample-Rate", SAMPLE_RATE.to_string())
        .header("Channels", "1")
        .header("Bits-Per-Sample", "16");
    Ok(smartrequest(
        client,
        SUBJECT,
        [(name, Payload::Audio(Bytes::from(audio)))],
        opts,
        &ctx.receive,
        Duration::from_secs(60),
    )
    .await?)
}

pub(crate) async fn run(ctx: &Ctx, file_seconds: f64) -> Result<Outcome, Box<dyn std::error::Error>> {
    let dsp = natsbridge::connect(&ctx.nats_url).await?;
    let sub = dsp.subscribe(SUBJECT).await?;
    natsbridge::transport::subscriptions_registered(&dsp).await?;
    let service = tokio::spawn(serve(ctx.clone(), dsp, sub));
    let client = natsbridge::connect(&ctx.nats_url).await?;
    let mut lines = Vec::new();
    let mut ok = true;
    for (name, freq, audio) in
        [("live_chunk", 440.0, tone(440.0, 2.0)), ("recording.wav", 1000.0, wav(&tone(1000.0, file_seconds)))]
    {
        let bytes = audio.len();
        let reply = ask(ctx, &client, name, audio).await?;
        let Payload::Dictionary(result) = &reply.payloads[0].data else {
            return Err("no JSON result".into());
        };
        if let Some(Payload::Dictionary(error)) = reply.payload("error").map(|p| &p.data) {
            return Err(format!("the service refused {name}: {}", error["error"]).into());
        }
        let Some(Payload::ArrowTable(spectrum)) = reply.payloads.get(1).map(|p| &p.data) else {
            return Err("no spectrum".into());
        };
        let peak = result["peak_hz"].as_f64().unwrap_or(0.0);
        let resolution = SAMPLE_RATE as f64 / (2 * spectrum.num_rows()) as f64;
        let sent_by =
            if bytes >= natsbridge::config::size_threshold() { Transport::Link } else { Transport::Direct };
        let good = (peak - freq).abs() <= 2.0 * resolution
            && result["received_by"] == sent_by.to_string()
            && result["sample_rate"] == SAMPLE_RATE as f64
            && result["channels"] == 1;
        ok &= good;
        lines.push(format!(
            "{name} {:.1} MB {} → peak {peak:.1} Hz (tone {freq} Hz)",
            bytes as f64 / 1e6,
            result["received_by"].as_str().unwrap_or("?")
        ));
    }
    service.abort();
    Ok(Outcome {
        name: "3 audio + FFT",
        ok,
        result: "JSON result + Arrow spectrum replied for both".into(),
        figure: lines.join("; "),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_format_comes_from_the_headers_only() {
        assert_eq!(audio_format(Some("44100"), Some("1")), Ok((44_100.0, 1)));
        assert_eq!(audio_format(Some(" 48000 "), Some("2")), Ok((48_000.0, 2)));
        for (rate, channels) in [
            (None, Some("1")),
            (Some("44100"), None),
            (None, None),
            (Some("fast"), Some("1")),
            (Some("0"), Some("1")),
            (Some("-44100"), Some("1")),
            (Some("NaN"), Some("1")),
            (Some("44100"), Some("0")),
            (Some("44100"), Some("mono")),
        ] {
            assert!(audio_format(rate, channels).is_err(), "{rate:?} {channels:?}");
        }
    }

    #[test]
    fn a_wav_file_must_agree_with_the_headers() {
        let file = wav(&tone(440.0, 0.1));
        assert_eq!(
            wav_format(&file),
            Some(Ok(WavFormat { tag: 1, channels: 1, rate: SAMPLE_RATE, bits: 16 }))
        );
        assert_eq!(wav_format(&tone(440.0, 0.1)), None, "raw PCM is no WAV file");
        assert_eq!(request_format(Some("44100"), Some("1"), Some("16"), &file), Ok((44_100.0, 1)));
        assert_eq!(request_format(Some("44100"), Some("1"), None, &file), Ok((44_100.0, 1)));
        // The headers are the format: without them a WAV file is not read on its own.
        assert!(request_format(None, Some("1"), None, &file).unwrap_err().contains("Sample-Rate"));
        // Disagreements are refused, whichever side is "right".
        for (rate, channels) in [("48000", "1"), ("44100", "2")] {
            let e = request_format(Some(rate), Some(channels), None, &file).unwrap_err();
            assert!(e.contains("the WAV file says 44100 Hz, 1 channel"), "{e}");
        }
        assert!(request_format(Some("44100"), Some("1"), Some("24"), &file).unwrap_err().contains("16-bit"));
        let mut float = file.clone();
        float[20] = 3; // IEEE float
        assert!(
            request_format(Some("44100"), Some("1"), None, &float).unwrap_err().contains("not 16-bit PCM")
        );
        // A chunk before `fmt ` (odd length, padded) is walked over; a missing `fmt ` is an error.
        let mut padded = b"RIFF\0\0\0\0WAVEJUNK\x03\0\0\0abc\0".to_vec();
        padded.extend_from_slice(&file[12..]);
        assert_eq!(request_format(Some("44100"), Some("1"), None, &padded), Ok((44_100.0, 1)));
        assert!(wav_format(b"RIFF\0\0\0\0WAVEdata\x10\0\0\0").unwrap().is_err());
        assert!(wav_format(b"RIFF\0\0\0\0WAVEfmt \x10\0\0\0\x01\0").unwrap().is_err());
        assert!(wav_format(b"RIFF\0\0\0\0WAVEfmt \xff\xff\xff\xff").unwrap().is_err());
    }

    #[test]
    fn the_fft_finds_the_tone_at_the_given_rate() {
        let pcm = tone(440.0, 1.0);
        let (peak, spectrum) = analyze(&samples(&pcm, 1), SAMPLE_RATE as f64);
        assert!((peak - 440.0).abs() < 2.0, "{peak}");
        assert!(spectrum.num_rows() > 1000);
        // The same bytes read as stereo halve the frames; read at half the rate, the tone
        // lands elsewhere: the headers matter.
        let (wrong, _) = analyze(&samples(&pcm, 1), SAMPLE_RATE as f64 / 2.0);
        assert!((wrong - 440.0).abs() > 100.0, "{wrong}");
        assert_eq!(samples(&wav(&pcm), 2).len(), pcm.len() / 4);
    }
}
