//! Asks the kernel's fair scheduler (EEVDF, Linux 6.12+) for a short time slice for the
//! calling thread. A shorter slice does not buy more CPU; it lets the thread preempt a busy
//! neighbour as soon as it wakes, instead of waiting out that neighbour's slice (1.4 ms by
//! default here). The control thread and the workers wake for a route change; on a loaded
//! core that wait is most of the change's latency. Needs no privilege; older kernels ignore
//! the value or refuse it, and then nothing changes. The cost: a worker that shares its core
//! with other busy processes switches more often (`[scheduler] worker_slice = "0"` opts out).

use std::time::Duration;

/// `struct sched_attr` as of Linux 4.19 (SCHED_ATTR_SIZE_VER1).
#[repr(C)]
struct SchedAttr {
    size: u32,
    policy: u32,
    flags: u64,
    nice: i32,
    priority: u32,
    runtime: u64,
    deadline: u64,
    period: u64,
    util_min: u32,
    util_max: u32,
}

/// `request_slice` unless `slice` is zero (the kernel's default); a refusal is logged.
pub fn request_slice_or_log(slice: Duration, thread: &str) {
    if !slice.is_zero() && !request_slice(slice) {
        tracing::info!(target: "vane::sched", thread, "the kernel kept its default time slice (it needs Linux 6.12+ for {slice:?})");
    }
}

/// Requests `slice` for this thread under SCHED_OTHER at its current nice value; false if
/// the kernel refused.
pub fn request_slice(slice: Duration) -> bool {
    // SAFETY: getpriority has no memory effects.
    let nice = unsafe { libc::getpriority(libc::PRIO_PROCESS, 0) };
    let attr = SchedAttr {
        size: std::mem::size_of::<SchedAttr>() as u32,
        policy: libc::SCHED_OTHER as u32,
        flags: 0,
        nice,
        priority: 0,
        runtime: slice.as_nanos() as u64,
        deadline: 0,
        period: 0,
        util_min: 0,
        util_max: 0,
    };
    // SAFETY: `attr` is a valid sched_attr of the size it declares; pid 0 is this thread.
    let r = unsafe { libc::syscall(libc::SYS_sched_setattr, 0, &attr as *const SchedAttr, 0) };
    r == 0
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The slice this thread runs with, as the kernel reports it.
    fn current_slice() -> u64 {
        let mut attr: SchedAttr = unsafe { std::mem::zeroed() };
        let size = std::mem::size_of::<SchedAttr>() as u32;
        // SAFETY: `attr` is writable for `size` bytes.
        let r = unsafe {
            libc::syscall(
                libc::SYS_sched_getattr,
                0,
                &mut attr as *mut SchedAttr,
                size,
                0,
            )
        };
        assert_eq!(r, 0, "sched_getattr: {}", std::io::Error::last_os_error());
        attr.runtime
    }

    #[test]
    fn the_kernel_reports_the_slice_it_accepted() {
        std::thread::spawn(|| {
            let want = Duration::from_micros(250);
            if request_slice(want) {
                assert_eq!(current_slice(), want.as_nanos() as u64);
            } else {
                assert_ne!(current_slice(), want.as_nanos() as u64);
            }
        })
        .join()
        .unwrap();
    }
}
