//! Every input reader must turn any byte string into records without panicking, with strictly
//! increasing row numbers, and the writers must accept whatever the readers produce.
#![no_main]

use libfuzzer_sys::fuzz_target;
use pantau::io::{read_records, CsvWriter, InputFormat, InputOptions, JsonlWriter, RecordWriter};
use pantau::Prediction;

fuzz_target!(|data: &[u8]| {
    let p = Prediction::from_probabilities([0.2, 0.3, 0.5]);
    for format in [InputFormat::Jsonl, InputFormat::Text, InputFormat::Csv, InputFormat::Tsv] {
        let opts = InputOptions { format, ..InputOptions::default() };
        let Ok(records) = read_records(data, "fuzz", &opts) else { continue };
        let headers = records.headers.clone();
        let mut jsonl = JsonlWriter::new(std::io::sink(), "fuzz", headers.clone(), 0);
        let mut csv = CsvWriter::new(std::io::sink(), "fuzz", headers, None, 0);
        let mut last = 0;
        for r in records {
            let Ok(r) = r else { break };
            assert!(r.row > last);
            last = r.row;
            let outcome = match &r.text {
                Ok(_) => Ok(&p),
                Err(e) => Err(e.as_str()),
            };
            jsonl.write(&r, outcome).unwrap();
            csv.write(&r, outcome).unwrap();
        }
    }
});
