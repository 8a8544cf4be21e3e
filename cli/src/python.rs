//! `sockbox python build`: a Python plugin from one file, with nothing set up by hand.
//!
//! The build installs the pinned componentize-py into a cache on first use, vendors the
//! plugin's requirements (pure-Python wheels for the guest's CPython), carries sockbox's own
//! Python package and WIT (they are inside this program), and finds the modules the code
//! imports lazily, inside functions, so they are in componentize-py's build-time snapshot:
//! it reads the code (`python_imports.py`) and builds an entry module that imports the plugin,
//! then each of those modules.

use std::collections::hash_map::DefaultHasher;
use std::hash::{Hash, Hasher};
use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{Context, Result, bail};
use sockbox_host::plugin_files::PluginFiles;

/// The componentize-py release plugins are built with (it bundles CPython 3.14).
pub const COMPONENTIZE_PY: &str = "0.25.1";

/// The CPython version inside componentize-py's guest, for choosing wheels.
const GUEST_PYTHON: &str = "3.14";

/// The WIT world a Python plugin targets.
pub const WORLD: &str = "sockbox:socket/plugin";

/// sockbox's Python package and WIT: (path relative to the repository, contents).
const SDK: &[(&str, &[u8])] = include!(concat!(env!("OUT_DIR"), "/python_sdk.rs"));

/// The import finder, run with the machine's `python3`.
const IMPORT_FINDER: &str = include_str!("python_imports.py");

/// The entry module the build makes around the plugin.
const ENTRY: &str = "_sockbox_entry";

/// One Python plugin build.
#[derive(Debug, Clone)]
pub struct Build {
    /// The plugin's main module (`app.py`); its directory is on the guest's path.
    pub app: PathBuf,
    /// Requirements files (`pip -r`), installed with their dependencies.
    pub requirements: Vec<PathBuf>,
    /// Requirement specifiers (`redis==8.1.0`), installed with their dependencies.
    pub packages: Vec<String>,
    /// More directories on the guest's path.
    pub paths: Vec<PathBuf>,
    /// Modules to import at build time besides those found in the code: ones the plugin
    /// imports by a computed name, or that code it loads at run time (from a `--dir`) needs.
    pub preimport: Vec<String>,
    /// The component to write.
    pub output: PathBuf,
    /// Where componentize-py, vendored packages and build files are kept between builds.
    pub cache: PathBuf,
}

/// What a build did.
#[derive(Debug, Clone)]
pub struct Built {
    /// The modules imported at build time besides the plugin, in the order found.
    pub preimported: Vec<String>,
}

impl Build {
    /// A build of `app` into `output` with sockbox's cache ([`cache_dir`](crate::cache_dir)).
    pub fn new(app: impl Into<PathBuf>, output: impl Into<PathBuf>) -> Self {
        Self {
            app: app.into(),
            requirements: Vec::new(),
            packages: Vec::new(),
            paths: Vec::new(),
            preimport: Vec::new(),
            output: output.into(),
            cache: crate::cache_dir(),
        }
    }

    /// Runs the build; `progress` gets one line per step that may take a while.
    ///
    /// # Errors
    /// When `python3`, pip, the package index or componentize-py fails, with their output.
    pub fn run(&self, progress: &mut dyn FnMut(&str)) -> Result<Built> {
        let module = self
            .app
            .file_stem()
            .and_then(|s| s.to_str())
            .filter(|_| self.app.extension().is_some_and(|e| e == "py"))
            .with_context(|| format!("{}: not a .py file", self.app.display()))?
            .to_string();
        if !self.app.is_file() {
            bail!("{}: no such file", self.app.display());
        }
        let app_dir = absolute(self.app.parent().unwrap_or(Path::new(".")))?;
        std::fs::create_dir_all(&self.cache)
            .with_context(|| format!("creating the cache {}", self.cache.display()))?;
        let this = Self {
            cache: absolute(&self.cache)?,
            ..self.clone()
        };
        // One build at a time per cache, across processes: two installing componentize-py (or
        // the same requirements) into one directory at once break each other.
        let lock = std::fs::File::create(this.cache.join(".lock"))
            .with_context(|| format!("locking the cache {}", this.cache.display()))?;
        lock.lock()
            .with_context(|| format!("locking the cache {}", this.cache.display()))?;
        this.run_in(&module, &app_dir, progress)
    }

