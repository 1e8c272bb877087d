//! The heap a request's parse takes, measured by a counting allocator (alone in this binary, so
//! that no other test allocates meanwhile).
//!
//! The bound stated in `docs/limits.md` and checked here: validating a body and building the
//! body sent upstream take at most the body's size plus 64 KiB, whatever the body holds (the
//! upstream body is one copy of it; the parse itself keeps a few hundred bytes and the model
//! name). A tree of the same body (`serde_json::Value`, as the gateway used to build) is
//! measured alongside for comparison: about 100 MiB for 8 MB of `{}` elements.

use bytes::Bytes;
use gatewayz_gateway::openai::ChatRequest;
use peak_alloc::PeakAlloc;

#[global_allocator]
static ALLOCATOR: PeakAlloc = PeakAlloc;

const BODY: usize = 8 << 20;

/// The peak heap `work` takes beyond what was allocated before it.
fn peak_of<T>(work: impl FnOnce() -> T) -> (usize, T) {
    ALLOCATOR.reset_peak_usage();
    let before = ALLOCATOR.current_usage();
    let result = work();
    (ALLOCATOR.peak_usage() - before, result)
}

/// A body of about 8 MB: `messages` holding `element` over and over, or one long message.
fn body(element: &str) -> Bytes {
    let head = r#"{"model":"gpt-4o-mini","stream":true,"temperature":0.5,"messages":["#;
    let mut body = String::with_capacity(BODY + 64);
    body.push_str(head);
    while body.len() + element.len() + 2 < BODY {
        body.push_str(element);
        body.push(',');
    }
    body.pop();
    body.push_str("]}");
    Bytes::from(body)
}

#[test]
fn a_parse_takes_at_most_the_bodys_size_whatever_it_holds() {
    let long_message = format!(
        r#"{{"role":"user","content":"{}"}}"#,
        "word ".repeat((BODY - 200) / 5)
    );
    let cases = [
        ("8 MB of {} messages", body("{}"), true),
        (
            "8 MB of small messages",
            body(r#"{"role":"user","content":"hi"}"#),
            true,
        ),
        ("one 8 MB message", body(&long_message), true),
        ("8 MB of [] messages (invalid)", body("[]"), false),
        (
            "8 MB of nested messages",
            body(r#"{"a":[[[[[[[[{"b":[1,2,3]}]]]]]]]]}"#),
            true,
        ),
    ];
    for (i, (what, body, valid)) in cases.into_iter().enumerate() {
        let size = body.len();
        // The tree, for comparison, of the first body only: it takes seconds to build unoptimised.
        let (tree, _) = if i == 0 {
            peak_of(|| serde_json::from_slice::<serde_json::Value>(&body).map(drop))
        } else {
            (0, Ok(()))
        };
        let (parse, upstream) = peak_of(|| {
            let request = ChatRequest::parse(body.clone());
            assert_eq!(request.is_ok(), valid, "{what}");
            request.map(|r| r.upstream_body("openai/gpt-4o-mini").len())
        });
        eprintln!(
            "{what} ({:.1} MiB): parse and upstream body {:.2} MiB ({:.2}x the body){}",
            size as f64 / (1 << 20) as f64,
            parse as f64 / (1 << 20) as f64,
            parse as f64 / size as f64,
            if tree > 0 {
                format!(
                    "; a Value tree {:.1} MiB ({:.1}x)",
                    tree as f64 / (1 << 20) as f64,
                    tree as f64 / size as f64
                )
            } else {
                String::new()
            }
        );
        if let Ok(upstream) = upstream {
            assert!(
                upstream > size,
                "{what}: the upstream body is the body with usage asked for"
            );
        }
        assert!(
            parse <= size + (64 << 10),
            "{what}: {parse} bytes for a {size}-byte body"
        );
    }
}
