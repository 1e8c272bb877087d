//! An actix-web app on an ephemeral loopback port, on a thread of its own, for tests and
//! benchmarks that talk to a real server over TCP (feature `actix`).

use std::{net::SocketAddr, sync::mpsc, thread, time::Duration};

use actix_web::{
    App, Error, HttpServer,
    body::MessageBody,
    dev::{ServerHandle, ServiceFactory, ServiceRequest, ServiceResponse},
};

/// Serves the app that `app` builds (once per worker) with `workers` workers on
/// `127.0.0.1:0`, and returns its address and a handle to stop it. The server runs on a new
/// thread with its own actix system, so the caller may block; signals are left to the test.
pub fn serve<F, T, B>(workers: usize, app: F) -> (SocketAddr, ServerHandle)
where
    F: Fn() -> App<T> + Send + Clone + 'static,
    T: ServiceFactory<
            ServiceRequest,
            Config = (),
            Response = ServiceResponse<B>,
            Error = Error,
            InitError = (),
        > + 'static,
    B: MessageBody + 'static,
{
    let (tx, rx) = mpsc::channel();
    thread::spawn(move || {
        actix_web::rt::System::new().block_on(async move {
            let server = HttpServer::new(app)
                .workers(workers)
                .disable_signals()
                .bind(("127.0.0.1", 0))
                .expect("bind a loopback port");
            let addr = server.addrs()[0];
            let server = server.run();
            tx.send((addr, server.handle())).unwrap();
            server.await.expect("the test server failed");
        });
    });
    rx.recv().expect("the server thread died before listening")
}

/// Longest [`stop`] waits: beyond actix-web's own graceful shutdown (30 s by default), so a
/// server that stops at all is waited for.
const STOP_TIMEOUT: Duration = Duration::from_secs(40);

/// Stops a server started by [`serve`] and waits until it has, from outside any actix system;
/// at most [`STOP_TIMEOUT`]: a test's teardown never hangs on it (the deployments test's did
/// once in many runs, its thread waiting in here for 13 minutes), the server being left to the
/// process's end instead.
pub fn stop(server: ServerHandle) {
    let stopped = actix_web::rt::System::new()
        .block_on(async { actix_web::rt::time::timeout(STOP_TIMEOUT, server.stop(true)).await });
    if stopped.is_err() {
        eprintln!("a test server did not stop within {STOP_TIMEOUT:?}; left to the process's end");
    }
}