    fn run_in(
        &self,
        module: &str,
        app_dir: &Path,
        progress: &mut dyn FnMut(&str),
    ) -> Result<Built> {
        let tool = self.componentize_py(progress)?;
        let sdk = self.sdk()?;
        let site = self.site_packages(&tool, progress)?;

        let mut roots = vec![app_dir.to_path_buf()];
        roots.extend(
            self.paths
                .iter()
                .map(|p| absolute(p))
                .collect::<Result<Vec<_>>>()?,
        );
        roots.extend(site.clone());
        let mut preimported = imports_of(module, &roots, &self.cache)?;
        for name in &self.preimport {
            if !preimported.contains(name) {
                preimported.push(name.clone());
            }
        }

        // The entry: sockbox first (the plugin's socket module) if the plugin uses it, the
        // plugin, then the rest. A plugin that never imports sockbox runs on CPython's own
        // `_socket` (wasi:sockets, which the host serves under the same policy).
        let entry_dir = self.cache.join(format!("entry-{}", std::process::id()));
        std::fs::create_dir_all(&entry_dir)?;
        let first = if preimported.iter().any(|m| m == "sockbox") {
            "import sockbox\n"
        } else {
            ""
        };
        let names: Vec<String> = preimported
            .iter()
            .filter(|m| *m != "sockbox")
            .map(|m| format!("    {m:?},\n"))
            .collect();
        std::fs::write(
            entry_dir.join(format!("{ENTRY}.py")),
            format!(
                "\"\"\"Made by `sockbox python build`: plugin {module:?}, then the modules its \
                 code imports (lazily too), so they are in the snapshot.\"\"\"\n\n\
                 {first}\
                 from {module} import Run\n\n\
                 import importlib as _importlib\n\n\
                 for _name in [\n{}]:\n    \
                 try:\n        _importlib.import_module(_name)\n    \
                 except Exception:\n        pass\n",
                names.concat()
            ),
        )?;

        progress(&format!(
            "building {} with componentize-py {COMPONENTIZE_PY}",
            self.output.display()
        ));
        let output = absolute(&self.output)?;
        let mut cmd = Command::new(&tool);
        cmd.current_dir(&entry_dir)
            .arg("-d")
            .arg(sdk.join("wit"))
            .args(["-w", WORLD, "componentize", "-p"])
            .arg(sdk.join("python"));
        // The plugin's directory, the `-p` ones, the vendored packages: the roots read above.
        for dir in &roots {
            cmd.arg("-p").arg(dir);
        }
        cmd.arg("-p")
            .arg(&entry_dir)
            .arg(ENTRY)
            .arg("-o")
            .arg(&output);
        let result = run(&mut cmd);
        let _ = std::fs::remove_dir_all(&entry_dir);
        result?;
        // componentize-py mounts the N-th `-p` directory at /N while it builds, and nothing
        // once the plugin runs: the packages' data files (certifi's CA bundle, package
        // metadata) go into the component, to be mounted read-only at the same paths.
        let mut files = Vec::new();
        if let Some(site) = &site {
            let index = 2 + self.paths.len();
            data_files(site, &format!("/{index}"), &mut files)?;
        }
        if !files.is_empty() {
            let mut wasm = std::fs::read(&output)?;
            PluginFiles::new(files).append_to(&mut wasm);
            std::fs::write(&output, wasm)?;
        }
        preimported.retain(|m| m != "sockbox");
        Ok(Built { preimported })
    }

    /// componentize-py in a virtual environment of its own in the cache, made on first use.
    fn componentize_py(&self, progress: &mut dyn FnMut(&str)) -> Result<PathBuf> {
        let venv = self
            .cache
            .join(format!("componentize-py-{COMPONENTIZE_PY}"));
        let tool = venv.join("bin/componentize-py");
        if !tool.exists() {
            progress(&format!(
                "installing componentize-py {COMPONENTIZE_PY} into {} (once)",
                venv.display()
            ));
            let _ = std::fs::remove_dir_all(&venv);
            run(Command::new("python3").args(["-m", "venv"]).arg(&venv))
                .context("making a virtual environment (is python3 with venv installed?)")?;
            run(Command::new(venv.join("bin/pip"))
                .args(["install", "--quiet", "--disable-pip-version-check"])
                .arg(format!("componentize-py=={COMPONENTIZE_PY}")))?;
        }
        Ok(tool)
    }

    /// sockbox's Python package and WIT, written out once per version of them.
    fn sdk(&self) -> Result<PathBuf> {
        let mut hasher = DefaultHasher::new();
        SDK.hash(&mut hasher);
        let dir = self.cache.join(format!("sdk-{:016x}", hasher.finish()));
        if !dir.join(".complete").exists() {
            for (rel, contents) in SDK {
                let path = dir.join(rel);
                std::fs::create_dir_all(path.parent().expect("a file in a directory"))?;
                std::fs::write(&path, contents)?;
            }
            std::fs::write(dir.join(".complete"), "")?;
        }
        Ok(dir)
    }

