//! `cargo xtask bench [--quick] [--write]`: every benchmark of the project, one table.
//!
//! Runs each benchmark binary in turn (exposition engine versus `metrics-exporter-prometheus`,
//! instrumentation versus plain macros, health operations and routing decisions, HTTP
//! endpoints under load, gateway overhead versus direct, routing policies versus `spread` in
//! three scenarios), each with its baseline measured in the same run. Every benchmark
//! prints its own markdown tables (shown as it runs, on standard error) and one
//! `BENCH {json}` line per headline result:
//!
//! ```text
//! BENCH {"bench":"exposition","measure":"render_all","ours":0.95,"baseline":35.4,"unit":"ms",
//!        "better":"lower","target":">= 8x faster","pass":true,"note":""}
//! ```
//!
//! (on one line), which this module collects into one table: measure, this project, baseline,
//! ratio, target, pass/fail. `--quick` runs each benchmark's quick settings (noisier, the same
//! measures); `--write` puts the table and the machine it ran on into `docs/performance.md`,
//! between the markers [`BEGIN`] and [`END`]. All benchmarks are compiled first, in one build,
//! and their executables run directly, so the time reported is the benchmarks' own. `wrk` (for
//! the HTTP load benchmark) is installed when missing, as `cargo xtask test` installs its tools.

use std::{
    collections::HashMap,
    env, fs,
    io::{BufRead, BufReader},
    path::{Path, PathBuf},
    process::{Command, Stdio},
    thread,
    time::{Duration, Instant, SystemTime, UNIX_EPOCH},
};

use serde_json::Value;

use crate::{Result, display, tools, workspace_root};

/// Start marker of the generated section of `docs/performance.md`.
pub const BEGIN: &str = "<!-- cargo xtask bench --write: begin -->";
/// End marker of the generated section of `docs/performance.md`.
pub const END: &str = "<!-- cargo xtask bench --write: end -->";

/// One benchmark binary.
#[derive(Debug, Clone, Copy)]
pub struct Bench {
    /// The package that holds it.
    pub package: &'static str,
    /// Its `[[bench]]` name.
    pub name: &'static str,
}

/// Every benchmark of the project, in the order they run.
pub const BENCHES: &[Bench] = &[
    Bench {
        package: "gatewayz-registry",
        name: "exposition",
    },
    Bench {
        package: "gatewayz-metrics",
        name: "instrumentation",
    },
    Bench {
        package: "gatewayz-health",
        name: "health",
    },
    Bench {
        package: "gatewayz-actix",
        name: "load",
    },
    Bench {
        package: "gatewayz-gateway",
        name: "overhead",
    },
    Bench {
        package: "gatewayz-gateway",
        name: "routing",
    },
];

/// What `cargo xtask bench` was asked to do.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Options {
    /// Each benchmark's quick settings.
    pub quick: bool,
    /// Update `docs/performance.md`.
    pub write: bool,
}

impl Options {
    /// Parses the options after `bench`.
    pub fn parse(args: &[String]) -> Result<Options> {
        let mut options = Options::default();
        for arg in args {
            match arg.as_str() {
                "--quick" => options.quick = true,
                "--write" => options.write = true,
                other => return Err(format!("unknown bench option `{other}`")),
            }
        }
        Ok(options)
    }
}

/// Which way a measure is better.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Better {
    /// Times, costs, errors.
    Lower,
    /// Rates.
    Higher,
}

/// One headline result, as a benchmark reports it on a `BENCH` line.
#[derive(Debug, Clone, PartialEq)]
pub struct Measure {
    /// The benchmark binary.
    pub bench: String,
    /// What was measured.
    pub measure: String,
    /// This project's figure.
    pub ours: f64,
    /// The baseline's figure, measured in the same run, if there is a baseline.
    pub baseline: Option<f64>,
    /// Unit of both figures (`ns`, `µs`, `ms`, `%`, `req/s`, or empty for a count).
    pub unit: String,
    /// Which way is better.
    pub better: Better,
    /// The target, as the issue states it.
    pub target: String,
    /// Whether the target is met; `None` for figures that are only reported.
    pub pass: Option<bool>,
    /// A detail to show next to the measure, if any.
    pub note: String,
}

