//! Loads `syncwatch.yaml` and every check file into an immutable, validated `Plan`.
//! Reports every problem at once, each with file, line, column, check and field.
//! Raw YAML stays inside this module; the rest of syncwatch sees only `model` types.

mod checks;
pub mod dbt;
pub mod diag;
mod expect;
mod http;
pub mod incidents;
mod interp;
mod kinds;
mod locate;
mod node;
mod notifiers;
mod oncall;
mod prescan;
mod respond;
mod settings;

pub use diag::{ConfigErrors, Diagnostic};
pub use node::Env;
pub use settings::{Defaults, Settings, StoreSpec};

use crate::check::Check;
use node::{Ctx, Node};
use std::cell::RefCell;
use std::collections::HashMap;
use std::path::{Path, PathBuf};

/// Everything syncwatch will do, validated.
#[derive(Debug, Clone)]
pub struct Plan {
    pub settings: Settings,
    pub checks: Vec<Check>,
    /// The settings file and check files read, for messages and reloads.
    pub files: Vec<PathBuf>,
    /// The files' modification times and sizes, taken before reading them: a reload compares
    /// against this, so a change made while loading is never missed.
    pub stamp: Stamp,
}

/// Each configuration file with its modification time and size.
pub type Stamp = Vec<(PathBuf, Option<std::time::SystemTime>, u64)>;

/// The settings file and every file in the checks folder, as they are now.
pub fn stamp(settings_path: &Path, checks_dir: &Path) -> Stamp {
    let stat = |p: PathBuf| {
        let m = std::fs::metadata(&p).ok();
        let (t, len) = (
            m.as_ref().and_then(|m| m.modified().ok()),
            m.map(|m| m.len()).unwrap_or(0),
        );
        (p, t, len)
    };
    let mut out = vec![stat(settings_path.to_path_buf())];
    if let Ok(entries) = std::fs::read_dir(checks_dir) {
        let mut files: Vec<PathBuf> = entries.filter_map(|e| e.ok().map(|e| e.path())).collect();
        files.sort();
        out.extend(files.into_iter().map(stat));
    }
    out
}

/// A file's name (as shown in messages) and contents.
#[derive(Debug, Clone)]
pub struct SourceFile {
    pub name: String,
    pub text: String,
}

/// Reads the settings file and every `*.yaml`/`*.yml` in its checks folder.
pub fn load(settings_path: &Path, env: Env<'_>) -> Result<Plan, ConfigErrors> {
    let before = stamp(settings_path, Path::new(""));
    let name = settings_path.display().to_string();
    let text = read_file(settings_path).map_err(|mut d| {
        let why = d
            .message
            .strip_prefix("cannot read it: ")
            .unwrap_or(&d.message);
        d.message = format!("cannot read the settings file: {why}");
        d.hint = d.hint.or(Some("pass --config PATH".into()));
        ConfigErrors(vec![*d])
    })?;
    let base = settings_path
        .parent()
        .map(Path::to_path_buf)
        .unwrap_or_default();
    let mut plan = load_with(SourceFile { name, text }, &base, env, None)?;
    // The settings file's own stamp from before it was read; the checks folder's is taken
    // before its files were read (in `read_checks_dir`).
    if let (Some(first), Some(settings)) = (plan.stamp.first_mut(), before.into_iter().next()) {
        *first = settings;
    }
    Ok(plan)
}

