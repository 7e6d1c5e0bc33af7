#![no_main]
libfuzzer_sys::fuzz_target!(|data: &[u8]| natsbridge::fuzzing::base64(data));
