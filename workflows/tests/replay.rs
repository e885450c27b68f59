//! Replays every recorded order-workflow history against today's code. A change that would
//! break orders in flight (reordered, added or removed commands without `ctx.patched`) fails
//! here with a nondeterminism error. Record fresh histories with
//! `BOXOFFICE_RECORD_HISTORIES=1 ./ops/test.sh -p boxoffice-tests --test order_workflow`; keep
//! old ones as long as workflows started by that code may still be running.

use boxoffice_workflows::order::OrderWorkflow;
use temporalio_client::WorkflowHistory;
use temporalio_sdk::workflow_replayer::{WorkflowReplayer, WorkflowReplayerOptions};

#[tokio::test]
async fn recorded_order_histories_replay_on_the_current_code() {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/histories");
    let mut files: Vec<_> = std::fs::read_dir(&dir)
        .expect("histories folder")
        .map(|e| e.expect("dir entry").path())
        .filter(|p| p.extension().is_some_and(|x| x == "json"))
        .collect();
    files.sort();
    assert!(
        files.len() >= 3,
        "expected recorded histories in {}",
        dir.display()
    );
    let mut options = WorkflowReplayerOptions::new().build();
    options
        .register_workflow::<OrderWorkflow>()
        .expect("register");
    let replayer = WorkflowReplayer::new(options).expect("replayer");
    for file in files {
        let history = WorkflowHistory::from_json(&std::fs::read(&file).expect("read"))
            .expect("parse history");
        replayer
            .replay_workflow(history)
            .await
            .unwrap_or_else(|e| panic!("{} no longer replays: {e}", file.display()));
    }
}
