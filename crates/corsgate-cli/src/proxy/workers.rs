//! The proxy's serving threads. Each runs Tokio's single-threaded scheduler
//! and serves whole client connections, as nginx's worker processes do. A
//! connection's requests, its upstream connections
//! ([`Pinned`](super::pinned::Pinned)) and its timers then stay on one
//! thread: no request wakes another thread, which is what made Tokio's
//! multi-threaded scheduler cost about a fifth more CPU per proxied GET
//! (docs/benchmarks.md, sessions 18 and 19).
//!
//! On Linux each thread accepts on a listener of its own, all bound to the
//! same address with `SO_REUSEPORT`: the kernel spreads new connections over
//! them, and no connection passes between threads. Elsewhere (where
//! `SO_REUSEPORT` does not spread connections) one thread accepts and hands
//! each connection to the serving thread with the fewest. With one worker
//! there is no thread of its own: the accepting thread serves (the least
//! CPU on one core).

use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use tokio::net::{TcpListener, TcpSocket, TcpStream};
use tokio::runtime::Handle;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

use super::pinned::Idle;

/// Where client connections are served.
pub(crate) struct Workers {
    workers: Vec<Worker>,
    /// The threads of their own, and what tells each to stop.
    threads: std::sync::Mutex<Vec<(oneshot::Sender<()>, std::thread::JoinHandle<()>)>>,
    /// Where the next search for the least busy starts.
    next: AtomicUsize,
}

/// One serving thread.
pub(crate) struct Worker {
    handle: Handle,
    /// Upstream connections left by this worker's closed client
    /// connections, for its next ones (never another thread's: a request
    /// sent on one would wake the thread that drives it).
    idle: Arc<Idle>,
    /// Client connections it is serving.
    open: Arc<AtomicUsize>,
}

/// The name of the serving threads (at most 15 bytes: Linux's limit).
pub(crate) const THREAD_NAME: &str = "corsgate-worker";

impl Workers {
    /// `n` serving threads; for 1, the calling runtime itself (call from
    /// within it).
    pub(crate) fn start(n: usize) -> std::io::Result<Self> {
        if n <= 1 {
            return Ok(Self {
                workers: vec![Worker::new(Handle::current(), 1)],
                threads: std::sync::Mutex::new(Vec::new()),
                next: AtomicUsize::new(0),
            });
        }
        let mut workers = Vec::with_capacity(n);
        let mut threads = Vec::with_capacity(n);
        for _ in 0..n {
            let (tx, rx) = std::sync::mpsc::channel();
            let (stop, stopped) = oneshot::channel::<()>();
            let thread = std::thread::Builder::new()
                .name(THREAD_NAME.to_owned())
                .spawn(move || {
                    let runtime = tokio::runtime::Builder::new_current_thread()
                        .enable_all()
                        .build();
                    match runtime {
                        Ok(runtime) => {
                            let _ = tx.send(Ok(runtime.handle().clone()));
                            // Runs what is spawned onto it until told to stop
                            // (the proxy has drained its connections by then).
                            let _ = runtime.block_on(stopped);
                            // Without waiting for a blocking task (a DNS
                            // lookup) to finish.
                            runtime.shutdown_background();
                        }
                        Err(e) => {
                            let _ = tx.send(Err(e));
                        }
                    }
                });
            let handle = thread.and_then(|thread| {
                threads.push((stop, thread));
                rx.recv().map_err(|_| {
                    std::io::Error::other("a serving thread stopped before its runtime started")
                })?
            });
            match handle {
                Ok(handle) => workers.push(Worker::new(handle, n)),
                Err(e) => {
                    stop_all(threads);
                    return Err(e);
                }
            }
        }
        Ok(Self {
            workers,
            threads: std::sync::Mutex::new(threads),
            next: AtomicUsize::new(0),
        })
    }

    /// Stops the threads of their own, dropping what still runs on them
    /// (call once the connections are drained, or their time is up).
    pub(crate) fn stop(&self) {
        let threads = match self.threads.lock() {
            Ok(mut threads) => std::mem::take(&mut *threads),
            Err(poisoned) => std::mem::take(&mut *poisoned.into_inner()),
        };
        stop_all(threads);
    }

    /// How many serve.
    pub(crate) fn len(&self) -> usize {
        self.workers.len()
    }

    /// Each worker.
    pub(crate) fn iter(&self) -> impl Iterator<Item = &Worker> {
        self.workers.iter()
    }

