//! `promtool check metrics` accepts every render: all, each category, hostile label values.

use gatewayz_registry::{Category, RecorderBuilder, catalogue};
use gatewayz_testkit::{
    promtool::check_metrics,
    workload::{self, Shape},
};
use metrics::{counter, with_local_recorder};

#[test]
fn promtool_accepts_every_render_of_the_full_catalogue() {
    let recorder = RecorderBuilder::new()
        .global_label("replica", "a")
        .build()
        .unwrap();
    let handle = recorder.handle();
    workload::populate(
        &recorder,
        Shape {
            providers: 3,
            models: 4,
        },
    );
    with_local_recorder(&recorder, || {
        for model in [
            "q\"uote",
            "back\\slash",
            "new\nline",
            "模型",
            &"x".repeat(10_000),
        ] {
            counter!(catalogue::MODEL_INFERENCE_REQUESTS.name,
                "provider" => "p", "model" => model.to_owned(), "status" => "success")
            .increment(1);
        }
        metrics::describe_counter!("my_jobs_total", "Jobs with a \\ and a\nnewline in help.");
        counter!("my_jobs_total", "queue" => "x").increment(1);
    });
    let all = handle.render_all();
    assert!(all.lines().count() > 1000);
    assert_eq!(check_metrics(&all), "", "render_all");
    for category in Category::ALL {
        assert_eq!(check_metrics(&handle.render(category)), "", "{category}");
    }
}

#[test]
fn promtool_rejects_what_we_refuse_to_emit() {
    // The judge must be able to say no, or the test above proves nothing.
    let text = "# HELP subscription_count Old name.\n# TYPE subscription_count gauge\nsubscription_count 1\n";
    assert!(!check_metrics(text).is_empty());
}
