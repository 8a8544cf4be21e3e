//! Network interface names and indexes (`if_nameindex` and friends): libc calls, as neither
//! socket2 nor rustix lists interfaces.

use std::ffi::{CStr, CString};
use std::io;

/// Every interface as (index, name).
pub(crate) fn nameindex() -> io::Result<Vec<(u32, String)>> {
    // SAFETY: if_nameindex returns an array ended by a zero entry, or null on failure.
    let head = unsafe { libc::if_nameindex() };
    if head.is_null() {
        return Err(io::Error::last_os_error());
    }
    let mut out = Vec::new();
    let mut entry = head;
    loop {
        // SAFETY: `entry` is within the array, which ends with a zero entry we stop at;
        // each name is a NUL-terminated string owned by the array until it is freed below.
        let (index, name) = unsafe { ((*entry).if_index, (*entry).if_name) };
        if index == 0 || name.is_null() {
            break;
        }
        // SAFETY: as above; the string is copied before the array is freed.
        let name = unsafe { CStr::from_ptr(name) }
            .to_string_lossy()
            .into_owned();
        out.push((index, name));
        // SAFETY: the array has a further entry (at least the terminating one).
        entry = unsafe { entry.add(1) };
    }
    // SAFETY: `head` came from if_nameindex and is freed once.
    unsafe { libc::if_freenameindex(head) };
    Ok(out)
}

/// The index of interface `name`, if there is one.
pub(crate) fn nametoindex(name: &str) -> Option<u32> {
    let c = CString::new(name).ok()?;
    // SAFETY: `c` is a NUL-terminated string that outlives the call.
    let index = unsafe { libc::if_nametoindex(c.as_ptr()) };
    (index != 0).then_some(index)
}

/// The name of interface `index`, if there is one.
pub(crate) fn indextoname(index: u32) -> Option<String> {
    let mut buf = [0 as libc::c_char; libc::IF_NAMESIZE];
    // SAFETY: `buf` has the IF_NAMESIZE bytes the call may write.
    let name = unsafe { libc::if_indextoname(index, buf.as_mut_ptr()) };
    if name.is_null() {
        return None;
    }
    // SAFETY: on success the call wrote a NUL-terminated name into `buf`.
    Some(
        unsafe { CStr::from_ptr(buf.as_ptr()) }
            .to_string_lossy()
            .into_owned(),
    )
}