/// Loads from texts (the embedded demo, tests). `checks: None` reads the checks folder from disk.
pub fn load_with(
    settings_file: SourceFile,
    base_dir: &Path,
    env: Env<'_>,
    checks: Option<Vec<SourceFile>>,
) -> Result<Plan, ConfigErrors> {
    let diags = RefCell::new(Vec::new());
    let crons = RefCell::new(crate::schedule::CronCache::default());
    let settings_doc = match parse(&settings_file, &diags, env, &crons) {
        Some(c) => c,
        None => return Err(ConfigErrors(diags.into_inner())),
    };
    let (settings, declared) =
        settings::decode(&Node::root(&settings_doc.0, &settings_doc.1), base_dir);
    let (files, stamp) = match checks {
        Some(f) => (f, Vec::new()),
        None => {
            let stamp = stamp(Path::new(&settings_file.name), &settings.checks_dir);
            (
                read_checks_dir(&settings.checks_dir, &settings_file.name, &diags),
                stamp,
            )
        }
    };
    let routes: std::collections::BTreeSet<String> = settings.routes.keys().cloned().collect();
    let members: std::collections::BTreeSet<String> = settings
        .oncall
        .iter()
        .flat_map(|r| r.members.iter().map(|m| m.name.clone()))
        .collect();
    let areas: std::collections::BTreeSet<String> = settings
        .oncall
        .iter()
        .flat_map(|r| r.members.iter().flat_map(|m| m.expertise.iter().cloned()))
        .collect();
    let scope = checks::Scope {
        defaults: &settings.defaults,
        sources: &declared,
        routes: &routes,
        calendars: &settings.calendars,
        people: oncall::People {
            members: &members,
            areas: &areas,
        },
    };
    let mut all = Vec::new();
    let mut seen: HashMap<String, String> = HashMap::new();
    // Check files are parsed and decoded side by side (a hundred files of a thousand checks
    // take seconds on one core); their checks and problems are then taken in file order.
    let decoded = decode_files(&files, &scope, env);
    // The plan holds every check for the process's life: sized exactly, not by doubling (at
    // 10,000 checks a doubled vector left 2.8 MB unused).
    all.reserve_exact(decoded.iter().map(|d| d.entries.len()).sum());
    for (decoded, source) in decoded.into_iter().zip(&files) {
        diags.borrow_mut().extend(decoded.problems);
        for (named, check) in decoded.entries {
            if let Some(named) = named {
                if let Some(first) = seen.get(&named.name) {
                    diags.borrow_mut().push(Diagnostic {
                        file: source.name.clone(),
                        line: named.at.line,
                        col: named.at.col,
                        check: Some(named.check.unwrap_or_else(|| named.name.clone())),
                        field: Some("name".into()),
                        message: "duplicate check name".into(),
                        hint: Some(format!(
                            "first defined at {first}; names must be unique across all files"
                        )),
                    });
                    continue;
                }
                let at = format!("{}:{}:{}", source.name, named.at.line, named.at.col);
                seen.insert(named.name, at);
            }
            all.extend(check);
        }
    }
    let dbt_specs = Node::root(&settings_doc.0, &settings_doc.1)
        .map()
        .map(|m| dbt::specs(&m, base_dir, &routes, &declared, &settings.defaults))
        .unwrap_or_default();
    for spec in &dbt_specs {
        for check in dbt::checks(spec, &diags, env, &crons) {
            if let Some(first) = seen.get(&check.name) {
                let mut at = check.defined_at.rsplitn(3, ':');
                let (col, line) = (at.next().unwrap_or("1"), at.next().unwrap_or("1"));
                diags.borrow_mut().push(Diagnostic {
                    file: at.next().unwrap_or_default().to_string(),
                    line: line.parse().unwrap_or(1),
                    col: col.parse().unwrap_or(1),
                    check: Some(check.name.clone()),
                    field: None,
                    message: "duplicate check name".into(),
                    hint: Some(format!(
                        "first defined at {first}; a dbt source table is named SOURCE.TABLE"
                    )),
                });
                continue;
            }
            seen.insert(check.name.clone(), check.defined_at.clone());
            all.push(check);
        }
    }
    check_dependencies(&all, &mut diags.borrow_mut());
    // Only over a complete set of checks: a check that did not decode would look unmatched.
    if diags.borrow().is_empty() {
        silences_match(&Node::root(&settings_doc.0, &settings_doc.1), &all);
    }
    let mut problems = diags.into_inner();
    if !problems.is_empty() {
        // The settings' problems first: a bad source or notifier explains the problems it
        // causes in check files.
        let settings_name = settings_file.name.as_str();
        problems.sort_by(|a, b| {
            (a.file != settings_name, &a.file, a.line, a.col).cmp(&(
                b.file != settings_name,
                &b.file,
                b.line,
                b.col,
            ))
        });
        problems.dedup();
        return Err(ConfigErrors(problems));
    }
    let mut paths = vec![PathBuf::from(&settings_file.name)];
    paths.extend(files.iter().map(|f| PathBuf::from(&f.name)));
    all.shrink_to_fit(); // dbt's checks came after the reservation
    Ok(Plan {
        settings,
        checks: all,
        files: paths,
        stamp,
    })
}