    /// Where [`run`](Self::run) installs the requirements (a directory in the cache named by
    /// them); `None` without requirements.
    ///
    /// # Errors
    /// When a requirements file cannot be read.
    pub fn site_dir(&self) -> Result<Option<PathBuf>> {
        if self.requirements.is_empty() && self.packages.is_empty() {
            return Ok(None);
        }
        let mut hasher = DefaultHasher::new();
        self.packages.hash(&mut hasher);
        for file in &self.requirements {
            std::fs::read(file)
                .with_context(|| format!("reading {}", file.display()))?
                .hash(&mut hasher);
        }
        Ok(Some(
            self.cache.join(format!("site-{:016x}", hasher.finish())),
        ))
    }

    /// The requirements installed into a directory of their own (pip `--target`), reused while
    /// they are unchanged; `None` without requirements.
    fn site_packages(
        &self,
        tool: &Path,
        progress: &mut dyn FnMut(&str),
    ) -> Result<Option<PathBuf>> {
        let Some(dir) = self.site_dir()? else {
            return Ok(None);
        };
        if dir.join(".complete").exists() {
            return Ok(Some(dir));
        }
        progress("installing the requirements (pure-Python wheels)");
        let _ = std::fs::remove_dir_all(&dir);
        let mut cmd = Command::new(tool.with_file_name("pip"));
        cmd.args(["install", "--quiet", "--disable-pip-version-check"])
            // Wheels for the guest's CPython (WASI), not this machine's: pure Python only.
            .args(["--only-binary", ":all:", "--platform", "any"])
            .args(["--implementation", "py", "--python-version", GUEST_PYTHON])
            .arg("--target")
            .arg(&dir)
            .args(&self.packages);
        for file in &self.requirements {
            cmd.arg("-r").arg(file);
        }
        run(&mut cmd).context(
            "installing the requirements (a package with no pure-Python wheel cannot run in \
             the guest)",
        )?;
        std::fs::write(dir.join(".complete"), "")?;
        Ok(Some(dir))
    }
}

/// The files under `dir` a package may read at run time (not code: no `.py`, `.pyc`,
/// `__pycache__`; not pip's `bin` scripts), as `(guest path under guest, contents)`.
fn data_files(dir: &Path, guest: &str, files: &mut Vec<(String, Vec<u8>)>) -> Result<()> {
    let mut entries: Vec<_> = std::fs::read_dir(dir)?.collect::<std::io::Result<_>>()?;
    entries.sort_by_key(|e| e.file_name());
    for entry in entries {
        let name = entry.file_name();
        let Some(name) = name.to_str() else { continue };
        let path = entry.path();
        let guest_path = format!("{guest}/{name}");
        if entry.file_type()?.is_dir() {
            let top_bin = guest.matches('/').count() == 1 && name == "bin";
            if name != "__pycache__" && !top_bin {
                data_files(&path, &guest_path, files)?;
            }
        } else if !name.ends_with(".py") && !name.ends_with(".pyc") && name != ".complete" {
            files.push((guest_path, std::fs::read(&path)?));
        }
    }
    Ok(())
}

/// The modules that module `module` (found under `roots`) and what it imports, transitively,
/// name in import statements anywhere in their code (standard-library modules are listed, not
/// followed), read by the machine's `python3`; `cache` keeps the script that reads them.
///
/// # Errors
/// When `python3` fails.
pub fn imports_of(module: &str, roots: &[PathBuf], cache: &Path) -> Result<Vec<String>> {
    std::fs::create_dir_all(cache)?;
    let script = cache.join("python_imports.py");
    if std::fs::read_to_string(&script).ok().as_deref() != Some(IMPORT_FINDER) {
        std::fs::write(&script, IMPORT_FINDER)?;
    }
    let out = output(Command::new("python3").arg(&script).arg(module).args(roots))
        .context("finding the modules the plugin imports")?;
    Ok(out.lines().map(str::to_string).collect())
}

fn absolute(path: &Path) -> Result<PathBuf> {
    std::path::absolute(path).with_context(|| format!("{}", path.display()))
}

fn run(cmd: &mut Command) -> Result<()> {
    output(cmd).map(drop)
}

/// Runs `cmd`; its stdout, or an error with everything it printed.
fn output(cmd: &mut Command) -> Result<String> {
    let out = cmd
        .output()
        .with_context(|| format!("running {:?}", cmd.get_program()))?;
    if !out.status.success() {
        bail!(
            "{:?} failed ({}):\n{}{}",
            cmd.get_program(),
            out.status,
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
    }
    Ok(String::from_utf8_lossy(&out.stdout).into_owned())
}
