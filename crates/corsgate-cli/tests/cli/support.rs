//! Helpers: run the binary, start the proxy and an upstream, send requests.

use std::io::{BufRead, BufReader, Read};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

pub(crate) const BIN: &str = env!("CARGO_BIN_EXE_corsgate");

/// A running `corsgate proxy`; killed on drop. Its stderr is collected.
pub(crate) struct Proxy {
    pub(crate) child: Child,
    pub(crate) addr: SocketAddr,
    stderr: Arc<Mutex<String>>,
    stdout: Arc<Mutex<String>>,
}

impl Proxy {
    /// Starts the proxy with `args` plus `--listen 127.0.0.1:0` and waits
    /// (at most 20 s) for its "listening" line.
    pub(crate) fn start(args: &[&str]) -> Self {
        Self::start_under(None, args)
    }

    /// As [`start`](Self::start), with these environment variables.
    pub(crate) fn start_with_env(env: &[(&str, &str)], args: &[&str]) -> Self {
        Self::spawn(None, env, args)
    }

    /// As [`start`](Self::start), with the shell's `ulimit` options first
    /// (e.g. `-Sn 1024`: a soft limit of 1,024 open files).
    pub(crate) fn start_under(ulimit: Option<&str>, args: &[&str]) -> Self {
        Self::spawn(ulimit, &[], args)
    }

    fn spawn(ulimit: Option<&str>, env: &[(&str, &str)], args: &[&str]) -> Self {
        let mut command = match ulimit {
            Some(options) => {
                let mut c = Command::new("sh");
                c.args([
                    "-c",
                    &format!("ulimit {options} && exec \"$0\" \"$@\""),
                    BIN,
                ]);
                c
            }
            None => Command::new(BIN),
        };
        let mut child = command
            .arg("proxy")
            .args(args)
            .args(["--listen", "127.0.0.1:0"])
            .envs(env.iter().copied())
            .env("RUST_LOG", "corsgate=debug")
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("spawn corsgate");
        let stderr = Arc::new(Mutex::new(String::new()));
        let sink = Arc::clone(&stderr);
        let mut err = child.stderr.take().unwrap();
        std::thread::spawn(move || {
            let mut buf = [0u8; 4096];
            while let Ok(n) = err.read(&mut buf) {
                if n == 0 {
                    break;
                }
                sink.lock()
                    .unwrap()
                    .push_str(&String::from_utf8_lossy(&buf[..n]));
            }
        });
        let stdout = child.stdout.take().unwrap();
        let out = Arc::new(Mutex::new(String::new()));
        let out_sink = Arc::clone(&out);
        let (tx, rx) = std::sync::mpsc::channel();
        // Sends the first line, and keeps draining (and keeping) the rest.
        std::thread::spawn(move || {
            let mut reader = BufReader::new(stdout);
            let mut line = String::new();
            let _ = reader.read_line(&mut line);
            let _ = tx.send(line);
            for line in reader.lines() {
                let Ok(line) = line else { break };
                let mut out = out_sink.lock().unwrap();
                out.push_str(&line);
                out.push('\n');
            }
        });
        let line = rx.recv_timeout(Duration::from_secs(20)).unwrap_or_default();
        let listening = line.trim().strip_prefix("corsgate proxy: listening on ");
        let Some(addr) = listening.and_then(|at| {
            at.strip_prefix("http://")
                .or_else(|| at.strip_prefix("https://"))
        }) else {
            let _ = child.kill();
            let _ = child.wait();
            panic!(
                "the proxy did not start: stdout `{line}`, stderr:\n{}",
                stderr.lock().unwrap()
            );
        };
        let addr = addr.parse().expect("an address");
        Self {
            child,
            addr,
            stderr,
            stdout: out,
        }
    }