/// Reads a `BENCH {json}` line; `None` for any other line.
pub fn parse_line(line: &str) -> Option<Result<Measure>> {
    let json = line.strip_prefix("BENCH ")?;
    Some(parse_json(json).map_err(|e| format!("unreadable benchmark result `{line}`: {e}")))
}

fn parse_json(json: &str) -> Result<Measure> {
    let value: Value = serde_json::from_str(json).map_err(|e| e.to_string())?;
    let text = |name: &str| -> Result<String> {
        value[name]
            .as_str()
            .map(str::to_owned)
            .ok_or_else(|| format!("`{name}` must be a string"))
    };
    let better = match value["better"].as_str() {
        Some("higher") => Better::Higher,
        Some("lower") | None => Better::Lower,
        Some(other) => return Err(format!("`better` must be lower or higher, not {other}")),
    };
    Ok(Measure {
        bench: text("bench")?,
        measure: text("measure")?,
        ours: value["ours"]
            .as_f64()
            .ok_or("`ours` must be a number".to_owned())?,
        baseline: value["baseline"].as_f64(),
        unit: text("unit")?,
        better,
        target: text("target")?,
        pass: value["pass"].as_bool(),
        note: value["note"].as_str().unwrap_or_default().to_owned(),
    })
}

/// A figure with its unit, to three significant digits or so.
pub fn figure(value: f64, unit: &str) -> String {
    let number = if value.abs() >= 100.0 || value.fract() == 0.0 {
        format!("{value:.0}")
    } else if value.abs() >= 10.0 {
        format!("{value:.1}")
    } else {
        format!("{value:.2}")
    };
    match unit {
        "" => number,
        "%" => format!("{number}%"),
        unit => format!("{number} {unit}"),
    }
}

/// How this project compares with the baseline, in words.
pub fn ratio(measure: &Measure) -> String {
    let Some(baseline) = measure.baseline else {
        return String::new();
    };
    let ours = measure.ours;
    if measure.unit == "%" || !(ours > 0.0 && baseline > 0.0) {
        return String::new();
    }
    let time = matches!(measure.unit.as_str(), "ns" | "µs" | "ms" | "s");
    let (factor, word) = match (measure.better, ours <= baseline) {
        (Better::Lower, true) => (baseline / ours, if time { "faster" } else { "less" }),
        (Better::Lower, false) => (ours / baseline, if time { "slower" } else { "more" }),
        (Better::Higher, true) => (baseline / ours, "lower"),
        (Better::Higher, false) => (ours / baseline, "higher"),
    };
    format!("{factor:.1}× {word}")
}

/// The unified table, in markdown.
pub fn table(measures: &[Measure]) -> String {
    let mut out = String::from(
        "| bench | measure | this project | baseline | ratio | target | pass/fail |\n\
         | --- | --- | --- | --- | --- | --- | --- |\n",
    );
    for m in measures {
        let measure = if m.note.is_empty() {
            m.measure.clone()
        } else {
            format!("{} ({})", m.measure, m.note)
        };
        let verdict = match m.pass {
            Some(true) => "pass",
            Some(false) => "FAIL",
            None => "reported",
        };
        out.push_str(&format!(
            "| {} | {} | {} | {} | {} | {} | {} |\n",
            m.bench,
            measure.replace('|', "\\|"),
            figure(m.ours, &m.unit),
            m.baseline.map_or("n/a".to_owned(), |b| figure(b, &m.unit)),
            ratio(m),
            m.target.replace('|', "\\|"),
            verdict,
        ));
    }
    out
}

/// Replaces what lies between [`BEGIN`] and [`END`] in `doc` with `section`.
pub fn replace_section(doc: &str, section: &str) -> Result<String> {
    let missing = || {
        format!(
            "docs/performance.md has no generated section; add a line `{BEGIN}` and a line \
             `{END}` where the table goes"
        )
    };
    let begin = doc.find(BEGIN).ok_or_else(missing)? + BEGIN.len();
    let end = doc[begin..].find(END).ok_or_else(missing)? + begin;
    Ok(format!(
        "{}\n{}\n{}",
        &doc[..begin],
        section.trim_end(),
        &doc[end..]
    ))
}

