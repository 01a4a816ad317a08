//! The module layering written in `src/lib.rs`, checked: a module imports
//! only from layers below its own, so the graph has no cycle, the database
//! and access layers know no HTTP and no area, and no area reaches into
//! another one (a new area is added without touching the others).

use std::collections::BTreeSet;
use std::path::Path;

/// Lowest first; modules on one line are peers and may not import each other.
const LAYERS: &[&[&str]] = &[
    &["config", "clock", "i18n", "redact"],
    &["db"],
    &["error"],
    &["cpu"],
    &["access"],
    &["audit"],
    &["change"],
    &["user_record"],
    &["tasks"],
    &["security", "mail"],
    &["invitations", "metering"],
    // Stripe: metering's plans and notifications, below the state holding its client;
    // BullMQ's queues and the failure index, likewise held by the state.
    &["billing", "jobs"],
    &["state"],
    &["web"],
    &[
        "auth",
        "account",
        "admin",
        "users",
        "workspaces",
        "plans",
        "roles",
        "usage",
        "billing_pages",
        "job_pages",
        "session_pages",
        "notifications",
        "task_pages",
        "health",
        "seed",
    ],
    // The machine API reuses the areas' changes (user sync).
    &["api"],
    &["routes", "task_kinds"],
    &["cli"],
];

fn layer_of(module: &str) -> Option<usize> {
    LAYERS.iter().position(|l| l.contains(&module))
}

/// The top-level modules `source` names through `crate::` (comments and
/// test modules left out).
fn imports(source: &str) -> BTreeSet<String> {
    let code = source.split("#[cfg(test)]").next().unwrap_or("");
    let mut out = BTreeSet::new();
    for line in code.lines() {
        let line = line.trim_start();
        if line.starts_with("//") {
            continue;
        }
        let mut rest = line;
        while let Some(i) = rest.find("crate::") {
            rest = &rest[i + "crate::".len()..];
            if let Some(group) = rest.strip_prefix('{') {
                // `use crate::{a, b::c};` on one line
                let inner = group.split('}').next().unwrap_or("");
                for part in inner.split(',') {
                    let name = part.trim().split("::").next().unwrap_or("");
                    out.insert(name.to_owned());
                }
                continue;
            }
            let name: String = rest
                .chars()
                .take_while(|c| c.is_alphanumeric() || *c == '_')
                .collect();
            out.insert(name);
        }
    }
    out
}

fn walk(dir: &Path, files: &mut Vec<std::path::PathBuf>) {
    for entry in std::fs::read_dir(dir).expect("read src").flatten() {
        let path = entry.path();
        if path.is_dir() {
            walk(&path, files);
        } else if path.extension().is_some_and(|e| e == "rs") {
            files.push(path);
        }
    }
}

#[test]
fn every_module_imports_only_from_lower_layers() {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut files = Vec::new();
    walk(&src, &mut files);
    let mut wrong = Vec::new();
    for file in files {
        let rel = file.strip_prefix(&src).expect("under src");
        let top = rel
            .components()
            .next()
            .and_then(|c| c.as_os_str().to_str())
            .unwrap_or("")
            .trim_end_matches(".rs")
            .to_owned();
        if top == "lib" || top == "main" {
            continue;
        }
        let Some(own) = layer_of(&top) else {
            wrong.push(format!("{top}: not in LAYERS (add it at its level)"));
            continue;
        };
        let source = std::fs::read_to_string(&file).expect("read");
        for name in imports(&source) {
            // `db_run!` and `text_enum!` are the db layer's macros, exported at the root.
            if name == top || name.is_empty() || name == "db_run" || name == "text_enum" {
                continue;
            }
            match layer_of(&name) {
                Some(l) if l < own => {}
                Some(_) => wrong.push(format!("{} imports {name}", rel.display())),
                // Items of `lib.rs` itself (`start`, `open_database`): the
                // command line sits above them.
                None if top == "cli" => {}
                None => wrong.push(format!("{} imports unknown {name}", rel.display())),
            }
        }
    }
    assert!(wrong.is_empty(), "layering broken:\n{}", wrong.join("\n"));
}

#[test]
fn the_import_reader_sees_grouped_and_plain_paths() {
    let found =
        imports("use crate::{db, web::x};\nlet a = crate::audit::record;\n// crate::users\n");
    let names: Vec<&str> = found.iter().map(String::as_str).collect();
    assert_eq!(names, ["audit", "db", "web"]);
}