/// `depends_on` must name existing checks and must not loop (a loop would silence every page).
fn check_dependencies(checks: &[Check], diags: &mut Vec<Diagnostic>) {
    let names: HashMap<&str, &Check> = checks.iter().map(|c| (c.name.as_str(), c)).collect();
    let at = |c: &Check, message: String, hint: Option<String>| {
        let mut parts = c.defined_at.rsplitn(3, ':');
        let col = parts.next().and_then(|s| s.parse().ok()).unwrap_or(1);
        let line = parts.next().and_then(|s| s.parse().ok()).unwrap_or(1);
        let file = parts.next().unwrap_or("").to_string();
        Diagnostic {
            file,
            line,
            col,
            check: Some(c.name.clone()),
            field: Some("depends_on".into()),
            message,
            hint,
        }
    };
    for c in checks {
        for dep in &c.depends_on {
            if !names.contains_key(dep.as_str()) {
                let hint = diag::did_you_mean(dep, names.keys().copied())
                    .map(|s| format!("did you mean \"{s}\"?"));
                diags.push(at(c, format!("unknown check \"{dep}\""), hint));
            }
        }
        // Follow the chain from this check; reaching it again is a loop.
        let mut stack: Vec<&str> = c.depends_on.iter().map(String::as_str).collect();
        let mut seen = std::collections::HashSet::new();
        while let Some(n) = stack.pop() {
            if n == c.name {
                diags.push(at(
                    c,
                    "depends_on forms a loop back to this check".into(),
                    Some("while both fail, neither would page".into()),
                ));
                break;
            }
            if seen.insert(n) {
                if let Some(d) = names.get(n) {
                    stack.extend(d.depends_on.iter().map(String::as_str));
                }
            }
        }
    }
}

/// One check file's outcome: its entries in order, and its problems.
struct DecodedFile {
    entries: Vec<(Option<Named>, Option<Check>)>,
    problems: Vec<Diagnostic>,
}

/// An entry's name and where its value is (field `name`), to find names taken twice.
struct Named {
    name: String,
    at: locate::Pos,
    /// The check its problems are reported under, when not the name itself (a name written
    /// as a number is reported under the entry's path).
    check: Option<String>,
}

fn decode_one(file: &SourceFile, scope: &checks::Scope<'_>, env: Env<'_>) -> DecodedFile {
    let diags = RefCell::new(Vec::new());
    let crons = RefCell::new(crate::schedule::CronCache::default());
    let mut entries = Vec::new();
    if let Some((ctx, value)) = parse(file, &diags, env, &crons) {
        let root = Node::root(&ctx, &value);
        for decoded in checks::decode_file(&root, scope) {
            let named = decoded.name.map(|(name, node)| Named {
                at: node.value_pos(),
                check: node
                    .check
                    .as_deref()
                    .filter(|c| *c != name)
                    .map(str::to_string),
                name,
            });
            entries.push((named, decoded.check));
        }
    }
    DecodedFile {
        entries,
        problems: diags.into_inner(),
    }
}

/// Decodes check files on up to one thread per core, returning them in the given order.
fn decode_files(files: &[SourceFile], scope: &checks::Scope<'_>, env: Env<'_>) -> Vec<DecodedFile> {
    let threads = std::thread::available_parallelism()
        .map_or(1, std::num::NonZeroUsize::get)
        .clamp(1, 8)
        .min(files.len());
    if threads <= 1 {
        return files.iter().map(|f| decode_one(f, scope, env)).collect();
    }
    let next = std::sync::atomic::AtomicUsize::new(0);
    let done: Vec<std::sync::Mutex<Option<DecodedFile>>> =
        files.iter().map(|_| std::sync::Mutex::new(None)).collect();
    std::thread::scope(|s| {
        for _ in 0..threads {
            s.spawn(|| loop {
                let i = next.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                let Some(file) = files.get(i) else { break };
                let out = decode_one(file, scope, env);
                *done[i]
                    .lock()
                    .unwrap_or_else(std::sync::PoisonError::into_inner) = Some(out);
            });
        }
    });
    done.into_iter()
        .map(|slot| {
            slot.into_inner()
                .unwrap_or_else(std::sync::PoisonError::into_inner)
                // Every index below the length was taken by a thread that ran to its end
                // (a panic in one would have been re-raised by the scope).
                .expect("every file decoded")
        })
        .collect()
}

