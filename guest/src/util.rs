//! socket.py's pure helpers: address text to bytes and back, byte order. No host calls.
#![forbid(unsafe_code)]

use std::net::{Ipv4Addr, Ipv6Addr};

use crate::{AddressFamily, Error, Result};

/// `socket.inet_aton(text)`: an IPv4 address in any form C's `inet_aton` takes (`1.2.3.4`,
/// `127.1`, `0x7f.1`, `017.0.0.1`) as 4 bytes.
///
/// # Errors
/// [`Error::Os`] "illegal IP address string passed to inet_aton".
pub fn inet_aton(text: &str) -> Result<[u8; 4]> {
    let illegal = || Error::Os {
        errno: crate::Errno::Other,
        message: "illegal IP address string passed to inet_aton".into(),
    };
    let parts: Vec<&str> = text.split('.').collect();
    if parts.is_empty() || parts.len() > 4 {
        return Err(illegal());
    }
    let mut nums = Vec::with_capacity(4);
    for p in &parts {
        let (digits, radix) = if let Some(h) = p.strip_prefix("0x").or_else(|| p.strip_prefix("0X"))
        {
            (h, 16)
        } else if p.len() > 1 && p.starts_with('0') {
            (&p[1..], 8)
        } else {
            (*p, 10)
        };
        if digits.is_empty() && radix != 16 {
            return Err(illegal());
        }
        // Digits only: from_str_radix would also take a sign, which inet_aton does not.
        if !digits.chars().all(|c| c.is_digit(radix)) {
            return Err(illegal());
        }
        let n = if digits.is_empty() {
            0
        } else {
            u32::from_str_radix(digits, radix).map_err(|_| illegal())?
        };
        nums.push(n);
    }
    // The last part fills the bytes the others left: a.b.c.d, a.b.(16 bits), a.(24 bits), (32).
    let last = nums.pop().ok_or_else(illegal)?;
    if nums.iter().any(|&n| n > 0xff) {
        return Err(illegal());
    }
    let rest_bits = 8 * (4 - nums.len() as u32);
    if rest_bits < 32 && last >> rest_bits != 0 {
        return Err(illegal());
    }
    let mut value = last;
    for (i, n) in nums.iter().enumerate() {
        value |= n << (24 - 8 * i as u32);
    }
    Ok(value.to_be_bytes())
}

/// `socket.inet_ntoa(packed)`: 4 bytes as dotted text.
///
/// # Errors
/// [`Error::Value`] unless `packed` is 4 bytes.
pub fn inet_ntoa(packed: &[u8]) -> Result<String> {
    let b: [u8; 4] = packed
        .try_into()
        .map_err(|_| Error::value("packed IP wrong length for inet_ntoa"))?;
    Ok(Ipv4Addr::from(b).to_string())
}

/// `socket.inet_pton(family, text)`: strict text to bytes (4 for AF_INET, 16 for AF_INET6).
///
/// # Errors
/// [`Error::Os`] "illegal IP address string passed to inet_pton"; `address-family-not-
/// supported` for another family.
pub fn inet_pton(family: AddressFamily, text: &str) -> Result<Vec<u8>> {
    let illegal = || Error::Os {
        errno: crate::Errno::Other,
        message: "illegal IP address string passed to inet_pton".into(),
    };
    match family {
        AddressFamily::Inet => Ok(text
            .parse::<Ipv4Addr>()
            .map_err(|_| illegal())?
            .octets()
            .to_vec()),
        AddressFamily::Inet6 => Ok(text
            .parse::<Ipv6Addr>()
            .map_err(|_| illegal())?
            .octets()
            .to_vec()),
        _ => Err(Error::Os {
            errno: crate::Errno::AddressFamilyNotSupported,
            message: "Address family not supported by protocol".into(),
        }),
    }
}

/// `socket.inet_ntop(family, packed)`: bytes to text.
///
/// # Errors
/// [`Error::Value`] "invalid length of packed IP address string"; `address-family-not-
/// supported` for another family.
pub fn inet_ntop(family: AddressFamily, packed: &[u8]) -> Result<String> {
    let bad_len = || Error::value("invalid length of packed IP address string");
    match family {
        AddressFamily::Inet => {
            let b: [u8; 4] = packed.try_into().map_err(|_| bad_len())?;
            Ok(Ipv4Addr::from(b).to_string())
        }
        AddressFamily::Inet6 => {
            let b: [u8; 16] = packed.try_into().map_err(|_| bad_len())?;
            Ok(Ipv6Addr::from(b).to_string())
        }
        _ => Err(Error::Os {
            errno: crate::Errno::AddressFamilyNotSupported,
            message: "Address family not supported by protocol".into(),
        }),
    }
}

/// `socket.htons(x)`: host to network (big-endian) byte order, 16 bits.
pub fn htons(x: u16) -> u16 {
    x.to_be()
}

/// `socket.ntohs(x)`.
pub fn ntohs(x: u16) -> u16 {
    u16::from_be(x)
}

/// `socket.htonl(x)`: host to network byte order, 32 bits.
pub fn htonl(x: u32) -> u32 {
    x.to_be()
}

/// `socket.ntohl(x)`.
pub fn ntohl(x: u32) -> u32 {
    u32::from_be(x)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn inet_aton_takes_c_forms() {
        assert_eq!(inet_aton("1.2.3.4").unwrap(), [1, 2, 3, 4]);
        assert_eq!(inet_aton("127.1").unwrap(), [127, 0, 0, 1]);
        assert_eq!(inet_aton("0x7f.1").unwrap(), [127, 0, 0, 1]);
        assert_eq!(inet_aton("017.0.0.1").unwrap(), [15, 0, 0, 1]);
        assert_eq!(inet_aton("1.2.65535").unwrap(), [1, 2, 255, 255]);
        assert_eq!(inet_aton("4294967295").unwrap(), [255; 4]);
        for bad in [
            "",
            "1.2.3.4.5",
            "256.1.1.1",
            "1.2.65536",
            "a.b.c.d",
            "1..2",
            "08.1.1.1",
            "+1.2.3.4",
            "0x+1",
        ] {
            assert!(inet_aton(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn pton_ntop_round_trip() {
        let v6 = inet_pton(AddressFamily::Inet6, "2001:db8::1").unwrap();
        assert_eq!(inet_ntop(AddressFamily::Inet6, &v6).unwrap(), "2001:db8::1");
        assert!(inet_pton(AddressFamily::Inet, "127.1").is_err());
        assert!(inet_ntop(AddressFamily::Inet, &[1, 2, 3]).is_err());
        assert_eq!(htons(0x1234), 0x1234u16.to_be());
        assert_eq!(ntohl(htonl(0xdead_beef)), 0xdead_beef);
    }
}
