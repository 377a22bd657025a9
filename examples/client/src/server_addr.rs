//! Which address the client connects to: what the user typed (`localhost`,
//! `localhost:7878`, `127.0.0.1`, `[::1]:7878`) resolved once, before the
//! loop starts, so every connection of a run goes to the same place.

use std::io;
use std::net::{IpAddr, SocketAddr, ToSocketAddrs};

/// The port the echo server listens on by default, used when none is given.
pub(crate) const DEFAULT_PORT: u16 = 7878;

/// Resolves `HOST:PORT`, `HOST` (port [`DEFAULT_PORT`]), an IP address with
/// or without a port, or `[IPv6]:PORT`. An IP address is taken as it is;
/// a host name is looked up with the system resolver (`getaddrinfo`, which
/// reads `/etc/hosts` first). Of several results, the first IPv4 one is
/// taken (see [`prefer_ipv4`]).
///
/// # Errors
///
/// `InvalidInput` for a port that is not a number from 0 to 65535, and
/// whatever the resolver says for a name it cannot resolve; the message
/// names what was typed.
pub(crate) fn resolve(spec: &str) -> io::Result<SocketAddr> {
    let found = lookup(spec).map_err(|e| io::Error::new(e.kind(), format!("cannot resolve {spec:?}: {e}")))?;
    prefer_ipv4(&found)
        .ok_or_else(|| io::Error::new(io::ErrorKind::NotFound, format!("cannot resolve {spec:?}: no address found")))
}

fn lookup(spec: &str) -> io::Result<Vec<SocketAddr>> {
    if let Ok(addr) = spec.parse::<SocketAddr>() {
        return Ok(vec![addr]);
    }
    // A bare IP address, IPv6 with or without brackets: `::1` holds colons
    // but no port.
    let unbracketed = spec.strip_prefix('[').and_then(|rest| rest.strip_suffix(']')).unwrap_or(spec);
    if let Ok(ip) = unbracketed.parse::<IpAddr>() {
        return Ok(vec![SocketAddr::new(ip, DEFAULT_PORT)]);
    }
    if spec.contains(':') {
        // `HOST:PORT`: std splits at the last colon and checks the port
        // before asking the resolver anything.
        Ok(spec.to_socket_addrs()?.collect())
    } else {
        Ok((spec, DEFAULT_PORT).to_socket_addrs()?.collect())
    }
}

/// The first IPv4 address, else the first of any kind. The servers here
/// listen on 127.0.0.1 by default, and a resolver may list `::1` first for
/// `localhost`; a connect there would be refused while the IPv4 address
/// would answer.
fn prefer_ipv4(found: &[SocketAddr]) -> Option<SocketAddr> {
    found.iter().find(|addr| addr.is_ipv4()).or_else(|| found.first()).copied()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn addr(s: &str) -> SocketAddr {
        s.parse().unwrap()
    }

    #[test]
    fn ip_addresses_need_no_lookup_and_default_to_port_7878() {
        assert_eq!(resolve("127.0.0.1:9").unwrap(), addr("127.0.0.1:9"));
        assert_eq!(resolve("127.0.0.1").unwrap(), addr("127.0.0.1:7878"));
        assert_eq!(resolve("[::1]:9").unwrap(), addr("[::1]:9"));
        assert_eq!(resolve("[::1]").unwrap(), addr("[::1]:7878"));
        assert_eq!(resolve("::1").unwrap(), addr("[::1]:7878"));
    }

    #[test]
    fn localhost_resolves_to_loopback_with_or_without_a_port() {
        let bare = resolve("localhost").unwrap();
        assert!(bare.ip().is_loopback(), "localhost resolved to {bare}");
        assert_eq!(bare.port(), DEFAULT_PORT, "a bare host gets the default port");
        assert_eq!(resolve("localhost:9").unwrap().port(), 9);
    }

    #[test]
    fn a_bad_port_is_an_error_that_names_the_input() {
        let err = resolve("localhost:http-ish").unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::InvalidInput);
        assert!(err.to_string().starts_with("cannot resolve \"localhost:http-ish\": "), "{err}");
        assert!(resolve("127.0.0.1:70000").is_err(), "a port past 65535");
    }

    #[test]
    fn ipv4_is_preferred_when_both_families_come_back() {
        let both = [addr("[::1]:7878"), addr("127.0.0.1:7878")];
        assert_eq!(prefer_ipv4(&both), Some(addr("127.0.0.1:7878")));
        assert_eq!(prefer_ipv4(&both[..1]), Some(addr("[::1]:7878")), "IPv6 when it is all there is");
        assert_eq!(prefer_ipv4(&[]), None);
    }
}
