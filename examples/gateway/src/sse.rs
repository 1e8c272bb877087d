//! Reading a server-sent-event stream as it passes through, without holding it back.
//!
//! The gateway forwards every chunk the provider sends as soon as it arrives; on the side, this
//! scanner splits the bytes into events, and reads the usage report and the amount of text
//! streamed so far (to estimate tokens when a stream is cut before its usage arrives).

use serde_json::Value;

use crate::openai::Usage;

/// What has been learnt from the stream so far.
#[derive(Debug, Default)]
pub struct StreamScan {
    partial: Vec<u8>,
    /// The usage the provider reported, if it has yet.
    pub usage: Option<Usage>,
    /// Bytes of generated text seen in `delta.content`.
    pub content_bytes: usize,
    /// Whether the terminating `data: [DONE]` arrived.
    pub done: bool,
    /// Data events seen.
    pub events: usize,
}

/// Longest line kept while waiting for its end; longer lines are skipped, not buffered.
const MAX_LINE: usize = 1 << 20;

impl StreamScan {
    /// Scans one chunk as received.
    pub fn feed(&mut self, chunk: &[u8]) {
        let mut rest = chunk;
        while let Some(newline) = rest.iter().position(|b| *b == b'\n') {
            let (line, after) = rest.split_at(newline);
            if self.partial.is_empty() {
                self.line(line);
            } else {
                let mut whole = std::mem::take(&mut self.partial);
                whole.extend_from_slice(line);
                self.line(&whole);
            }
            rest = &after[1..];
        }
        if self.partial.len() + rest.len() <= MAX_LINE {
            self.partial.extend_from_slice(rest);
        } else {
            self.partial.clear();
        }
    }

    fn line(&mut self, line: &[u8]) {
        let line = line.strip_suffix(b"\r").unwrap_or(line);
        let Some(data) = line.strip_prefix(b"data:") else {
            return;
        };
        let data = data.strip_prefix(b" ").unwrap_or(data);
        self.events += 1;
        if data == b"[DONE]" {
            self.done = true;
            return;
        }
        let Ok(event) = serde_json::from_slice::<Value>(data) else {
            return;
        };
        if let Some(usage) = Usage::from_body(&event) {
            self.usage = Some(usage);
        }
        if let Some(choices) = event.get("choices").and_then(Value::as_array) {
            for choice in choices {
                if let Some(text) = choice["delta"]["content"].as_str() {
                    self.content_bytes += text.len();
                }
            }
        }
    }

    /// Completion tokens: as reported, else estimated at four bytes a token.
    pub fn completion_tokens(&self) -> u64 {
        self.usage
            .map_or(self.content_bytes.div_ceil(4) as u64, |u| {
                u.completion_tokens
            })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const STREAM: &str = "data: {\"choices\":[{\"delta\":{\"content\":\"Hello\"}}]}\n\n\
        data: {\"choices\":[{\"delta\":{\"content\":\" world!\"}}]}\r\n\r\n\
        data: {\"choices\":[],\"usage\":{\"prompt_tokens\":9,\"completion_tokens\":3,\"total_tokens\":12}}\n\n\
        data: [DONE]\n\n";

    #[test]
    fn usage_and_content_are_read_whatever_the_chunking() {
        for size in [1, 2, 7, 64, STREAM.len()] {
            let mut scan = StreamScan::default();
            for chunk in STREAM.as_bytes().chunks(size) {
                scan.feed(chunk);
            }
            assert_eq!(scan.usage, Some(Usage::new(9, 3)), "chunks of {size}");
            assert_eq!(scan.content_bytes, 12);
            assert!(scan.done);
            assert_eq!(scan.events, 4);
        }
    }

    #[test]
    fn a_cut_stream_estimates_tokens_from_its_text() {
        let mut scan = StreamScan::default();
        scan.feed(
            b"data: {\"choices\":[{\"delta\":{\"content\":\"0123456789\"}}]}\n\ndata: {\"cho",
        );
        assert_eq!(
            (scan.usage, scan.done, scan.completion_tokens()),
            (None, false, 3)
        );
    }
}