/// `YYYY-MM-DD HH:MM UTC` for seconds since the Unix epoch.
pub fn utc(seconds: u64) -> String {
    // Howard Hinnant's days-to-civil algorithm.
    let days = (seconds / 86_400) as i64;
    let (hour, minute) = (seconds % 86_400 / 3600, seconds % 3600 / 60);
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!("{year:04}-{month:02}-{day:02} {hour:02}:{minute:02} UTC")
}

/// The machine, in one line: CPU model, cores, memory, OS, compiler.
pub fn machine() -> String {
    let cpuinfo = fs::read_to_string("/proc/cpuinfo").unwrap_or_default();
    let field = |text: &str, name: &str| {
        text.lines()
            .find(|l| l.split(':').next().is_some_and(|k| k.trim() == name))
            .and_then(|l| l.split_once(':'))
            .map(|(_, v)| v.trim().to_owned())
    };
    let cpu = field(&cpuinfo, "model name").unwrap_or_else(|| "unknown CPU".to_owned());
    let cores = thread::available_parallelism().map_or(0, |n| n.get());
    let memory = field(
        &fs::read_to_string("/proc/meminfo").unwrap_or_default(),
        "MemTotal",
    )
    .and_then(|v| v.split_whitespace().next()?.parse::<f64>().ok())
    .map_or("? GiB".to_owned(), |kb| {
        format!("{:.0} GiB", kb / 1024.0 / 1024.0)
    });
    let os = fs::read_to_string("/etc/os-release")
        .ok()
        .and_then(|t| field(&t.replace('=', ":"), "PRETTY_NAME"))
        .map_or("unknown OS".to_owned(), |v| v.trim_matches('"').to_owned());
    let rustc = Command::new(env::var_os("RUSTC").unwrap_or_else(|| "rustc".into()))
        .arg("-V")
        .output()
        .ok()
        .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_owned())
        .unwrap_or_else(|| "rustc ?".to_owned());
    format!("{cpu}, {cores} cores (nproc), {memory}, {os}, {rustc}")
}

/// The executable of every benchmark in cargo's JSON messages, with its package's directory
/// (where `cargo bench` would run it).
fn executables(messages: &str) -> Result<HashMap<String, (PathBuf, PathBuf)>> {
    let mut found = HashMap::new();
    for message in messages.lines() {
        let Ok(value) = serde_json::from_str::<Value>(message) else {
            continue;
        };
        let target = &value["target"];
        let is_bench = target["kind"]
            .as_array()
            .is_some_and(|kinds| kinds.iter().any(|k| k == "bench"));
        if let (true, Some(name), Some(executable), Some(manifest)) = (
            is_bench,
            target["name"].as_str(),
            value["executable"].as_str(),
            value["manifest_path"].as_str(),
        ) {
            let dir = Path::new(manifest).parent().unwrap_or(Path::new("."));
            found.insert(name.to_owned(), (executable.into(), dir.to_owned()));
        }
    }
    match BENCHES.iter().find(|b| !found.contains_key(b.name)) {
        Some(missing) => Err(format!(
            "cargo built no executable for the `{}` benchmark of {}",
            missing.name, missing.package
        )),
        None => Ok(found),
    }
}

/// The 1-minute load average, from `/proc/loadavg`: how busy the machine was besides us.
fn load_average() -> String {
    fs::read_to_string("/proc/loadavg")
        .ok()
        .and_then(|l| l.split_whitespace().next().map(str::to_owned))
        .unwrap_or_else(|| "?".to_owned())
}

fn minutes(d: Duration) -> String {
    let s = d.as_secs();
    if s >= 60 {
        format!("{} min {:02} s", s / 60, s % 60)
    } else {
        format!("{s} s")
    }
}

