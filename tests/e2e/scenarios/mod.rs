//! The scenarios: what a user of an AI client does, each checked against what the server then
//! holds (read back through the API, not only from the tool's reply).

use crate::runner::Scenario;

mod agent_errors;
mod chores;
mod ee;
mod executions;
mod files;
mod findings;
mod flow_tools;
mod flows;
mod helpers;
mod kv;
mod safety;
mod waits;

macro_rules! scenario {
    ($module:ident :: $name:ident, $about:expr) => {
        scenario!($module::$name, $about, ee = false, probe = false)
    };
    ($module:ident :: $name:ident, $about:expr, ee = $ee:expr, probe = $probe:expr) => {
        Scenario {
            name: stringify!($name),
            about: $about,
            ee: $ee,
            probe_version: $probe,
            run: |c| Box::pin($module::$name(c)),
        }
    };
}

pub fn all() -> Vec<Scenario> {
    vec![
        scenario!(
            flows::flow_lifecycle,
            "create a flow from YAML, find it, update, revisions, disable/enable, delete"
        ),
        scenario!(
            flows::reserved_flow_ids,
            "a flow id that is a 1.x action word is refused"
        ),
        scenario!(
            flows::namespaces_and_dependencies,
            "list namespaces, flow and namespace dependencies"
        ),
        scenario!(
            executions::execute_inputs_labels_logs,
            "execute with inputs and labels, wait, list, read/search/follow/delete logs"
        ),
        scenario!(
            executions::pause_and_resume,
            "a Pause task pauses; resume by id, by flow, with onResume inputs; pause a running one; force-run"
        ),
        scenario!(
            executions::restart_failed,
            "a Fail task fails; restart it; change a task run's state"
        ),
        scenario!(executions::replay, "replay by id and the latest of a flow"),
        scenario!(
            executions::change_status_and_labels,
            "change an execution's status, add labels (merged)"
        ),
        scenario!(executions::kill_running, "kill a running execution"),
        scenario!(
            waits::wait_for_executions,
            "wait: execute, restart, replay and resume follow the execution to its end or pause"
        ),
        scenario!(
            waits::pause_that_asks,
            "an elicitation-capable client answers two Pauses of execute_flow with wait"
        ),
        scenario!(
            executions::backfill_schedule,
            "backfill a schedule trigger over a past window"
        ),
        scenario!(
            findings::log_level_filter,
            "min_level is a minimum on every log tool (2.0 refuses EQUALS on the level)"
        ),
        scenario!(
            findings::backfill_start_slot,
            "a backfill runs the slot its window starts on (2.0 starts after it)"
        ),
        scenario!(
            findings::ai_not_configured,
            "AI generation without an AI provider says what to configure (2.0)"
        ),
        scenario!(
            findings::action_refusals,
            "refused restart/force-run are errors naming the state (2.0 answers 409)"
        ),
        scenario!(
            kv::kv_every_type,
            "KV set/get/list/delete of string, number, boolean, JSON object, list, date, datetime"
        ),
        scenario!(
            files::namespace_files,
            "upload/read/search/move/delete a namespace file"
        ),
        scenario!(
            files::namespace_directories,
            "create/list/move/delete namespace directories"
        ),
        scenario!(
            agent_errors::flow_yaml_refusals_and_source_search,
            "create_flow_from_yaml: an unknown task type is refused with Kestra's messages (nothing created or updated), an existing flow is updated; search_flows in_source finds a task type"
        ),
        scenario!(
            agent_errors::execute_unknown_input_and_duration,
            "execute_flow refuses an undeclared input with the valid names (nothing started); list_executions gives durationSeconds"
        ),
        scenario!(
            agent_errors::kv_set_without_value,
            "manage_kv_store set without a value is refused; no key is created"
        ),
        scenario!(
            agent_errors::missing_directory_and_empty_file_search,
            "listing a missing directory is an error; a file search with an empty q lists every file"
        ),
        scenario!(
            chores::agent_chores,
            "issue 19's ten chores (paused and failed executions, why it failed, restart, find a flow by what it does, validate then create, disable twice, a task's logs, KV, recent errors): calls and result bytes"
        ),
        scenario!(
            flow_tools::flow_tools,
            "a flow selected by a flow_tools file becomes a typed tool: listed once created, invalid arguments refused before any request, a call answers the outputs; the execution holds typed inputs, labels and outputs"
        ),
        scenario!(
            safety::version_safety,
            "per-execution actions reach the right path for the version the server reports; no flow named `pause` is started",
            ee = false,
            probe = true
        ),
        scenario!(
            ee::ee_groups_and_invitations,
            "groups, invitations (EE)",
            ee = true,
            probe = false
        ),
        scenario!(ee::ee_apps, "apps (EE)", ee = true, probe = false),
        scenario!(ee::ee_tests, "test suites (EE)", ee = true, probe = false),
        scenario!(
            ee::ee_announcements,
            "announcements (EE)",
            ee = true,
            probe = false
        ),
        scenario!(
            ee::ee_instance_info,
            "instance configuration and license",
            ee = true,
            probe = false
        ),
        scenario!(
            ee::ai_generate,
            "AI generation of flows, apps, tests, dashboards",
            ee = true,
            probe = false
        ),
    ]
}