    /// The worker with the fewest client connections, which is to serve
    /// `stream`. Ties go round: short connections, each closed before the
    /// next, still spread over every thread.
    pub(crate) fn assign(&self, stream: TcpStream) -> std::io::Result<(&Worker, Handoff)> {
        let n = self.workers.len();
        let first = self.next.fetch_add(1, Ordering::Relaxed) % n;
        let worker = (0..n)
            .map(|i| &self.workers[(first + i) % n])
            .min_by_key(|w| w.open.load(Ordering::Relaxed))
            .unwrap_or_else(|| unreachable!("Workers::start makes at least one"));
        // Out of this thread's event loop, into the worker's (a socket is
        // registered with one runtime's reactor).
        Ok((worker, Handoff(stream.into_std()?)))
    }
}

impl Worker {
    fn new(handle: Handle, threads: usize) -> Self {
        Self {
            handle,
            idle: Arc::new(Idle::new(threads)),
            open: Arc::new(AtomicUsize::new(0)),
        }
    }

    /// Its pool of idle upstream connections.
    pub(crate) fn idle(&self) -> &Arc<Idle> {
        &self.idle
    }

    /// `listener`, registered with this worker's event loop (from any
    /// thread).
    pub(crate) fn adopt(&self, listener: std::net::TcpListener) -> std::io::Result<TcpListener> {
        let _in_this_runtime = self.handle.enter();
        TcpListener::from_std(listener)
    }

    /// Runs `task` on this worker's thread.
    pub(crate) fn run<F>(&self, task: F) -> JoinHandle<()>
    where
        F: Future<Output = ()> + Send + 'static,
    {
        self.handle.spawn(task)
    }

    /// Serves a client connection: `serve` runs on this worker's thread,
    /// counted as open until it ends.
    pub(crate) fn spawn<F>(&self, serve: F)
    where
        F: Future<Output = ()> + Send + 'static,
    {
        let open = Arc::clone(&self.open);
        open.fetch_add(1, Ordering::Relaxed);
        self.handle.spawn(async move {
            let _open = Open(open);
            serve.await;
        });
    }
}

/// Tells each thread to stop, then waits for each.
fn stop_all(threads: Vec<(oneshot::Sender<()>, std::thread::JoinHandle<()>)>) {
    let (stops, joins): (Vec<_>, Vec<_>) = threads.into_iter().unzip();
    for stop in stops {
        let _ = stop.send(());
    }
    for thread in joins {
        let _ = thread.join();
    }
}

/// The listening sockets for `threads` serving threads, bound to `addr`:
/// one for each on Linux (`SO_REUSEPORT`), else one in all. Each has a deep
/// accept queue (the kernel caps it at `somaxconn`): a burst of connections
/// waits there instead of being refused. Call from within a runtime.
pub(crate) fn listen(
    addr: SocketAddr,
    threads: usize,
) -> std::io::Result<Vec<std::net::TcpListener>> {
    if threads <= 1 || !cfg!(target_os = "linux") {
        return Ok(vec![bind(addr, false)?]);
    }
    // A socket without `SO_REUSEPORT` cannot share the port: bound first, it
    // fails as a lone listener would when another process (another proxy
    // started on the same port, say) listens there, where the group would
    // quietly have joined that process's. It also picks the port for `:0`.
    let probe = unshared(addr)?;
    let addr = probe.local_addr()?;
    drop(probe);
    (0..threads).map(|_| bind(addr, true)).collect()
}

/// A socket bound to `addr`, not listening.
fn unshared(addr: SocketAddr) -> std::io::Result<TcpSocket> {
    let socket = socket(addr)?;
    socket.bind(addr)?;
    Ok(socket)
}

/// A listener on `addr`, in a `SO_REUSEPORT` group if `shared`.
fn bind(addr: SocketAddr, shared: bool) -> std::io::Result<std::net::TcpListener> {
    let socket = socket(addr)?;
    #[cfg(target_os = "linux")]
    socket.set_reuseport(shared)?;
    #[cfg(not(target_os = "linux"))]
    let _ = shared;
    socket.bind(addr)?;
    socket.listen(4096)?.into_std()
}

fn socket(addr: SocketAddr) -> std::io::Result<TcpSocket> {
    let socket = if addr.is_ipv4() {
        TcpSocket::new_v4()?
    } else {
        TcpSocket::new_v6()?
    };
    // Restarted at once, the proxy binds again despite its old
    // connections' `TIME_WAIT`.
    #[cfg(unix)]
    socket.set_reuseaddr(true)?;
    Ok(socket)
}

