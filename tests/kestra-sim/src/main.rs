//! `kestra-sim --kestra-version 1.3|2.0 --port N [--exec-delay-ms N]`
//! Prints `listening on http://127.0.0.1:PORT` on stdout once it accepts connections.

use std::io::Write;
use std::time::Duration;

use kestra_sim::{KestraVersion, Options, Simulator};

fn usage() -> ! {
    eprintln!("usage: kestra-sim --kestra-version 1.3|2.0 [--port N] [--exec-delay-ms N]");
    std::process::exit(2)
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    let mut version: Option<KestraVersion> = None;
    let mut port: u16 = 0;
    let mut delay_ms: u64 = 50;
    let mut args = std::env::args().skip(1);
    while let Some(a) = args.next() {
        let (flag, inline) = match a.split_once('=') {
            Some((f, v)) => (f.to_string(), Some(v.to_string())),
            None => (a.clone(), None),
        };
        let mut value = || inline.clone().or_else(|| args.next()).unwrap_or_else(|| usage());
        match flag.as_str() {
            "--kestra-version" => match value().parse() {
                Ok(v) => version = Some(v),
                Err(e) => {
                    eprintln!("{e}");
                    std::process::exit(2)
                }
            },
            "--port" => port = value().parse().unwrap_or_else(|_| usage()),
            "--exec-delay-ms" => delay_ms = value().parse().unwrap_or_else(|_| usage()),
            "-h" | "--help" => usage(),
            _ => usage(),
        }
    }
    let Some(version) = version else { usage() };
    let opts = Options {
        task_delay: Duration::from_millis(delay_ms),
        manual_clock: None,
    };
    let sim = match Simulator::spawn_with(version, port, opts).await {
        Ok(s) => s,
        Err(e) => {
            eprintln!("kestra-sim: cannot listen on port {port}: {e}");
            std::process::exit(1)
        }
    };
    println!("listening on {}", sim.base_url());
    let _ = std::io::stdout().flush();
    let mut term = match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
        Ok(s) => s,
        Err(e) => {
            eprintln!("kestra-sim: {e}");
            std::process::exit(1)
        }
    };
    tokio::select! {
        _ = tokio::signal::ctrl_c() => {}
        _ = term.recv() => {}
    }
    sim.stop().await;
}
