//! The admin audit log. Alone in its binary: `tracing` caches per call site whether anyone
//! listens, and a test on another thread hitting the same call sites could make it cache "no".

mod support;

use std::sync::Arc;

use support::{ADMIN_KEY, Host, admin_monitoring as monitoring, admin_post as post, app, call};

#[actix_web::test]
async fn every_attempt_is_audited_without_the_key() {
    let host = Arc::new(Host::default());
    let app = app(monitoring(&host)).await;
    let logs = support::capture_logs_globally();
    call(
        &app,
        post("/admin/providers/groq/circuit/open", Some(ADMIN_KEY)),
    )
    .await;
    call(
        &app,
        post("/admin/providers/groq/circuit/close", Some("wrong-key")),
    )
    .await;
    call(
        &app,
        post("/admin/providers/nope/circuit/reset", Some(ADMIN_KEY)),
    )
    .await;
    let audit: Vec<String> = logs
        .lines()
        .into_iter()
        .filter(|line| line.contains("gatewayz_actix::audit"))
        .collect();
    assert_eq!(audit.len(), 3, "{audit:#?}");
    assert!(audit[0].starts_with("INFO"), "{}", audit[0]);
    assert!(
        audit[0].contains("provider=groq action=open peer=10.1.2.3:4567"),
        "{}",
        audit[0]
    );
    assert!(audit[0].contains("admin action done"), "{}", audit[0]);
    assert!(audit[1].starts_with("WARN"), "{}", audit[1]);
    assert!(
        audit[1].contains("path=/admin/providers/groq/circuit/close"),
        "{}",
        audit[1]
    );
    assert!(audit[1].contains("refused"), "{}", audit[1]);
    assert!(
        audit[2].contains("provider=nope action=reset"),
        "{}",
        audit[2]
    );
    assert!(audit[2].contains("unknown provider"), "{}", audit[2]);
    for line in logs.lines() {
        assert!(
            !line.contains(ADMIN_KEY) && !line.contains("wrong-key"),
            "{line}"
        );
    }
}