/// Counts a connection open until dropped (a task cancelled at shutdown
/// included).
struct Open(Arc<AtomicUsize>);

impl Drop for Open {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::Relaxed);
    }
}

/// An accepted socket on its way to its worker, out of the accepting
/// thread's event loop. (Only threads of their own are handed sockets: one
/// thread accepts and serves on its own listener.)
pub(crate) struct Handoff(std::net::TcpStream);

impl Handoff {
    /// The socket, registered with the runtime this is called in (the
    /// worker's).
    pub(crate) fn arrive(self) -> std::io::Result<TcpStream> {
        TcpStream::from_std(self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// On Linux, one listener per thread on one port, the kernel spreading
    /// connections over all of them; and the port is not shared with
    /// another process's listener (a second proxy started on it is told
    /// the address is in use, as with one thread).
    #[cfg(target_os = "linux")]
    #[test]
    fn each_thread_listens_on_the_same_port_which_nothing_else_can_join() {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        runtime.block_on(async {
            let listeners = listen("127.0.0.1:0".parse().unwrap(), 3).unwrap();
            assert_eq!(listeners.len(), 3);
            let addr = listeners[0].local_addr().unwrap();
            assert_ne!(addr.port(), 0);
            for l in &listeners {
                assert_eq!(l.local_addr().unwrap(), addr);
            }
            for threads in [1, 2] {
                let again = listen(addr, threads).map(|l| l.len());
                assert_eq!(
                    again.map_err(|e| e.kind()),
                    Err(std::io::ErrorKind::AddrInUse),
                    "{threads} thread(s)"
                );
            }
            let clients: Vec<_> = (0..40)
                .map(|_| std::net::TcpStream::connect(addr).unwrap())
                .collect();
            let mut accepted = Vec::new();
            for l in &listeners {
                l.set_nonblocking(true).unwrap();
                let mut n = 0;
                while l.accept().is_ok() {
                    n += 1;
                }
                accepted.push(n);
            }
            assert_eq!(
                accepted.iter().sum::<usize>(),
                clients.len(),
                "{accepted:?}"
            );
            assert!(accepted.iter().all(|&n| n > 0), "{accepted:?}");
        });
    }

    /// Connections go to the worker with the fewest, and arrive on its
    /// thread as sockets that still carry their bytes.
    #[test]
    fn connections_go_to_the_least_busy_thread_and_arrive_there() {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        runtime.block_on(async {
            let workers = Workers::start(2).unwrap();
            assert_eq!(workers.len(), 2);
            let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
            let addr = listener.local_addr().unwrap();
            let mut threads = Vec::new();
            let mut clients = Vec::new();
            let (dropped, drops) = std::sync::mpsc::channel();
            for _ in 0..4 {
                let client = std::net::TcpStream::connect(addr).unwrap();
                let (stream, _) = listener.accept().await.unwrap();
                let (worker, handoff) = workers.assign(stream).unwrap();
                let (tx, rx) = tokio::sync::oneshot::channel();
                let dropped = Dropped(dropped.clone());
                worker.spawn(async move {
                    let _dropped = dropped;
                    use tokio::io::AsyncWriteExt;
                    let mut stream = handoff.arrive().unwrap();
                    stream.write_all(b"hi").await.unwrap();
                    let name = std::thread::current().name().map(str::to_owned);
                    let _ = tx.send((name, std::thread::current().id()));
                    // Held open: the next connection goes elsewhere.
                    std::future::pending::<()>().await;
                });
                threads.push(rx.await.unwrap());
                clients.push(client);
            }
            for (name, _) in &threads {
                assert_eq!(name.as_deref(), Some(THREAD_NAME));
            }
            // Two threads, two connections each, alternating.
            assert_ne!(threads[0].1, threads[1].1);
            assert_eq!(threads[0].1, threads[2].1);
            assert_eq!(threads[1].1, threads[3].1);
            assert_ne!(threads[0].1, std::thread::current().id());
            for mut client in clients {
                use std::io::Read;
                let mut got = [0; 2];
                client.read_exact(&mut got).unwrap();
                assert_eq!(&got, b"hi");
            }
            // Stopping drops what still runs on the threads, and ends them.
            workers.stop();
            for _ in 0..4 {
                drops
                    .recv_timeout(std::time::Duration::from_secs(5))
                    .unwrap();
            }
        });
    }

    /// Tells the test it was dropped.
    struct Dropped(std::sync::mpsc::Sender<()>);

    impl Drop for Dropped {
        fn drop(&mut self) {
            let _ = self.0.send(());
        }
    }
}
