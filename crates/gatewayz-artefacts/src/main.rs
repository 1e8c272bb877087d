//! `gatewayz-artefacts`: the dashboards, rules and configuration of one deployment, from its
//! `deploy.toml`, without writing Rust. A thin command over the library; see its docs.

use std::{env, fs, path::PathBuf, process::ExitCode};

use gatewayz_artefacts::{CONFIG_FILE, Deployment, EXAMPLE_CONFIG, check, generate};

const USAGE: &str = "\
usage: gatewayz-artefacts <command>

commands:
  init                               print a deploy.toml with every setting, its default and
                                     what it does (gatewayz-artefacts init > deploy.toml)
  generate --config FILE --out DIR   write the Grafana dashboards and provisioning, Prometheus
                                     configuration, rules and rule tests, Alertmanager
                                     configuration and docs for the deployment FILE describes
                                     into DIR (with a copy of FILE as DIR/deploy.toml)
  check DIR                          regenerate from DIR/deploy.toml and compare, then run
                                     promtool check rules, promtool test rules, promtool check
                                     config and amtool check-config on DIR
";

fn main() -> ExitCode {
    let args: Vec<String> = env::args().skip(1).collect();
    match cli(&args) {
        Ok(code) => code,
        Err(message) => {
            eprintln!("error: {message}");
            ExitCode::FAILURE
        }
    }
}

fn cli(args: &[String]) -> Result<ExitCode, String> {
    match args.first().map(String::as_str) {
        Some("init") if args.len() == 1 => {
            print!("{EXAMPLE_CONFIG}");
            Ok(ExitCode::SUCCESS)
        }
        Some("generate") => generate_command(&args[1..]),
        Some("check") => match &args[1..] {
            [dir] => {
                let report = check::check(&PathBuf::from(dir)).map_err(|e| e.to_string())?;
                print!("{report}");
                Ok(if report.passed() {
                    ExitCode::SUCCESS
                } else {
                    ExitCode::FAILURE
                })
            }
            _ => Err(format!("check takes one directory\n\n{USAGE}")),
        },
        Some("help" | "--help" | "-h") | None => {
            print!("{USAGE}");
            Ok(ExitCode::SUCCESS)
        }
        Some(other) => Err(format!("unknown command `{other}`\n\n{USAGE}")),
    }
}

fn generate_command(args: &[String]) -> Result<ExitCode, String> {
    let (mut config, mut out) = (None, None);
    let mut args = args.iter();
    while let Some(arg) = args.next() {
        let value = |args: &mut std::slice::Iter<String>| {
            args.next()
                .cloned()
                .ok_or_else(|| format!("{arg} needs a value\n\n{USAGE}"))
        };
        match arg.as_str() {
            "--config" => config = Some(PathBuf::from(value(&mut args)?)),
            "--out" => out = Some(PathBuf::from(value(&mut args)?)),
            other => return Err(format!("unknown generate option `{other}`\n\n{USAGE}")),
        }
    }
    let (Some(config), Some(out)) = (config, out) else {
        return Err(format!(
            "generate needs --config FILE and --out DIR\n\n{USAGE}"
        ));
    };
    let text = fs::read_to_string(&config)
        .map_err(|e| format!("cannot read {}: {e}", config.display()))?;
    let deployment =
        Deployment::from_toml(&text).map_err(|e| format!("{}: {e}", config.display()))?;
    let artefacts = generate(&deployment).map_err(|e| e.to_string())?;
    let changed = artefacts.write(&out).map_err(|e| e.to_string())?;
    let copy = out.join(CONFIG_FILE);
    if fs::read_to_string(&copy).ok().as_deref() != Some(text.as_str()) {
        fs::write(&copy, &text).map_err(|e| format!("cannot write {}: {e}", copy.display()))?;
    }
    println!(
        "{} files for {} in {} ({} changed); check them with `gatewayz-artefacts check {}`",
        artefacts.files().len(),
        deployment.selector.promql(),
        out.display(),
        changed.len(),
        out.display()
    );
    Ok(ExitCode::SUCCESS)
}