/// Runs every benchmark and prints the unified table; see the module docs.
pub fn run(options: Options) -> Result {
    tools::ensure(&[gatewayz_testkit::tools::WRK])?;
    let cargo = env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let root = workspace_root();

    // One build of every benchmark, whose executables are then run directly: a `cargo bench
    // -p X` per benchmark would unify features per package, rebuild dependencies differently
    // for each, and count that in the benchmarks' time.
    let compiling = Instant::now();
    let mut build = Command::new(&cargo);
    build
        .args([
            "bench",
            "--no-run",
            "--message-format=json-render-diagnostics",
        ])
        .current_dir(&root)
        .stdout(Stdio::piped());
    for bench in BENCHES {
        build.args(["-p", bench.package, "--bench", bench.name]);
    }
    eprintln!("$ {}", display(&build));
    let output = build
        .spawn()
        .and_then(|child| child.wait_with_output())
        .map_err(|e| format!("could not run {}: {e}", display(&build)))?;
    if !output.status.success() {
        return Err(format!("`{}` failed ({})", display(&build), output.status));
    }
    let executables = executables(&String::from_utf8_lossy(&output.stdout))?;
    let compiled = compiling.elapsed();

    let load_before = load_average();
    let running = Instant::now();
    let mut measures = Vec::new();
    let mut failures = Vec::new();
    for bench in BENCHES {
        let (executable, dir) = &executables[bench.name];
        let mut command = Command::new(executable);
        command
            .arg("--bench")
            .current_dir(dir)
            .stdout(Stdio::piped());
        if options.quick {
            command.arg("--quick");
        }
        eprintln!(
            "\n$ {}  # {} {}",
            display(&command),
            bench.package,
            bench.name
        );
        let started = Instant::now();
        let mut child = command
            .spawn()
            .map_err(|e| format!("could not start {}: {e}", display(&command)))?;
        let stdout = child.stdout.take().expect("stdout is piped");
        let mut found = 0;
        for line in BufReader::new(stdout).lines() {
            let line = line.map_err(|e| format!("reading {}: {e}", bench.name))?;
            match parse_line(&line) {
                Some(Ok(measure)) => {
                    measures.push(measure);
                    found += 1;
                }
                Some(Err(message)) => failures.push(message),
                // The benchmark's own tables, shown as it goes.
                None => eprintln!("{line}"),
            }
        }
        let status = child.wait().map_err(|e| e.to_string())?;
        eprintln!("({} took {})", bench.name, minutes(started.elapsed()));
        if !status.success() {
            failures.push(format!("{} exited with {status}", bench.name));
        } else if found == 0 {
            failures.push(format!("{} printed no BENCH line", bench.name));
        }
    }
    let took = running.elapsed();

    let mode = if options.quick {
        "cargo xtask bench --quick"
    } else {
        "cargo xtask bench"
    };
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    let section = format!(
        "Latest `{mode}`, {}: the benchmarks took {} after {} of compiling, on {}; load \
         average {load_before} before, {} after.\n\n{}",
        utc(now),
        minutes(took),
        minutes(compiled),
        machine(),
        load_average(),
        table(&measures)
    );
    println!("\n{section}");
    let missed = measures.iter().filter(|m| m.pass == Some(false)).count();
    let judged = measures.iter().filter(|m| m.pass.is_some()).count();
    println!("{} of {judged} targets met.", judged - missed);

    if options.write {
        let path = root.join("docs/performance.md");
        let doc = fs::read_to_string(&path).map_err(|e| format!("{}: {e}", path.display()))?;
        fs::write(&path, replace_section(&doc, &section)?)
            .map_err(|e| format!("{}: {e}", path.display()))?;
        eprintln!("updated {}", path.display());
    }
    if failures.is_empty() {
        Ok(())
    } else {
        Err(format!("some benchmarks failed:\n{}", failures.join("\n")))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn measure(json: &str) -> Measure {
        parse_line(&format!("BENCH {json}")).unwrap().unwrap()
    }

    #[test]
    fn bench_lines_are_read_and_other_lines_ignored() {
        assert!(parse_line("| measure | ours |").is_none());
        let m = measure(
            r#"{"bench":"exposition","measure":"render_all","ours":0.95,"baseline":35.5,"unit":"ms","better":"lower","target":">= 8x faster","pass":true,"note":""}"#,
        );
        assert_eq!(m.bench, "exposition");
        assert_eq!(m.baseline, Some(35.5));
        assert_eq!(m.pass, Some(true));
        let reported = measure(
            r#"{"bench":"overhead","measure":"rate","ours":4000,"baseline":null,"unit":"req/s","better":"higher","target":"reported","pass":null}"#,
        );
        assert_eq!(reported.baseline, None);
        assert_eq!(reported.pass, None);
        assert_eq!(reported.better, Better::Higher);
        assert!(parse_line(r#"BENCH {"bench":"x"}"#).unwrap().is_err());
    }

    #[test]
    fn ratios_say_which_way_and_how_much() {
        let mut m = measure(
            r#"{"bench":"b","measure":"m","ours":1.0,"baseline":37.3,"unit":"ms","better":"lower","target":"","pass":true}"#,
        );
        assert_eq!(ratio(&m), "37.3× faster");
        m.ours = 74.6;
        assert_eq!(ratio(&m), "2.0× slower");
        m.unit = "%".into();
        assert_eq!(ratio(&m), "");
        m.better = Better::Higher;
        m.unit = "req/s".into();
        m.ours = 2000.0;
        m.baseline = Some(8000.0);
        assert_eq!(ratio(&m), "4.0× lower");
        m.baseline = Some(0.0);
        assert_eq!(ratio(&m), "");
    }

    #[test]
    fn the_table_has_one_row_per_measure_with_its_verdict() {
        let rows = [
            r#"{"bench":"health","measure":"record","ours":85,"baseline":null,"unit":"ns","better":"lower","target":"<= 1 µs","pass":true}"#,
            r#"{"bench":"overhead","measure":"p99","ours":412.4,"baseline":198.2,"unit":"µs","better":"lower","target":"added <= 1 ms","pass":false,"note":"added 214 µs"}"#,
        ]
        .map(measure);
        let table = table(&rows);
        let lines: Vec<&str> = table.lines().collect();
        assert_eq!(lines.len(), 4);
        assert_eq!(
            lines[2],
            "| health | record | 85 ns | n/a |  | <= 1 µs | pass |"
        );
        assert_eq!(
            lines[3],
            "| overhead | p99 (added 214 µs) | 412 µs | 198 µs | 2.1× slower | added <= 1 ms | FAIL |"
        );
    }

    #[test]
    fn figures_keep_about_three_digits() {
        assert_eq!(figure(0.954, "ms"), "0.95 ms");
        assert_eq!(figure(35.48, "ms"), "35.5 ms");
        assert_eq!(figure(1826.4, "ns"), "1826 ns");
        assert_eq!(figure(3.0, ""), "3");
        assert_eq!(figure(2.25, "%"), "2.25%");
    }

    #[test]
    fn the_section_between_the_markers_is_replaced_and_the_rest_kept() {
        let doc = format!("# Performance\n\nintro\n\n{BEGIN}\nold table\n{END}\n\nmore\n");
        let new = replace_section(&doc, "new table\n").unwrap();
        assert_eq!(
            new,
            format!("# Performance\n\nintro\n\n{BEGIN}\nnew table\n{END}\n\nmore\n")
        );
        assert_eq!(replace_section(&new, "new table").unwrap(), new);
        assert!(
            replace_section("no markers", "x")
                .unwrap_err()
                .contains(BEGIN)
        );
    }

    #[test]
    fn bench_executables_are_found_in_cargo_messages() {
        let mut messages: String = BENCHES
            .iter()
            .map(|b| {
                format!(
                    r#"{{"reason":"compiler-artifact","target":{{"kind":["bench"],"name":"{}"}},"executable":"/t/{}-1","manifest_path":"/w/{}/Cargo.toml"}}"#,
                    b.name, b.name, b.package
                ) + "\n"
            })
            .collect();
        messages.push_str(r#"{"reason":"compiler-artifact","target":{"kind":["lib"],"name":"x"},"executable":null}"#);
        messages.push_str("\nnot json\n");
        let found = executables(&messages).unwrap();
        assert_eq!(
            found["overhead"],
            (
                PathBuf::from("/t/overhead-1"),
                PathBuf::from("/w/gatewayz-gateway")
            )
        );
        assert!(executables("").unwrap_err().contains("exposition"));
    }

    #[test]
    fn dates_are_civil_utc() {
        assert_eq!(utc(0), "1970-01-01 00:00 UTC");
        assert_eq!(utc(951_782_400), "2000-02-29 00:00 UTC");
        assert_eq!(utc(1_766_750_400 + 3661), "2025-12-26 13:01 UTC");
    }
}