/// Parses YAML; a syntax error becomes a located diagnostic.
fn parse<'a>(
    file: &SourceFile,
    diags: &'a RefCell<Vec<Diagnostic>>,
    env: Env<'a>,
    crons: &'a RefCell<crate::schedule::CronCache>,
) -> Option<(Ctx<'a>, yaml_serde::Value)> {
    let problem = |line: usize, col: usize, message: String, hint: &str| {
        diags.borrow_mut().push(Diagnostic {
            file: file.name.clone(),
            line,
            col,
            check: None,
            field: None,
            message,
            hint: Some(hint.into()),
        });
    };
    let syntax_error = |line: usize, col: usize, message: &str, hint: &str| {
        problem(line, col, format!("YAML syntax error: {message}"), hint);
    };
    if let Err((line, col, message, hint)) = prescan::check(&file.text) {
        syntax_error(line, col, &message, hint);
        return None;
    }
    match yaml_serde::from_str::<yaml_serde::Value>(&file.text) {
        Ok(value) => Some((
            Ctx {
                file: file.name.clone(),
                pos: locate::Positions::index(&file.text),
                diags,
                env,
                crons,
            },
            value,
        )),
        Err(e) => {
            let (line, col) = e
                .location()
                .map(|l| (l.line(), l.column()))
                .unwrap_or((1, 1));
            let message = e.to_string();
            let message = message
                .split(" at line ")
                .next()
                .unwrap_or(&message)
                .to_string();
            // An integer literal past 64 bits fails the YAML value model itself; say so.
            if let Some(number) = too_large_integer(&message) {
                let field = message.split(": invalid type").next().unwrap_or("");
                problem(
                    line,
                    col,
                    format!(
                        "{field}{}the number {number} is too large (numbers must fit in 64 bits)",
                        if field.is_empty() { "" } else { ": " }
                    ),
                    "quote it if it is meant as text",
                );
                return None;
            }
            syntax_error(
                line,
                col,
                &message,
                "check indentation and quoting; values with `: ` or `#` need quotes",
            );
            None
        }
    }
}

/// The process environment for `${VAR}`, plus `SYNCWATCH_EXE`: this program's own path unless
/// set, so restart commands can call syncwatch itself (as the demo's do). Used by every load,
/// the daemon's reloads included.
pub fn process_env(name: &str) -> Option<String> {
    std::env::var(name).ok().or_else(|| {
        (name == "SYNCWATCH_EXE")
            .then(|| std::env::current_exe().ok())
            .flatten()
            .map(|p| p.display().to_string())
    })
}

/// Things that load fine but will not work as written, for `validate` to warn about (exit 0):
/// no checks at all, and a SQLite source whose file does not exist (syncwatch opens partner
/// files read-only and never creates one, so every check on it would be an error).
pub fn warnings(plan: &Plan) -> Vec<String> {
    let mut out = Vec::new();
    if plan.checks.is_empty() {
        // Not an error: `oncall`, `silence --list` and `incidents` need no checks, and a
        // CronJob whose checks were all removed should not fail every tick.
        out.push(format!(
            "no checks in {}: nothing will be checked (add a file such as checks/partner.yaml with a `checks:` list)",
            plan.settings.checks_dir.display()
        ));
    }
    out.extend(missing_sqlite_files(plan));
    out
}

fn missing_sqlite_files(plan: &Plan) -> Vec<String> {
    plan.settings
        .sources
        .values()
        .filter(|s| s.engine == crate::probe::source::Engine::Sqlite)
        .filter(|s| s.display != ":memory:" && !Path::new(&s.display).exists())
        .map(|s| {
            let path = Path::new(&s.display);
            let shown = match std::env::current_dir() {
                Ok(cwd) if path.is_relative() => cwd.join(path),
                _ => path.to_path_buf(),
            };
            format!(
                "source \"{}\": the SQLite file {} does not exist; checks on it will be errors until it does (paths are relative to the settings file)",
                s.name,
                shown.display()
            )
        })
        .collect()
}

/// The integer of yaml_serde's "invalid type: integer `N` as u128/i128" error, if that is it.
fn too_large_integer(message: &str) -> Option<&str> {
    let rest = message.split("invalid type: integer `").nth(1)?;
    let (number, tail) = rest.split_once('`')?;
    (tail.starts_with(" as u128") || tail.starts_with(" as i128")).then_some(number)
}

fn read_checks_dir(
    dir: &Path,
    settings_name: &str,
    diags: &RefCell<Vec<Diagnostic>>,
) -> Vec<SourceFile> {
    let problem = |message: String| {
        diags.borrow_mut().push(Diagnostic {
            file: settings_name.to_string(),
            line: 1,
            col: 1,
            check: None,
            field: Some("checks_dir".into()),
            message,
            hint: Some("set `checks_dir:` relative to the settings file".into()),
        })
    };
    let entries = match std::fs::read_dir(dir) {
        Ok(e) => e,
        Err(e) => {
            problem(format!("cannot read checks folder {}: {e}", dir.display()));
            return Vec::new();
        }
    };
    let mut paths: Vec<PathBuf> = entries
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| matches!(p.extension().and_then(|e| e.to_str()), Some("yaml" | "yml")))
        .collect();
    paths.sort();
    paths
        .into_iter()
        .filter_map(|p| match read_file(&p) {
            Ok(text) => Some(SourceFile {
                name: p.display().to_string(),
                text,
            }),
            Err(d) => {
                diags.borrow_mut().push(*d);
                None
            }
        })
        .collect()
}

