//! Work on many specs (reading files, parsing, compiling) spread over a few threads, results
//! in order: start-up with thousands of specs is bound by it.

/// Below this many items a second thread costs more than it saves.
pub const PARALLEL_FROM: usize = 200;
/// At most this many threads (the machines this serves have few cores to spare).
const THREADS: usize = 4;

/// `work` done on each of `specs`, results in order, on two threads when there are enough
/// specs to pay for it.
pub fn in_parallel<S: Sync, T: Send>(specs: &[S], work: impl Fn(&S) -> T + Sync) -> Vec<T> {
    let work = &work;
    let threads = std::thread::available_parallelism()
        .map_or(1, |n| n.get())
        .min(THREADS);
    if specs.len() < PARALLEL_FROM || threads < 2 {
        return specs.iter().map(work).collect();
    }
    let chunk = specs.len().div_ceil(threads);
    std::thread::scope(|scope| {
        let handles: Vec<_> = specs
            .chunks(chunk)
            .map(|part| scope.spawn(move || part.iter().map(work).collect::<Vec<_>>()))
            .collect();
        handles
            .into_iter()
            .flat_map(|h| match h.join() {
                Ok(parsed) => parsed,
                // A parser panic is a bug; rethrown as it was.
                Err(panic) => std::panic::resume_unwind(panic),
            })
            .collect()
    })
}