    pub(crate) fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.addr)
    }

    pub(crate) fn stderr(&self) -> String {
        self.stderr.lock().unwrap().clone()
    }

    /// The stderr once it contains `text`, waiting at most `limit`
    /// (`None` if it never did). Blocks the thread: from an async test,
    /// call it inside `tokio::task::block_in_place`.
    pub(crate) fn stderr_once(&self, text: &str, limit: Duration) -> Option<String> {
        let deadline = Instant::now() + limit;
        loop {
            let stderr = self.stderr();
            if stderr.contains(text) {
                return Some(stderr);
            }
            if Instant::now() >= deadline {
                return None;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// What the proxy printed after its "listening" line.
    pub(crate) fn stdout(&self) -> String {
        self.stdout.lock().unwrap().clone()
    }

    /// Open descriptors and resident memory (KiB) of the process, from
    /// `/proc`.
    pub(crate) fn fds_and_rss(&self) -> (usize, u64) {
        let pid = self.child.id();
        let fds = std::fs::read_dir(format!("/proc/{pid}/fd")).map_or(0, Iterator::count);
        let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
        let rss = status
            .lines()
            .find_map(|l| l.strip_prefix("VmRSS:"))
            .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
            .unwrap_or(0);
        (fds, rss)
    }

    /// The names of the process's threads, from `/proc` (the proxy's
    /// serving threads are `corsgate-worker`).
    pub(crate) fn thread_names(&self) -> Vec<String> {
        let pid = self.child.id();
        let mut names: Vec<String> = std::fs::read_dir(format!("/proc/{pid}/task"))
            .map(|tasks| {
                tasks
                    .filter_map(|task| std::fs::read_to_string(task.ok()?.path().join("comm")).ok())
                    .map(|name| name.trim_end().to_owned())
                    .collect()
            })
            .unwrap_or_default();
        names.sort();
        names
    }

    /// Sends a signal with the shell's `kill` builtin (no procps needed).
    pub(crate) fn signal(&self, name: &str) {
        let command = format!("kill -{name} {}", self.child.id());
        let status = Command::new("sh").args(["-c", &command]).status();
        assert!(status.is_ok_and(|s| s.success()), "{command} failed");
    }

    /// Waits (at most `limit`) for the process to exit; its exit code.
    pub(crate) fn wait_exit(&mut self, limit: Duration) -> Option<i32> {
        let deadline = Instant::now() + limit;
        while Instant::now() < deadline {
            if let Ok(Some(status)) = self.child.try_wait() {
                return status.code();
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        None
    }
}

impl Drop for Proxy {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Runs the binary to completion (at most 30 s): (exit code, stdout, stderr).
pub(crate) fn run(args: &[&str]) -> (i32, String, String) {
    let mut child = Command::new(BIN)
        .args(args)
        .env("NO_COLOR", "1")
        // Help text wraps to the terminal width: fix it so snapshots are stable.
        .env("COLUMNS", "100")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn corsgate");
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        if let Some(status) = child.try_wait().unwrap() {
            let mut out = String::new();
            let mut err = String::new();
            child
                .stdout
                .take()
                .unwrap()
                .read_to_string(&mut out)
                .unwrap();
            child
                .stderr
                .take()
                .unwrap()
                .read_to_string(&mut err)
                .unwrap();
            return (status.code().unwrap_or(-1), out, err);
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            panic!("corsgate {args:?} did not finish in 30 s");
        }
        std::thread::sleep(Duration::from_millis(10));
    }
}

/// A temporary folder, removed on drop.
pub(crate) struct TempDir(pub(crate) PathBuf);

impl TempDir {
    pub(crate) fn new(name: &str) -> Self {
        static COUNTER: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
        let n = COUNTER.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        let dir =
            std::env::temp_dir().join(format!("corsgate-cli-{}-{name}-{n}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        Self(dir)
    }

    pub(crate) fn write(&self, name: &str, text: &str) -> PathBuf {
        let path = self.0.join(name);
        std::fs::write(&path, text).unwrap();
        path
    }

    pub(crate) fn path(&self) -> &Path {
        &self.0
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// A running `corsgate demo` on free ports; killed on drop.
pub(crate) struct Demo {
    child: Child,
    pub(crate) page: String,
    pub(crate) api: String,
    stdout: Arc<Mutex<String>>,
}

impl Demo {
    /// Starts `corsgate demo ARGS` (on free loopback ports unless ARGS say
    /// otherwise) and waits (at most 20 s) for the page and API lines.
    pub(crate) fn start(args: &[&str]) -> Self {
        let mut args = args.to_vec();
        for flag in ["--api", "--page"] {
            if !args.contains(&flag) {
                args.extend([flag, "127.0.0.1:0"]);
            }
        }
        let mut child = Command::new(BIN)
            .arg("demo")
            .args(args)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("spawn corsgate demo");
        let stdout = Arc::new(Mutex::new(String::new()));
        let sink = Arc::clone(&stdout);
        let pipe = child.stdout.take().expect("piped");
        std::thread::spawn(move || {
            for line in BufReader::new(pipe).lines() {
                let Ok(line) = line else { break };
                let mut out = sink.lock().unwrap();
                out.push_str(&line);
                out.push('\n');
            }
        });
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            let line = |prefix: &str| {
                stdout.lock().unwrap().lines().find_map(|l| {
                    l.strip_prefix(prefix)
                        .map(|u| u.trim_end_matches('/').to_owned())
                })
            };
            if let (Some(page), Some(api)) = (
                line("corsgate demo: page on "),
                line("corsgate demo: api on "),
            ) {
                return Self {
                    child,
                    page,
                    api,
                    stdout,
                };
            }
            let exited = child.try_wait().ok().flatten();
            if exited.is_some() || Instant::now() > deadline {
                let _ = child.kill();
                let _ = child.wait();
                panic!(
                    "the demo did not start ({exited:?}): {}",
                    stdout.lock().unwrap()
                );
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    pub(crate) fn stdout(&self) -> String {
        self.stdout.lock().unwrap().clone()
    }
}

impl Drop for Demo {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Serves an axum app on a free loopback port for the rest of the test.
pub(crate) async fn serve(app: axum::Router) -> SocketAddr {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    addr
}

/// `corsgate doctor --json ARGS`: the exit code and the parsed report.
pub(crate) fn doctor_json(args: &[&str]) -> (i32, serde_json::Value) {
    let mut argv = vec!["doctor", "--json"];
    argv.extend_from_slice(args);
    let (code, stdout, stderr) = tokio::task::block_in_place(|| run(&argv));
    let json = serde_json::from_str(&stdout).unwrap_or_else(|e| panic!("{e}: {stdout}\n{stderr}"));
    (code, json)
}

/// A WebSocket to the proxy's `/ws` sends `hello`: the handshake's status
/// and the text that comes back (each step within 10 s).
pub(crate) async fn websocket_hello(proxy: &Proxy) -> (u16, String) {
    use futures_util::{SinkExt, StreamExt};
    let (mut socket, response) = tokio::time::timeout(
        Duration::from_secs(10),
        tokio_tungstenite::connect_async(format!("ws://{}/ws", proxy.addr)),
    )
    .await
    .unwrap()
    .unwrap_or_else(|e| panic!("handshake through the proxy: {e}\n{}", proxy.stderr()));
    socket
        .send(tokio_tungstenite::tungstenite::Message::text("hello"))
        .await
        .unwrap();
    let reply = tokio::time::timeout(Duration::from_secs(10), socket.next())
        .await
        .unwrap()
        .unwrap()
        .unwrap();
    (
        response.status().as_u16(),
        reply.into_text().unwrap().as_str().to_owned(),
    )
}

/// A free loopback port, for a program that cannot pick one itself (it may
/// be taken again before the program binds it: callers retry).
pub(crate) fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free loopback port")
}

/// Waits (at most `within`) until `child` listens on loopback `port`:
/// `true` once a listening socket on that port is one of the child's
/// (or its children's) open files, `false` when the child exits first
/// (it could not bind the port).
///
/// Connecting to the port would not tell: the port chosen free may have
/// been taken by another test's server meanwhile (the child then fails to
/// bind it, and nginx keeps retrying for 2.5 s before it exits, while the
/// connection reaches the other server), and a connection to a port no one
/// listens on can even connect to itself. So the kernel's table of
/// listening sockets (`/proc/net/tcp`) is read instead.
pub(crate) fn wait_listening(child: &mut Child, port: u16, what: &str, within: Duration) -> bool {
    let deadline = Instant::now() + within;
    loop {
        if listens(child.id(), port) {
            return true;
        }
        if matches!(child.try_wait(), Ok(Some(_))) {
            return false;
        }
        assert!(
            Instant::now() < deadline,
            "{what} did not listen on port {port} within {within:?}"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// Whether process `pid` or one of its children holds a socket listening
/// on TCP `port` (IPv4 or IPv6), read from `/proc` (the tests run on Linux).
pub(crate) fn listens(pid: u32, port: u16) -> bool {
    let inodes: Vec<String> = ["/proc/net/tcp", "/proc/net/tcp6"]
        .iter()
        .filter_map(|table| std::fs::read_to_string(table).ok())
        .flat_map(|table| {
            table
                .lines()
                .skip(1)
                .filter_map(|line| {
                    // sl local_address rem_address st tx:rx tr:when retrnsmt uid timeout inode
                    let fields: Vec<&str> = line.split_whitespace().collect();
                    let local_port = fields.get(1)?.rsplit(':').next()?;
                    let listening = *fields.get(3)? == "0A";
                    let inode = fields.get(9)?;
                    (listening && u16::from_str_radix(local_port, 16).ok()? == port)
                        .then(|| format!("socket:[{inode}]"))
                })
                .collect::<Vec<_>>()
        })
        .collect();
    if inodes.is_empty() {
        return false;
    }
    let mut pids = vec![pid.to_string()];
    let tasks = std::fs::read_dir(format!("/proc/{pid}/task"))
        .into_iter()
        .flatten();
    for task in tasks.flatten() {
        let children = std::fs::read_to_string(task.path().join("children")).unwrap_or_default();
        pids.extend(children.split_whitespace().map(str::to_owned));
    }
    pids.iter().any(|pid| {
        let fds = std::fs::read_dir(format!("/proc/{pid}/fd"))
            .into_iter()
            .flatten();
        fds.flatten().any(|fd| {
            std::fs::read_link(fd.path()).is_ok_and(|target| {
                inodes
                    .iter()
                    .any(|inode| target.as_os_str() == inode.as_str())
            })
        })
    })
}

/// A program from a Debian package that tests run: `env`'s path, or the
/// first of `defaults` that exists. A missing one fails the test, saying
/// what to install: `needed_by` names the tests, `afterword` may add a way
/// around them.
pub(crate) fn installed(
    env: &str,
    defaults: &[&str],
    package: &str,
    needed_by: &str,
    afterword: &str,
) -> PathBuf {
    let path = std::env::var_os(env).map_or_else(
        || {
            defaults
                .iter()
                .map(PathBuf::from)
                .find(|p| p.is_file())
                .unwrap_or_else(|| PathBuf::from(defaults[0]))
        },
        PathBuf::from,
    );
    assert!(
        path.is_file(),
        "{} not found at {}: {needed_by} need Debian's {package} \
         (`apt-get install -y {package}`; scripts/test.sh installs it), or set {env}{afterword}",
        defaults[0].rsplit('/').next().unwrap_or(defaults[0]),
        path.display()
    );
    path
}