/// The most a configuration file may hold.
pub const MAX_FILE_BYTES: u64 = 4 << 20;

/// Reads one configuration file: a regular file (or a link to one) of at most 4 MiB, UTF-8
/// without NUL bytes. Anything else is a problem located at that file (and at the bad byte),
/// found without blocking: a FIFO is never opened, `/dev/zero` never read past the cap.
pub fn read_file(path: &Path) -> Result<String, Box<Diagnostic>> {
    let name = path.display().to_string();
    let at = |line: usize, col: usize, message: String, hint: Option<&str>| {
        Box::new(Diagnostic {
            file: name.clone(),
            line,
            col,
            check: None,
            field: None,
            message,
            hint: hint.map(String::from),
        })
    };
    let meta = std::fs::metadata(path).map_err(|e| {
        let dangling = std::fs::symlink_metadata(path).is_ok();
        let hint = dangling.then_some("it is a link to a file that does not exist");
        at(1, 1, format!("cannot read it: {e}"), hint)
    })?;
    if !meta.is_file() {
        return Err(at(
            1,
            1,
            "is not a regular file (a folder, FIFO, socket or device)".into(),
            Some("syncwatch reads only regular files and links to them"),
        ));
    }
    let too_big = || {
        at(
            1,
            1,
            format!("is larger than {} MiB", MAX_FILE_BYTES >> 20),
            Some("split the checks over several files"),
        )
    };
    if meta.len() > MAX_FILE_BYTES {
        return Err(too_big());
    }
    let mut bytes = Vec::new();
    let file =
        std::fs::File::open(path).map_err(|e| at(1, 1, format!("cannot read it: {e}"), None))?;
    std::io::Read::read_to_end(
        &mut std::io::Read::take(file, MAX_FILE_BYTES + 1),
        &mut bytes,
    )
    .map_err(|e| at(1, 1, format!("cannot read it: {e}"), None))?;
    if bytes.len() as u64 > MAX_FILE_BYTES {
        return Err(too_big());
    }
    if let Some(nul) = bytes.iter().position(|b| *b == 0) {
        let (line, col) = place(&bytes, nul);
        return Err(at(
            line,
            col,
            "contains a NUL byte".into(),
            Some("is it a binary file?"),
        ));
    }
    String::from_utf8(bytes).map_err(|e| {
        let offset = e.utf8_error().valid_up_to();
        let bytes = e.into_bytes();
        let (line, col) = place(&bytes, offset);
        at(
            line,
            col,
            format!("is not UTF-8 (byte 0x{:02x})", bytes[offset]),
            Some("save the file as UTF-8"),
        )
    })
}

/// Line and column (1-based, in bytes) of a byte offset.
fn place(bytes: &[u8], offset: usize) -> (usize, usize) {
    let before = &bytes[..offset];
    let line = before.iter().filter(|b| **b == b'\n').count() + 1;
    let col = offset
        - before
            .iter()
            .rposition(|b| *b == b'\n')
            .map_or(0, |p| p + 1)
        + 1;
    (line, col)
}

/// A settings silence whose `check` matches no check silences nothing: a typo, most likely.
fn silences_match(root: &Node<'_>, checks: &[crate::check::Check]) {
    let items = root
        .map()
        .and_then(|m| m.get("silences"))
        .and_then(|n| n.seq())
        .unwrap_or_default();
    for item in items {
        let Some(node) = item.map().and_then(|m| m.get("check")) else {
            continue;
        };
        let Some(pattern) = node.string() else {
            continue;
        };
        if checks
            .iter()
            .any(|c| crate::silence::glob(&pattern, &c.name))
        {
            continue;
        }
        let hint = diag::did_you_mean(&pattern, checks.iter().map(|c| c.name.as_str()))
            .map(|s| format!("did you mean \"{s}\"?"))
            .unwrap_or_else(|| {
                "`syncwatch plan` lists the checks; * matches any run of characters".into()
            });
        node.error(format!("\"{pattern}\" matches no check"), Some(hint));
    }
}
